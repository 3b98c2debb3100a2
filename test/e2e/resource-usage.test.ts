/**
 * A job's resource usage through the API, as Hail's `Job.resource_usage()` reads it: one pandas
 * "split" frame per container, sampled by a real agent from the container's cgroup.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { job, startTestService, waitForBatch, type TestService } from '../support/service';

let s: TestService;

beforeAll(async () => {
  s = await startTestService({ name: 'e2e_usage', executor: 'docker', pools: 'standard:1' });
});
afterAll(async () => {
  await s?.stop();
});

type Frame = { columns: string[]; index: number[]; data: number[][] };

describe('resource usage', () => {
  it('gives the main container of a finished job its samples, with CPU spent', async () => {
    const res = await s.api('/api/v1alpha/batches/create-fast', {
      method: 'POST',
      json: {
        batch: { billing_project: s.billingProject, n_jobs: 1, token: `usage-${Date.now()}` },
        bunch: [job(1, ['sh', '-c', 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done'], { resources: { cpu: '0.25' } })],
      },
    });
    expect(res.status, await res.clone().text()).toBe(200);
    const { id } = (await res.json()) as { id: number };
    expect(await waitForBatch(s, id)).toMatchObject({ state: 'success' });

    const usage = (await (await s.api(`/api/v1alpha/batches/${id}/jobs/1/resource_usage`)).json()) as Record<string, Frame>;
    expect(Object.keys(usage)).toEqual(['main']);
    const main = usage.main!;
    expect(main.columns).toEqual([
      'time_msecs',
      'memory_in_bytes',
      'cpu_usage',
      'non_io_storage_in_bytes',
      'io_storage_in_bytes',
      'network_bandwidth_upload_in_bytes_per_second',
      'network_bandwidth_download_in_bytes_per_second',
    ]);
    expect(main.data.length).toBeGreaterThan(0);
    expect(main.index).toEqual(main.data.map((_, i) => i));
    const cpu = main.columns.indexOf('cpu_usage');
    expect(Math.max(...main.data.map((row) => row[cpu]!))).toBeGreaterThan(0);
  });

  it('is empty for a job that has not had an attempt, and 404 for a job that does not exist', async () => {
    const res = await s.api('/api/v1alpha/batches/create', {
      method: 'POST',
      json: { billing_project: s.billingProject, n_jobs: 1, token: `usage-open-${Date.now()}` },
    });
    const { id, update_id } = (await res.json()) as { id: number; update_id: number };
    const put = await s.api(`/api/v1alpha/batches/${id}/updates/${update_id}/jobs/create`, { method: 'POST', json: [job(1, ['true'])] });
    expect(put.status).toBe(200);
    const early = await s.api(`/api/v1alpha/batches/${id}/jobs/1/resource_usage`);
    expect({ status: early.status, body: await early.json() }).toEqual({ status: 200, body: {} });
    expect((await s.api(`/api/v1alpha/batches/${id}/jobs/9/resource_usage`)).status).toBe(404);
  });
});
