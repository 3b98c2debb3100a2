/**
 * The conformance suite every object store passes: the local directory, GCS (through the
 * real @google-cloud/storage client against test/support/emulators/gcs.ts) and Azure Blob
 * (through the real @azure/storage-blob client against Azurite).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config';
import type { ObjectStore } from '../../storage/object-store';
import { openObjectStore, type ObjectStoreSettings } from '../../storage/stores';
import { startAzurite, type Azurite } from '../support/emulators/azurite';
import { createBucket, startGcsEmulator, type GcsEmulator } from '../support/emulators/gcs';

type Backend = { name: string; start(): Promise<void>; stop(): Promise<void>; settings(prefix: string): ObjectStoreSettings };

const work = mkdtempSync(path.join(tmpdir(), 'hb-objects-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let gcs: GcsEmulator;
let azurite: Azurite;
const backends: Backend[] = [
  {
    name: 'local directory',
    start: async () => {},
    stop: async () => {},
    settings: (prefix) => ({ kind: 'local', dir: path.join(work, 'local', prefix) }),
  },
  {
    name: 'GCS',
    start: async () => {
      gcs = await startGcsEmulator({ dir: path.join(work, 'gcs'), port: 9440 });
      await createBucket(gcs.dir, 'hb-logs');
    },
    stop: () => gcs.stop(),
    settings: (prefix) => ({ kind: 'gcs', bucket: 'hb-logs', prefix, apiEndpoint: gcs.url, projectId: 'test' }),
  },
  {
    name: 'Azure Blob',
    start: async () => {
      azurite = await startAzurite({ dir: path.join(work, 'azurite'), port: 9441 });
      await BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('hb-logs').createIfNotExists();
    },
    stop: () => azurite.stop(),
    settings: (prefix) => ({ kind: 'azure', container: 'hb-logs', prefix, connectionString: azurite.connectionString }),
  },
];

for (const backend of backends) {
  describe(`object store conformance: ${backend.name}`, () => {
    let store: ObjectStore;
    beforeAll(async () => {
      await backend.start();
      store = openObjectStore(backend.settings(''));
    });
    afterAll(() => backend.stop());

    it('round-trips bytes and strings, overwrites, and answers null for unknown keys', async () => {
      await store.put('batch/logs/i/batch/1/1/a/main/log', 'hello');
      expect((await store.get('batch/logs/i/batch/1/1/a/main/log'))?.toString()).toBe('hello');
      await store.put('batch/logs/i/batch/1/1/a/main/log', Buffer.from([0, 1, 2, 255]));
      expect([...((await store.get('batch/logs/i/batch/1/1/a/main/log')) ?? [])]).toEqual([0, 1, 2, 255]);
      expect(await store.get('batch/logs/i/batch/1/1/a/missing')).toBeNull();
      // A "directory" of other keys is no object.
      expect(await store.get('batch/logs/i/batch/1/1/a')).toBeNull();
      await store.put('empty', '');
      expect((await store.get('empty'))?.length).toBe(0);
    });

    it('keeps keys apart that differ only in characters URLs treat specially', async () => {
      const keys = ['k/a b', 'k/a+b', 'k/a%20b', 'k/ü?x#y', 'k/a&b=c'];
      await Promise.all(keys.map((k) => store.put(k, k)));
      for (const k of keys) expect((await store.get(k))?.toString()).toBe(k);
    });

    it('stores a large object whole (resumable upload where the cloud has one)', async () => {
      const big = Buffer.alloc(9 * 1024 * 1024 + 17);
      for (let i = 0; i < big.length; i += 4096) big[i] = i % 251;
      await store.put('big/object', big);
      const got = await store.get('big/object');
      expect(got?.length).toBe(big.length);
      expect(got?.equals(big)).toBe(true);
    });

    it('keeps concurrent writers whole: the last one wins, never a mix', async () => {
      const body = (ch: string) => ch.repeat(256 * 1024);
      await Promise.all(['x', 'y', 'z'].map((ch) => store.put('race/obj', body(ch))));
      expect([body('x'), body('y'), body('z')]).toContain((await store.get('race/obj'))!.toString());
    });

    it('refuses keys that are not relative slash-separated paths', async () => {
      for (const key of ['', '../x', 'a/../../x', '/abs', 'a//b', 'a/./b', 'a\0b']) {
        await expect(store.put(key, 'x')).rejects.toThrow(/invalid object key/);
        await expect(store.get(key)).rejects.toThrow(/invalid object key/);
      }
    });

    it('keeps deployments with different prefixes apart', async () => {
      const a = openObjectStore(backend.settings('deploy-a/'));
      const b = openObjectStore(backend.settings('deploy-b/'));
      await a.put('same/key', 'from a');
      await b.put('same/key', 'from b');
      expect((await a.get('same/key'))?.toString()).toBe('from a');
      expect((await b.get('same/key'))?.toString()).toBe('from b');
      expect(await store.get('same/key')).toBeNull();
    });

    it('serves what was written after the store process restarts', async () => {
      await store.put('durable/key', 'still here');
      await backend.stop();
      await backend.start();
      const again = openObjectStore(backend.settings(''));
      expect((await again.get('durable/key'))?.toString()).toBe('still here');
    });
  });
}

describe('object store config', () => {
  it('builds each kind from the environment and names the missing setting', () => {
    expect(loadConfig({ HB_DATA_DIR: '/d' }).objectStore).toEqual({ kind: 'local', dir: '/d/objects' });
    expect(loadConfig({ HB_OBJECT_STORE: 'gcs', HB_GCS_BUCKET: 'my-bucket', HB_OBJECT_PREFIX: 'prod/' }).objectStore).toEqual({
      kind: 'gcs',
      bucket: 'my-bucket',
      prefix: 'prod/',
    });
    expect(
      loadConfig({ HB_OBJECT_STORE: 'azure', HB_AZURE_STORAGE_CONTAINER: 'logs', HB_AZURE_STORAGE_ACCOUNT_URL: 'https://acct.blob.core.windows.net' }).objectStore,
    ).toEqual({ kind: 'azure', container: 'logs', prefix: '', accountUrl: 'https://acct.blob.core.windows.net' });
    expect(() => loadConfig({ HB_OBJECT_STORE: 'gcs' })).toThrow(/HB_GCS_BUCKET: required/);
    expect(() => loadConfig({ HB_OBJECT_STORE: 'azure', HB_AZURE_STORAGE_CONTAINER: 'logs' })).toThrow(/HB_AZURE_STORAGE_ACCOUNT_URL/);
    expect(() => loadConfig({ HB_OBJECT_STORE: 'gcs', HB_GCS_BUCKET: 'Bad_Bucket!' })).toThrow(/HB_GCS_BUCKET/);
    expect(() => loadConfig({ HB_OBJECT_PREFIX: '../x/' })).toThrow(/HB_OBJECT_PREFIX/);
  });
});
