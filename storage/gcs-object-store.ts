/**
 * The object store on a Google Cloud Storage bucket, through @google-cloud/storage. Keys live
 * under an optional prefix, so one bucket can hold several deployments. Credentials are the
 * SDK's own (application default credentials); `apiEndpoint` points the client at another
 * host speaking the same JSON API (an emulator), and only then is authentication skipped.
 */
import { Storage, type Bucket } from '@google-cloud/storage';
import { checkObjectKey, type ObjectStore } from './object-store';

export type GcsStoreSettings = {
  bucket: string;
  /** Prepended to every key, e.g. `deployments/prod/` ('' for none). */
  prefix: string;
  /** Another endpoint for the JSON API; unset for storage.googleapis.com. */
  apiEndpoint?: string;
  projectId?: string;
};

/** Objects above this size go up in a resumable upload, which survives a dropped connection. */
const SIMPLE_UPLOAD_MAX = 8 * 1024 * 1024;

export class GcsObjectStore implements ObjectStore {
  private readonly bucket: Bucket;
  private readonly prefix: string;

  constructor(settings: GcsStoreSettings) {
    const storage = new Storage({
      ...(settings.projectId ? { projectId: settings.projectId } : {}),
      ...(settings.apiEndpoint ? { apiEndpoint: settings.apiEndpoint, useAuthWithCustomEndpoint: false } : {}),
      // Every put is a whole object written at once, so retrying a failed one is safe.
      retryOptions: { autoRetry: true, maxRetries: 5, idempotencyStrategy: 1 /* RetryAlways */ },
    });
    this.bucket = storage.bucket(settings.bucket);
    this.prefix = settings.prefix;
  }

  async put(key: string, data: Buffer | string): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    // A GCS object is replaced atomically: readers see the old generation or the new one.
    await this.bucket.file(this.name(key)).save(bytes, {
      resumable: bytes.length > SIMPLE_UPLOAD_MAX,
      contentType: 'application/octet-stream',
      validation: 'crc32c',
    });
  }

  async get(key: string): Promise<Buffer | null> {
    try {
      const [bytes] = await this.bucket.file(this.name(key)).download();
      return bytes;
    } catch (err) {
      if ((err as { code?: unknown }).code === 404) return null;
      throw err;
    }
  }

  private name(key: string): string {
    checkObjectKey(key);
    return `${this.prefix}${key}`;
  }
}
