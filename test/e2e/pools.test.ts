/**
 * Pool configuration over HTTP: admin only, validated field by field, stored, and read by
 * submission on every request, so a change of worker_cores applies to the next job.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { job, startTestService, waitForBatch, type TestService } from '../support/service';

let s: TestService;
let admin: string;

beforeAll(async () => {
  s = await startTestService({ name: 'e2e_pools', executor: 'process', pools: 'standard:1-3', coresPerAgent: 4 });
  admin = await s.addUser('root', { admin: true, projects: ['test'] });
});
afterAll(async () => {
  await s?.stop();
});

async function expectError(res: Response, status: number, code: string, field?: string): Promise<string> {
  const body = (await res.json()) as { error: { code: string; message: string; field?: string } };
  expect(res.status, JSON.stringify(body)).toBe(status);
  expect(body.error.code).toBe(code);
  if (field !== undefined) expect(body.error.field).toBe(field);
  return body.error.message;
}

const patch = (name: string, json: unknown, token: string | null = admin) =>
  s.api(`/api/v1alpha/pools/${name}`, { method: 'PATCH', json, token });

let seq = 0;
const submit = (token: string, cpu: string) =>
  s.api('/api/v1alpha/batches/create-fast', {
    method: 'POST',
    token,
    json: {
      batch: { billing_project: 'test', n_jobs: 1, token: `pools-${++seq}-${Date.now()}` },
      bunch: [job(1, ['true'], { resources: { cpu, memory: 'standard' } })],
    },
  });

describe('pool routes', () => {
  it('are for administrators only', async () => {
    await expectError(await s.api('/api/v1alpha/pools', { token: null }), 401, 'unauthenticated');
    await expectError(await s.api('/api/v1alpha/pools'), 403, 'forbidden');
    await expectError(await patch('standard', { max_instances: 5 }, s.token), 403, 'forbidden');
    await expectError(await patch('standard', { max_instances: 5 }, null), 401, 'unauthenticated');
  });

  it('list every pool with its seeded config in Hail field names', async () => {
    const res = await s.api('/api/v1alpha/pools', { token: admin });
    expect(res.status).toBe(200);
    const pools = (await res.json()) as Record<string, unknown>[];
    expect(pools.map((p) => p['name'])).toEqual(['highcpu', 'highmem', 'standard']);
    expect(pools[2]).toMatchObject({
      name: 'standard',
      worker_type: 'standard',
      worker_cores: 4,
      min_instances: 1,
      max_live_instances: 3,
      max_instances: 3,
      preemptible: true,
    });
    // Not in the settings: present, but never grows.
    expect(pools[1]).toMatchObject({ name: 'highmem', worker_type: 'highmem', min_instances: 0, max_instances: 0 });
  });

  it('reject bad values, unknown fields and unknown pools, naming the field', async () => {
    expect(await expectError(await patch('standard', { min_instances: 10 }), 400, 'invalid_request', 'min_instances')).toMatch(
      /max_live_instances/,
    );
    await expectError(await patch('standard', { worker_cores: 0 }), 400, 'invalid_request', 'worker_cores');
    await expectError(await patch('standard', { preemptible: 'yes' }), 400, 'invalid_request', 'preemptible');
    await expectError(await patch('standard', { worker_type: 'huge' }), 400, 'invalid_request', 'worker_type');
    await expectError(await patch('standard', { cores: 8 }), 400, 'invalid_request', 'cores');
    await expectError(await patch('standard', [1, 2]), 400, 'invalid_request');
    await expectError(await patch('nosuchpool', { max_instances: 5 }), 404, 'not_found');
    // Nothing was stored by the failed requests.
    const res = await s.api('/api/v1alpha/pools/standard', { token: admin });
    expect(await res.json()).toMatchObject({ worker_cores: 4, min_instances: 1, max_instances: 3 });
  });

  it('store a partial update that a later GET shows', async () => {
    const res = await patch('highmem', { max_instances: 6, max_live_instances: 5, worker_max_idle_time_secs: 90 });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ name: 'highmem', max_instances: 6, max_live_instances: 5, worker_max_idle_time_secs: 90 });
    const list = (await (await s.api('/api/v1alpha/pools', { token: admin })).json()) as Record<string, unknown>[];
    expect(list.find((p) => p['name'] === 'highmem')).toMatchObject({
      max_instances: 6,
      max_live_instances: 5,
      worker_max_idle_time_secs: 90,
      min_instances: 0,
      worker_type: 'highmem',
    });
  });

  it('change what submission accepts when worker_cores changes', async () => {
    // 4-core workers take a 4-core job...
    const before = await submit(s.token, '4');
    expect(before.status, await before.clone().text()).toBe(200);
    await waitForBatch(s, ((await before.json()) as { id: number }).id);
    // ...2-core workers do not, and submission says so with the field.
    expect((await patch('standard', { worker_cores: 2, standing_worker_cores: 2 })).status).toBe(200);
    const message = await expectError(await submit(s.token, '4'), 400, 'invalid_request', 'bunch[0].resources');
    expect(message).toMatch(/unsatisfiable.*2 cores/);
    // Back to 4 cores: accepted and run to success on the 4-core agents.
    expect((await patch('standard', { worker_cores: 4, standing_worker_cores: 4 })).status).toBe(200);
    const after = await submit(s.token, '4');
    expect(after.status).toBe(200);
    const batch = await waitForBatch(s, ((await after.json()) as { id: number }).id);
    expect(batch).toMatchObject({ state: 'success', n_succeeded: 1 });
  });
});
