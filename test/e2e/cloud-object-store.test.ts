/**
 * The service with its object store on "GCS" (test/support/emulators/gcs.ts through the real
 * @google-cloud/storage client): agents write logs and status documents into the bucket, the
 * API serves them from there, and a job naming a gs:// URL passes submission, while an Azure
 * URL, whose storage this deployment lacks, is a 400 naming the field.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Storage } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBucket, startGcsEmulator, type GcsEmulator } from '../support/emulators/gcs';
import { job, startTestService, waitForBatch, type TestService } from '../support/service';

let gcs: GcsEmulator;
let s: TestService;
const work = mkdtempSync(path.join(tmpdir(), 'hb-cloud-store-'));
const cloudEnv = (url: string) => ({ HB_OBJECT_STORE: 'gcs', HB_GCS_BUCKET: 'hb-logs', HB_OBJECT_PREFIX: 'e2e/', HB_GCS_API_ENDPOINT: url, HB_GCS_PROJECT: 'test' });

beforeAll(async () => {
  gcs = await startGcsEmulator({ dir: path.join(work, 'gcs'), port: 9446 });
  await createBucket(gcs.dir, 'hb-logs');
  // The local driver's agents inherit this process's environment, as agents on VMs get theirs
  // from the startup script.
  Object.assign(process.env, cloudEnv(gcs.url));
  s = await startTestService({ name: 'cloud-object-store', executor: 'process', pools: 'standard:1', env: cloudEnv(gcs.url) });
}, 180_000);
afterAll(async () => {
  await s?.stop();
  await gcs?.stop();
  rmSync(work, { recursive: true, force: true });
});

async function createFast(bunch: Record<string, unknown>[], token: string): Promise<Response> {
  return s.api('/api/v1alpha/batches/create-fast', {
    method: 'POST',
    json: { batch: { billing_project: s.billingProject, n_jobs: bunch.length, token }, bunch },
  });
}

describe('object store on GCS', () => {
  it('keeps logs and status documents in the bucket and serves them from there', async () => {
    const res = await createFast([job(1, ['sh', '-c', 'echo hello from the bucket'])], `cloud-${process.pid}-1`);
    expect(res.status).toBe(200);
    const { id } = (await res.json()) as { id: number };
    await waitForBatch(s, id);
    const log = (await (await s.api(`/api/v1alpha/batches/${id}/jobs/1/log`)).json()) as Record<string, string>;
    expect(log.main).toContain('hello from the bucket');
    const storage = new Storage({ apiEndpoint: gcs.url, projectId: 'test', useAuthWithCustomEndpoint: false });
    const [files] = await storage.bucket('hb-logs').getFiles({ prefix: 'e2e/batch/logs/' });
    const names = files.map((f) => f.name).filter((n) => n.includes(`/batch/${id}/1/`));
    expect(names.some((n) => n.endsWith('/main/log'))).toBe(true);
    expect(names.some((n) => n.endsWith('/status.json'))).toBe(true);
  });

  it('accepts gs:// URLs and refuses Azure ones, naming the field', async () => {
    const gsJob = job(1, ['true'], { input_files: [{ from: 'gs://data-bucket/in.txt', to: '/io/in.txt' }] });
    const ok = await createFast([gsJob], `cloud-${process.pid}-2`);
    expect(ok.status).toBe(200);
    const azJob = job(1, ['true'], { output_files: [{ from: '/io/out', to: 'https://acct1.blob.core.windows.net/data/out.txt' }] });
    const refused = await createFast([azJob], `cloud-${process.pid}-3`);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { field: string } }).error.field).toBe('bunch[0].output_files[0].to');
  });
});
