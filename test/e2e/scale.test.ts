/**
 * A 10,000-job batch (independent jobs and chains) completes, on the process executor so the
 * figure measures Temporal and the database rather than container start-up.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { job, startTestService, waitForBatch, type TestService } from '../support/service';

let s: TestService;
beforeAll(async () => {
  // A fixed pool: the autoscaler runs at its production period, not the tests' quick one.
  s = await startTestService({ name: 'e2e_scale', executor: 'process', pools: 'standard:2', coresPerAgent: 8, env: { HB_AUTOSCALER_LOOP_MS: '15000' } });
});
afterAll(async () => {
  await s?.stop();
});

const N_INDEPENDENT = 5000;
const CHAINS = 50;
const CHAIN_LENGTH = 100;

it('runs a 10,000-job batch of independent jobs and chains to completion', async () => {
  const specs: Record<string, unknown>[] = [];
  for (let i = 1; i <= N_INDEPENDENT; i++) specs.push(job(i, ['true']));
  let id = N_INDEPENDENT + 1;
  for (let c = 0; c < CHAINS; c++) {
    for (let k = 0; k < CHAIN_LENGTH; k++, id++) specs.push(job(id, ['true'], k > 0 ? { in_update_parent_ids: [id - 1] } : {}));
  }
  const n = specs.length;
  expect(n).toBe(10_000);

  const t0 = Date.now();
  const created = await s.api('/api/v1alpha/batches/create', { method: 'POST', json: { billing_project: 'test', n_jobs: n, token: `scale-${t0}` } });
  const { id: batchId, update_id } = (await created.json()) as { id: number; update_id: number };
  for (let i = 0; i < n; i += 1000) {
    const res = await s.api(`/api/v1alpha/batches/${batchId}/updates/${update_id}/jobs/create`, { method: 'POST', json: specs.slice(i, i + 1000) });
    expect(res.status).toBe(200);
  }
  expect((await s.api(`/api/v1alpha/batches/${batchId}/updates/${update_id}/commit`, { method: 'PATCH' })).status).toBe(200);
  const submitted = Date.now();

  const batch = await waitForBatch(s, batchId, 45 * 60_000);
  const done = Date.now();
  expect(batch).toMatchObject({ state: 'success', n_jobs: n, n_completed: n, n_succeeded: n });
  console.log(`scale: submit ${((submitted - t0) / 1000).toFixed(1)} s, run ${((done - submitted) / 1000).toFixed(1)} s, ${(n / ((done - submitted) / 1000)).toFixed(0)} jobs/s`);
}, 50 * 60_000);
