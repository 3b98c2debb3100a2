import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config';
import { cloudOf, parseCloudUrl } from '../../storage/cloud-urls';
import { firstStorageViolation } from '../../storage/confine';

describe('parseCloudUrl', () => {
  it('reads gs:// and Azure Blob URLs as Hail writes them', () => {
    expect(parseCloudUrl('gs://my-bucket/tmp/batch/abc/input.txt')).toEqual({ ok: true, object: { cloud: 'gcp', bucket: 'my-bucket', name: 'tmp/batch/abc/input.txt' } });
    expect(parseCloudUrl('https://acct123.blob.core.windows.net/tmp/batch/a%20b.txt')).toEqual({
      ok: true,
      object: { cloud: 'azure', account: 'acct123', container: 'tmp', name: 'batch/a b.txt' },
    });
    // A trailing slash names a directory of objects (Hail copies trees).
    expect(parseCloudUrl('gs://my-bucket/dir/')).toMatchObject({ ok: true });
    expect(parseCloudUrl('/abs/path')).toBeNull();
    expect(parseCloudUrl('file:///abs/path')).toBeNull();
    expect(parseCloudUrl('https://example.org/x')).toBeNull();
    expect(cloudOf('HTTPS://acct.BLOB.core.windows.net/c/x')).toBe('azure');
  });

  it('refuses URLs that do not name exactly one object of one bucket', () => {
    for (const bad of [
      'gs://',
      'gs://my-bucket',
      'gs://my-bucket/',
      'gs://UPPER/x',
      'gs://a/x',
      'gs://my-bucket/../other/x',
      'gs://my-bucket/a//b',
      'gs://my-bucket/a/./b',
      'gs://my-bucket/a\nb',
      `gs://my-bucket/${'x'.repeat(1025)}`,
      'https://acct.blob.core.windows.net/',
      'https://acct.blob.core.windows.net/c',
      'https://acct.blob.core.windows.net/BadContainer/x',
      'https://acct.blob.core.windows.net/tmp/%2e%2e/x',
      'https://acct.blob.core.windows.net/tmp/a/../b',
      'https://acct.blob.core.windows.net/tmp/x?sv=2020&sig=abc',
      'https://acct.blob.core.windows.net:444/tmp/x',
      'https://user:pw@acct.blob.core.windows.net/tmp/x',
      'https://a.blob.core.windows.net/tmp/x',
      'https://acct.blob.core.windows.net/tmp/%zz',
    ]) {
      expect(parseCloudUrl(bad), bad).toMatchObject({ ok: false });
    }
  });
});

describe('cloud URLs at submission', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'hb-cloud-urls-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const job = (from: string, to: string) => ({ input_files: [{ from, to: '/io/in' }], output_files: [{ from: '/io/out', to }] });

  it('accepts a cloud only where the deployment has its storage, naming the field otherwise', async () => {
    const local = loadConfig({ HB_DATA_DIR: dir }).storage;
    const gcs = loadConfig({ HB_DATA_DIR: dir, HB_OBJECT_STORE: 'gcs', HB_GCS_BUCKET: 'hb-logs' }).storage;
    const azure = loadConfig({ HB_DATA_DIR: dir, HB_OBJECT_STORE: 'azure', HB_AZURE_STORAGE_CONTAINER: 'logs', HB_AZURE_STORAGE_CONNECTION_STRING: 'x' }).storage;
    expect(local.clouds).toEqual({ gcp: false, azure: false });
    const gsJob = [job('gs://data-bucket/in.txt', 'gs://data-bucket/out.txt')];
    const azJob = [job('https://acct1.blob.core.windows.net/data/in.txt', 'https://acct1.blob.core.windows.net/data/out.txt')];
    expect(await firstStorageViolation(gsJob, local.rootsFor('p'), local.clouds)).toEqual({
      field: 'bunch[0].input_files[0].from',
      message: expect.stringMatching(/gs:\/\/ URLs need a deployment with GCS storage/),
    });
    expect(await firstStorageViolation(gsJob, gcs.rootsFor('p'), gcs.clouds)).toBeNull();
    expect(await firstStorageViolation(azJob, gcs.rootsFor('p'), gcs.clouds)).toMatchObject({ field: 'bunch[0].input_files[0].from', message: expect.stringMatching(/Azure/) });
    expect(await firstStorageViolation(azJob, azure.rootsFor('p'), azure.clouds)).toBeNull();
    // A malformed cloud URL is refused even where its cloud is configured, naming the exact field.
    expect(await firstStorageViolation([job('gs://data-bucket/in.txt', 'gs://data-bucket/../x')], gcs.rootsFor('p'), gcs.clouds)).toMatchObject({
      field: 'bunch[0].output_files[0].to',
    });
    // Host paths keep their own rule beside cloud URLs.
    expect(await firstStorageViolation([job('gs://data-bucket/in.txt', '/etc/passwd')], gcs.rootsFor('p'), gcs.clouds)).toMatchObject({
      field: 'bunch[0].output_files[0].to',
      message: expect.stringMatching(/outside/),
    });
  });
});
