/**
 * Metrics and the driver's rate limit on the whole service: /metrics on the API (admins and
 * the metrics token only, route templates as labels) and on the driver (SQL by query function,
 * scheduling, transitions, the limit gauge); the rate-limit route (admin only, values checked);
 * and a limit sent as a Temporal signal to the scheduler workflow holding jobs back until it is
 * lifted through the API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { job, startTestService, waitFor, waitForBatch, type TestService } from '../support/service';
import { schedulerWorkflowId, setRateLimitSignal } from '../../workflows/definitions';

const METRICS_TOKEN = 'metrics-token-for-tests-0123456789';
let s: TestService;
let admin: string;

beforeAll(async () => {
  s = await startTestService({ name: 'e2e_metrics', executor: 'process', pools: 'standard:1', coresPerAgent: 4, env: { HB_METRICS_TOKEN: METRICS_TOKEN } });
  admin = await s.addUser('root', { admin: true, projects: ['test'] });
});
afterAll(async () => {
  await s?.stop();
});

async function expectError(res: Response, status: number, code: string, field?: string): Promise<void> {
  const body = (await res.json()) as { error: { code: string; message: string; field?: string } };
  expect(res.status, JSON.stringify(body)).toBe(status);
  expect(body.error.code).toBe(code);
  if (field !== undefined) expect(body.error.field).toBe(field);
}

/** One sample's value from a Prometheus text exposition, or undefined. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

const driverMetrics = async (): Promise<string> => (await fetch(s.driverMetricsUrl, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
const setLimit = (json: unknown, token: string | null = admin, pool = 'standard') => s.api(`/api/v1alpha/rate_limits/${pool}`, { method: 'PUT', json, token });

describe('/metrics', () => {
  it('on the API: only admins and the metrics token, labelled by route template', async () => {
    await s.api('/api/v1alpha/batches/123456789');
    await expectError(await s.api('/metrics', { token: null }), 401, 'unauthenticated');
    await expectError(await s.api('/metrics', { token: 'not-a-token' }), 401, 'unauthenticated');
    await expectError(await s.api('/metrics'), 403, 'forbidden');
    for (const token of [admin, METRICS_TOKEN]) {
      const res = await s.api('/metrics', { token });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/text\/plain/);
      const text = await res.text();
      expect(sample(text, 'hb_http_request_duration_seconds_count', { route: '/api/v1alpha/batches/:batch_id', status: '404', method: 'GET' })).toBeGreaterThanOrEqual(1);
      expect(text).not.toContain('123456789');
      expect(sample(text, 'hb_sql_query_duration_seconds_count', { query: 'users.userForToken' })).toBeGreaterThanOrEqual(1);
      expect(text).toMatch(/^process_cpu_seconds_total\{service="api"\} /m);
    }
    // Not part of the published contract.
    const doc = (await (await s.api('/openapi.json', { token: null })).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).not.toContain('/metrics');
    expect(Object.keys(doc.paths)).toContain('/api/v1alpha/rate_limits/{pool}');
  });

  it('on the driver: the metrics token only', async () => {
    expect((await fetch(s.driverMetricsUrl)).status).toBe(401);
    const text = await driverMetrics();
    expect(text).toMatch(/^process_resident_memory_bytes\{service="driver"\} /m);
    expect(sample(text, 'hb_scheduler_round_duration_seconds_count', {})).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'hb_sql_query_duration_seconds_count', { query: 'instances.schedulableInstances' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'hb_temporal_activity_duration_seconds_count', { activity: 'schedulePass', local: 'true', outcome: 'completed' })).toBeGreaterThanOrEqual(1);
  });
});

describe('rate limit route', () => {
  it('is for admins only', async () => {
    await expectError(await s.api('/api/v1alpha/rate_limits', { token: null }), 401, 'unauthenticated');
    await expectError(await s.api('/api/v1alpha/rate_limits'), 403, 'forbidden');
    await expectError(await setLimit({ jobs_per_second: 5 }, s.token), 403, 'forbidden');
  });

  it('refuses bad values with a 400 naming the field, and unknown pools with a 404', async () => {
    for (const bad of [{ jobs_per_second: 0 }, { jobs_per_second: -3 }, { jobs_per_second: 'fast' }, { jobs_per_second: 1e12 }, {}]) {
      await expectError(await setLimit(bad), 400, 'invalid_request', 'jobs_per_second');
    }
    await expectError(await setLimit({ jobs_per_second: 5, burst: 2 }), 400, 'invalid_request');
    await expectError(await setLimit({ jobs_per_second: 5 }, admin, 'no-such-pool'), 404, 'not_found', 'pool');
    await expectError(await setLimit({ jobs_per_second: 5 }, admin, 'bad%00name'), 400, 'invalid_request', 'pool');
  });
});

describe('a limit sent as a signal', () => {
  it('holds scheduling to the rate until the API lifts it', async () => {
    await s.client.workflow.getHandle(schedulerWorkflowId(s.config.temporal.taskQueue)).signal(setRateLimitSignal, { pool: 'standard', jobs_per_second: 1 });
    await waitFor('the limit to be in force', async () => {
      const res = await s.api('/api/v1alpha/rate_limits', { token: admin });
      const limits = (await res.json()) as { pool: string; jobs_per_second: number }[];
      return limits.some((l) => l.pool === 'standard' && l.jobs_per_second === 1);
    }, 10_000);
    await waitFor('the gauge', async () => sample(await driverMetrics(), 'hb_scheduler_rate_limit_jobs_per_second', { pool: 'standard' }) === 1, 10_000);

    // 12 quarter-core jobs fit the 4-core agent at once; at 1 job/s they cannot all start.
    const n = 12;
    const res = await s.api('/api/v1alpha/batches/create-fast', {
      method: 'POST',
      json: {
        batch: { billing_project: 'test', n_jobs: n, token: `metrics-${Date.now()}` },
        bunch: Array.from({ length: n }, (_, i) => job(i + 1, ['sleep', '2'])),
      },
    });
    expect(res.status).toBe(200);
    const batchId = ((await res.json()) as { id: number }).id;
    const started = async () => {
      const body = (await (await s.api(`/api/v1alpha/batches/${batchId}/jobs`)).json()) as { jobs: { state: string }[] };
      return body.jobs.filter((j) => j.state !== 'Ready' && j.state !== 'Pending').length;
    };
    await waitFor('a first job to start', async () => (await started()) > 0, 20_000);
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, 2500));
    const seconds = (Date.now() - t0) / 1000;
    // One token at the start, then one per second (plus one for a round landing at the edge).
    expect(await started()).toBeLessThanOrEqual(Math.ceil(seconds) + 2);

    const lifted = await setLimit({ jobs_per_second: null });
    expect(lifted.status).toBe(200);
    expect(await lifted.json()).toEqual({ pool: 'standard', jobs_per_second: null });
    await waitFor('every job to start once the limit is lifted', async () => (await started()) === n, 10_000);
    const after = (await (await s.api('/api/v1alpha/rate_limits', { token: admin })).json()) as unknown[];
    expect(after).toEqual([]);
    const done = await waitForBatch(s, batchId);
    expect(done['state']).toBe('success');

    const text = await driverMetrics();
    expect(sample(text, 'hb_scheduler_rate_limit_jobs_per_second', { pool: 'standard' })).toBeUndefined();
    expect(sample(text, 'hb_scheduler_jobs_scheduled_total', { pool: 'standard' })).toBeGreaterThanOrEqual(n);
    expect(sample(text, 'hb_job_state_transitions_total', { from: 'Ready', to: 'Running' })).toBeGreaterThanOrEqual(n);
    expect(sample(text, 'hb_job_state_transitions_total', { from: 'Running', to: 'Success' })).toBeGreaterThanOrEqual(n);
    expect(sample(text, 'hb_jobs', { state: 'Success' })).toBe(n);
  });
});
