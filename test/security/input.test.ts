/**
 * Hostile input at submission, through the real HTTP API of a running service: one test per
 * attack. Each must be a 400 whose envelope names the field, with nothing stored, rather than
 * a 500 from PostgreSQL, a job no agent can run, or a value that misbehaves later.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { count } from 'drizzle-orm';
import { job, startTestService, type TestService } from '../support/service';
import { batches } from '../../db/schema';

let s: TestService;
let emptyBatchId: number;

beforeAll(async () => {
  // No agents: nothing here should ever run.
  s = await startTestService({ name: 'security_input', executor: 'process', pools: 'standard:0' });
  const res = await s.api('/api/v1alpha/batches/create', {
    method: 'POST',
    json: { billing_project: s.billingProject, n_jobs: 0, token: 'query-target' },
  });
  emptyBatchId = ((await res.json()) as { id: number }).id;
});
afterAll(async () => {
  await s?.stop();
});

type Envelope = { error: { code: string; message: string; field?: string } };

async function expect400(res: Response, field: string, message?: RegExp): Promise<Envelope['error']> {
  const body = (await res.json()) as Envelope;
  expect({ status: res.status, field: body.error?.field }).toEqual({ status: 400, field });
  expect(body.error.code).toBe('invalid_request');
  if (message) expect(body.error.message).toMatch(message);
  return body.error;
}

async function batchCount(): Promise<number> {
  const [row] = await s.database.db.select({ n: count() }).from(batches);
  return row!.n;
}

let seq = 0;
const createFast = (bunch: unknown[], batch: Record<string, unknown> = {}) =>
  s.api('/api/v1alpha/batches/create-fast', {
    method: 'POST',
    json: { batch: { billing_project: s.billingProject, n_jobs: bunch.length, token: `sec-${++seq}`, ...batch }, bunch },
  });

/** A create-fast that must be refused with `field` named and no batch left behind. */
async function refused(bunch: unknown[], field: string, message?: RegExp, batch: Record<string, unknown> = {}) {
  const before = await batchCount();
  const error = await expect400(await createFast(bunch, batch), field, message);
  expect(await batchCount()).toBe(before);
  return error;
}

const withProcess = (process: Record<string, unknown>) => job(1, ['true'], { process: { type: 'docker', image: 'hail-batch-busybox:latest', command: ['true'], ...process } });
const jobsQuery = (version: 1 | 2, q: string) =>
  s.api(`/api/v${version}alpha/batches/${emptyBatchId}/jobs?q=${encodeURIComponent(q)}`);
const batchesQuery = (version: 1 | 2, q: string) => s.api(`/api/v${version}alpha/batches?q=${encodeURIComponent(q)}`);

describe('image references', () => {
  it('refuses the image ../../etc/passwd', async () => {
    await refused([withProcess({ image: '../../etc/passwd' })], 'bunch[0].process.image', /invalid image reference/);
  });

  it('refuses an image with a space and one with an upper-case repository', async () => {
    await refused([withProcess({ image: 'busy box' })], 'bunch[0].process.image');
    await refused([withProcess({ image: 'BusyBox:latest' })], 'bunch[0].process.image', /lowercase/);
  });
});

describe('strings PostgreSQL cannot store', () => {
  it('refuses a NUL byte in an attribute value', async () => {
    await refused([job(1, ['true'], { attributes: { name: 'a\u0000b' } })], 'bunch[0].attributes.name', /NUL/);
  });

  it('refuses a lone surrogate in an attribute key', async () => {
    await refused([job(1, ['true'], { attributes: { '\uD800': 'x' } })], 'bunch[0].attributes', /surrogate/);
  });

  it('refuses a NUL byte in a batch attribute', async () => {
    await refused([], 'batch.attributes.k', /NUL/, { attributes: { k: '\u0000' } });
  });

  it('refuses a NUL byte in a command', async () => {
    await refused([job(1, ['echo', 'a\u0000b'])], 'bunch[0].process.command[1]', /NUL/);
  });

  it('refuses a lone surrogate in a command', async () => {
    await refused([job(1, ['echo', '\uDC00'])], 'bunch[0].process.command[1]', /surrogate/);
  });

  it('refuses a NUL byte in an image name', async () => {
    await refused([withProcess({ image: 'busybox\u0000' })], 'bunch[0].process.image', /NUL/);
  });

  it('refuses a lone surrogate in an image name', async () => {
    await refused([withProcess({ image: 'busybox:\uD800' })], 'bunch[0].process.image', /surrogate/);
  });

  it('refuses a NUL byte in an env name', async () => {
    await refused([job(1, ['true'], { env: [{ name: 'A\u0000', value: 'x' }] })], 'bunch[0].env[0].name', /NUL/);
  });

  it('refuses an env name outside POSIX', async () => {
    await refused([job(1, ['true'], { env: [{ name: 'A=B', value: 'x' }] })], 'bunch[0].env[0].name', /environment variable name/);
  });

  it('refuses a NUL byte in a batch token', async () => {
    await refused([], 'batch.token', /NUL/, { token: 't\u0000' });
  });

  it('refuses a NUL byte in a billing project name', async () => {
    await refused([], 'batch.billing_project', /NUL|billing project name/, { billing_project: 'te\u0000st' });
  });

  it('refuses a NUL byte in a v2 batch query', async () => {
    await expect400(await batchesQuery(2, 'name = a\u0000b'), 'q', /NUL/);
  });

  it('answers a v2 job query carrying the bytes of a lone surrogate without a 500', async () => {
    // A URL cannot carry a lone surrogate: its CESU-8 bytes (%ED%A0%80) are not UTF-8, so they
    // never decode to one and match nothing. The parser refuses a decoded one (test/domain).
    const res = await s.api(`/api/v2alpha/batches/${emptyBatchId}/jobs?q=name%20%3D%20%ED%A0%80`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ jobs: [] });
  });

  it('refuses a NUL byte in a v1 job query', async () => {
    await expect400(await jobsQuery(1, 'name=\u0000'), 'q', /NUL/);
  });
});

describe('numbers past their columns', () => {
  it('refuses n_jobs=2147483648 in batches/create', async () => {
    const before = await batchCount();
    const res = await s.api('/api/v1alpha/batches/create', {
      method: 'POST',
      json: { billing_project: s.billingProject, n_jobs: 2147483648, token: `sec-${++seq}` },
    });
    await expect400(res, 'n_jobs', /at most 2147483647/);
    expect(await batchCount()).toBe(before);
  });

  it('refuses n_jobs=2147483648 in create-fast', async () => {
    await refused([], 'batch.n_jobs', /at most 2147483647/, { n_jobs: 2147483648 });
  });

  it('refuses n_jobs=2147483648 in updates/create', async () => {
    const res = await s.api(`/api/v1alpha/batches/${emptyBatchId}/updates/create`, {
      method: 'POST',
      json: { token: `sec-${++seq}`, n_jobs: 2147483648 },
    });
    await expect400(res, 'n_jobs', /at most 2147483647/);
  });

  it('refuses n_max_attempts=2^53-1', async () => {
    await refused([job(1, ['true'], { n_max_attempts: 2 ** 53 - 1 })], 'bunch[0].n_max_attempts', /at most 2147483647/);
  });

  it('refuses cancel_after_n_failures=2^31', async () => {
    await refused([], 'batch.cancel_after_n_failures', /at most 2147483647/, { cancel_after_n_failures: 2 ** 31 });
  });

  it('refuses job_id=99999999999999999999 in a v1 query', async () => {
    await expect400(await jobsQuery(1, 'job_id=99999999999999999999'), 'q', /job_id must be at most 2147483647/);
  });

  it('refuses job_id and exit_code past an int4 in a v2 query', async () => {
    await expect400(await jobsQuery(2, 'job_id > 2147483648'), 'q');
    await expect400(await jobsQuery(2, 'exit_code = -99999999999'), 'q');
  });

  it('refuses a v2 duration past what a bigint of ms holds', async () => {
    await expect400(await batchesQuery(2, 'duration > 1e300'), 'q', /duration/);
  });
});

describe('timeouts', () => {
  it('accepts a timeout longer than 24.8 days and keeps it', async () => {
    const thirtyDays = 30 * 24 * 3600;
    const res = await createFast([job(1, ['true'], { timeout: thirtyDays })]);
    expect(res.status).toBe(200);
    const { id } = (await res.json()) as { id: number };
    const detail = (await (await s.api(`/api/v1alpha/batches/${id}/jobs/1`)).json()) as { spec: { timeout: number } };
    expect(detail.spec.timeout).toBe(thirtyDays);
    expect((await s.api(`/api/v1alpha/batches/${id}/cancel`, { method: 'PATCH' })).status).toBe(200);
  });

  it('refuses a timeout past the documented maximum', async () => {
    await refused([job(1, ['true'], { timeout: 1e308 })], 'bunch[0].timeout', /at most 31622400 seconds/);
  });
});

describe('regions', () => {
  it('refuses regions ["mars"], naming the supported regions', async () => {
    const supported = (await (await s.api('/api/v1alpha/supported_regions')).json()) as string[];
    expect(supported.length).toBeGreaterThan(0);
    const error = await refused([job(1, ['true'], { regions: ['mars'] })], 'bunch[0].regions', /unknown regions mars/);
    for (const region of supported) expect(error.message).toContain(region);
  });

  it('accepts the default region', async () => {
    const region = await (await s.api('/api/v1alpha/default_region')).text();
    const res = await createFast([job(1, ['true'], { regions: [region] })]);
    expect(res.status).toBe(200);
    const { id } = (await res.json()) as { id: number };
    expect((await s.api(`/api/v1alpha/batches/${id}/cancel`, { method: 'PATCH' })).status).toBe(200);
  });
});

describe('callbacks', () => {
  it('refuses callback file:///etc/passwd', async () => {
    await refused([], 'batch.callback', /scheme 'file'/, { callback: 'file:///etc/passwd' });
  });

  it('refuses callback gopher://', async () => {
    await refused([], 'batch.callback', /scheme 'gopher'/, { callback: 'gopher://127.0.0.1:6379/_FLUSHALL' });
  });

  it('refuses a callback that is not an absolute URL, in batches/create', async () => {
    const res = await s.api('/api/v1alpha/batches/create', {
      method: 'POST',
      json: { billing_project: s.billingProject, n_jobs: 0, token: `sec-${++seq}`, callback: '/etc/passwd' },
    });
    await expect400(res, 'callback', /not an absolute URL/);
  });
});

describe('cloudfuse', () => {
  const mount = { bucket: 'my-bucket', mount_path: '/data', read_only: true };

  it('refuses a mount_path that climbs into /io', async () => {
    await refused([job(1, ['true'], { cloudfuse: [{ ...mount, mount_path: '/data/../io' }] })], 'bunch[0].cloudfuse[0].mount_path', /normalized/);
  });

  it('refuses a mount over the root', async () => {
    await refused([job(1, ['true'], { cloudfuse: [{ ...mount, mount_path: '/' }] })], 'bunch[0].cloudfuse[0].mount_path', /root/);
  });

  it('refuses a bucket name outside the bucket grammar', async () => {
    await refused([job(1, ['true'], { cloudfuse: [{ ...mount, bucket: '../../etc' }] })], 'bunch[0].cloudfuse[0].bucket', /invalid bucket name/);
  });
});

describe('file transfers', () => {
  it('refuses an input file copied outside /io', async () => {
    await refused([job(1, ['true'], { input_files: [{ from: 'gs://b/x', to: '/io/../etc/passwd' }] })], 'bunch[0].input_files[0].to');
  });
});
