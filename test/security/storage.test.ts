/**
 * Storage confinement end to end: the reported attack (read /etc/shadow and the admin's
 * credentials, write /tmp/x/owned.txt) is a 400 naming each field, so are `..` escapes and
 * another project's root; a link planted inside the root after submission is refused at copy
 * time (the job errors, nothing is read or written); an allowed file copies in and out.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { job, startTestService, waitForBatch, type TestService } from '../support/service';

let s: TestService;
let root: string;
let otherRoot: string;
let credentials: string;
const SECRET = `admin-token-${randomBytes(8).toString('hex')}`;
const owned = `/tmp/x-${process.pid}-${randomBytes(3).toString('hex')}`;

beforeAll(async () => {
  s = await startTestService({ name: 'security-storage', executor: 'docker', pools: 'standard:1' });
  root = path.join(s.config.dataDir, 'storage', s.billingProject);
  otherRoot = path.join(s.config.dataDir, 'storage', 'other');
  await s.addUser('bob', { projects: ['other'] });
  mkdirSync(otherRoot, { recursive: true });
  writeFileSync(path.join(otherRoot, 'secret.txt'), 'bob only\n');
  credentials = path.join(s.config.dataDir, 'dev-credentials.json');
  writeFileSync(credentials, JSON.stringify({ token: SECRET }));
  mkdirSync(root, { recursive: true });
  writeFileSync(path.join(root, 'in.txt'), 'allowed input\n');
}, 180_000);
afterAll(async () => {
  await s?.stop();
  rmSync(owned, { recursive: true, force: true });
  rmSync('/tmp/x/owned.txt', { force: true });
});

let tokenSeq = 0;
async function createFast(bunch: Record<string, unknown>[]): Promise<Response> {
  return s.api('/api/v1alpha/batches/create-fast', {
    method: 'POST',
    json: { batch: { billing_project: s.billingProject, n_jobs: bunch.length, token: `sec-${process.pid}-${++tokenSeq}` }, bunch },
  });
}

async function refusedField(res: Response): Promise<string> {
  const body = (await res.json()) as { error: { code: string; field?: string; message: string } };
  expect(res.status, JSON.stringify(body)).toBe(400);
  expect(body.error.code).toBe('invalid_request');
  return body.error.field ?? '';
}

const batchCount = async () => ((await (await s.api('/api/v1alpha/batches?limit=1000')).json()) as { batches: unknown[] }).batches.length;

describe('submission', () => {
  it('refuses the reported attack, naming each field, and creates nothing', async () => {
    const before = await batchCount();
    const shadow = { from: '/etc/shadow', to: '/io/shadow' };
    const creds = { from: credentials, to: '/io/creds.json' };
    const out = { from: '/io/x', to: '/tmp/x/owned.txt' };
    const attack = (files: Record<string, unknown>) => createFast([job(1, ['sh', '-c', 'cat /io/shadow /io/creds.json; echo > /io/x'], files)]);
    expect(await refusedField(await attack({ input_files: [shadow, creds], output_files: [out] }))).toBe('bunch[0].input_files[0].from');
    const allowed = { from: `file://${root}/in.txt`, to: '/io/in.txt' };
    expect(await refusedField(await attack({ input_files: [allowed, creds], output_files: [out] }))).toBe('bunch[0].input_files[1].from');
    expect(await refusedField(await attack({ input_files: [allowed], output_files: [out] }))).toBe('bunch[0].output_files[0].to');
    expect(await refusedField(await attack({ input_files: [allowed], output_files: [{ from: '/io/x', to: `file://${root}/ok.txt` }, out] }))).toBe(
      'bunch[0].output_files[1].to',
    );
    expect(existsSync('/tmp/x/owned.txt')).toBe(false);
    expect(await batchCount()).toBe(before);
  });

  it('refuses .. escapes, other schemes, relative paths and another project\'s root', async () => {
    const input = (from: string) => createFast([job(1, ['true']), job(2, ['true'], { input_files: [{ from, to: '/io/f' }] })]);
    for (const from of [
      `${root}/../../dev-credentials.json`,
      `file://${root}/../other/secret.txt`,
      `${root}/..`,
      `${otherRoot}/secret.txt`,
      `file://${otherRoot}/secret.txt`,
      `file://localhost/etc/passwd`,
      'in.txt',
      'gs://bucket/in.txt',
      'https://acct1.blob.core.windows.net/data/in.txt',
      `file://other-host${root}/in.txt`,
    ]) {
      expect(await refusedField(await input(from)), from).toBe('bunch[1].input_files[0].from');
    }
    const output = (to: string) => createFast([job(1, ['true'], { output_files: [{ from: '/io/f', to }] })]);
    for (const to of [`${root}/../other/planted.txt`, `${otherRoot}/x`, '/tmp/x/owned.txt', 'out.txt']) {
      expect(await refusedField(await output(to)), to).toBe('bunch[0].output_files[0].to');
    }
  });

  it('refuses cloudfuse mounts: there are no buckets in local mode', async () => {
    const res = await createFast([job(1, ['true']), job(2, ['true'], { cloudfuse: [{ bucket: 'b', mount_path: '/mnt/b', read_only: true }] })]);
    expect(await refusedField(res)).toBe('bunch[1].cloudfuse[0].bucket');
  });

  it('refuses the same on the create, jobs/create and commit path', async () => {
    const created = await s.api('/api/v1alpha/batches/create', {
      method: 'POST',
      json: { billing_project: s.billingProject, n_jobs: 1, token: `sec-slow-${process.pid}` },
    });
    expect(created.status).toBe(200);
    const { id, update_id } = (await created.json()) as { id: number; update_id: number };
    const res = await s.api(`/api/v1alpha/batches/${id}/updates/${update_id}/jobs/create`, {
      method: 'POST',
      json: [job(1, ['true'], { input_files: [{ from: '/etc/shadow', to: '/io/shadow' }] })],
    });
    expect(await refusedField(res)).toBe('bunch[0].input_files[0].from');
  });
});

describe('copy time', () => {
  it('copies an allowed file in and out, owned by the storage owner', async () => {
    const res = await createFast([
      job(1, ['sh', '-c', 'cat /io/in.txt > /io/out.txt; echo more >> /io/out.txt'], {
        input_files: [{ from: `file://${root}/in.txt`, to: '/io/in.txt' }],
        output_files: [{ from: '/io/out.txt', to: `file://${root}/results/deep/out.txt` }],
      }),
    ]);
    expect(res.status).toBe(200);
    const { id } = (await res.json()) as { id: number };
    expect((await waitForBatch(s, id)).state).toBe('success');
    const out = path.join(root, 'results', 'deep', 'out.txt');
    expect(readFileSync(out, 'utf8')).toBe('allowed input\nmore\n');
    expect(statSync(out).uid).toBe(s.config.storage.owner.uid);
    expect(statSync(path.dirname(out)).uid).toBe(s.config.storage.owner.uid);
  });

  it('refuses a link planted in the root after submission: the job errors, nothing is read or written', async () => {
    const res = await createFast([
      job(1, ['sleep', '3']),
      job(2, ['sh', '-c', 'cat /io/shadow'], { parent_ids: [1], input_files: [{ from: `${root}/planted/shadow`, to: '/io/shadow' }] }),
      job(3, ['sh', '-c', 'echo owned > /io/owned.txt'], { parent_ids: [1], output_files: [{ from: '/io/owned.txt', to: `${root}/outlink/owned.txt` }] }),
    ]);
    expect(res.status).toBe(200);
    const { id } = (await res.json()) as { id: number };
    // Planted while job 1 runs, after the API checked the paths.
    symlinkSync('/etc', path.join(root, 'planted'));
    mkdirSync(owned);
    symlinkSync(owned, path.join(root, 'outlink'));
    expect(lstatSync(path.join(root, 'planted')).isSymbolicLink()).toBe(true);

    await waitForBatch(s, id);
    const detail = async (j: number) => (await (await s.api(`/api/v1alpha/batches/${id}/jobs/${j}`)).json()) as Record<string, any>;
    const reader = await detail(2);
    expect(reader.state).toBe('Error');
    expect(reader.status.container_statuses.input.error).toMatch(/outside the storage/);
    expect(reader.status.container_statuses.main).toBeUndefined();
    const inputLog = await (await s.api(`/api/v1alpha/batches/${id}/jobs/2/log/input`)).text();
    expect(inputLog).toMatch(/refused/);
    const shadowFirstLine = readFileSync('/etc/shadow', 'utf8').split('\n')[0]!;
    expect(inputLog).not.toContain(shadowFirstLine);
    expect(inputLog).not.toContain('root:');

    const writer = await detail(3);
    expect(writer.state).toBe('Error');
    expect(writer.status.container_statuses.output.error).toMatch(/outside the storage/);
    expect(existsSync(path.join(owned, 'owned.txt'))).toBe(false);
  });
});
