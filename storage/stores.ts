/** The one object store a process uses, as the deployment's config chooses it. */
import { AzureBlobObjectStore, type AzureStoreSettings } from './azure-object-store';
import { GcsObjectStore, type GcsStoreSettings } from './gcs-object-store';
import { LocalDirObjectStore, type ObjectStore } from './object-store';

export type ObjectStoreSettings =
  | { kind: 'local'; dir: string }
  | ({ kind: 'gcs' } & GcsStoreSettings)
  | ({ kind: 'azure' } & AzureStoreSettings);

export function openObjectStore(settings: ObjectStoreSettings): ObjectStore {
  switch (settings.kind) {
    case 'local':
      return new LocalDirObjectStore(settings.dir);
    case 'gcs':
      return new GcsObjectStore(settings);
    case 'azure':
      return new AzureBlobObjectStore(settings);
  }
}
