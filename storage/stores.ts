/** The one object store a process uses, as the deployment's config chooses it. */
import type { AzureStoreSettings } from './azure-object-store';
import type { GcsStoreSettings } from './gcs-object-store';
import { LocalDirObjectStore, type ObjectStore } from './object-store';

/**
 * A store whose module loads on first use: the cloud storage SDKs take seconds to import, and
 * every API and agent process would pay for both clouds otherwise.
 */
function lazyStore(load: () => Promise<ObjectStore>): ObjectStore {
  let store: Promise<ObjectStore> | undefined;
  const ready = () => (store ??= load());
  return {
    put: async (key, data) => (await ready()).put(key, data),
    get: async (key) => (await ready()).get(key),
  };
}

export type ObjectStoreSettings =
  | { kind: 'local'; dir: string }
  | ({ kind: 'gcs' } & GcsStoreSettings)
  | ({ kind: 'azure' } & AzureStoreSettings);

export function openObjectStore(settings: ObjectStoreSettings): ObjectStore {
  switch (settings.kind) {
    case 'local':
      return new LocalDirObjectStore(settings.dir);
    case 'gcs':
      return lazyStore(async () => new (await import('./gcs-object-store')).GcsObjectStore(settings));
    case 'azure':
      return lazyStore(async () => new (await import('./azure-object-store')).AzureBlobObjectStore(settings));
  }
}
