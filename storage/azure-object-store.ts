/**
 * The object store on an Azure Blob Storage container, through @azure/storage-blob. The
 * service authenticates as its managed identity (DefaultAzureCredential) against the
 * account URL; a connection string is accepted instead for Azurite and shared-key setups.
 */
import { DefaultAzureCredential } from '@azure/identity';
import { BlobServiceClient, RestError, type ContainerClient } from '@azure/storage-blob';
import { checkObjectKey, type ObjectStore } from './object-store';

export type AzureStoreSettings = {
  container: string;
  prefix: string;
} & ({ connectionString: string } | { accountUrl: string });

export class AzureBlobObjectStore implements ObjectStore {
  private readonly container: ContainerClient;
  private readonly prefix: string;

  constructor(settings: AzureStoreSettings) {
    const service =
      'connectionString' in settings
        ? BlobServiceClient.fromConnectionString(settings.connectionString)
        : new BlobServiceClient(settings.accountUrl, new DefaultAzureCredential());
    this.container = service.getContainerClient(settings.container);
    this.prefix = settings.prefix;
  }

  async put(key: string, data: Buffer | string): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    // uploadData commits a block list in one step: readers see the old blob or the new one.
    await this.container.getBlockBlobClient(this.name(key)).uploadData(bytes, {
      blobHTTPHeaders: { blobContentType: 'application/octet-stream' },
    });
  }

  async get(key: string): Promise<Buffer | null> {
    try {
      return await this.container.getBlockBlobClient(this.name(key)).downloadToBuffer();
    } catch (err) {
      if (err instanceof RestError && err.statusCode === 404) return null;
      throw err;
    }
  }

  private name(key: string): string {
    checkObjectKey(key);
    return `${this.prefix}${key}`;
  }
}
