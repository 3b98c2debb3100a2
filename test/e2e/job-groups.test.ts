/**
 * Job groups end to end through HTTP on a real service: created in create-fast and in updates
 * (bunches resent; a group before its parent refused, as Hail), read with their counts, nested, cancelled with their
 * subtree while a sibling runs on, and Hail's errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { job, startTestService, waitFor, waitForBatch, type TestService } from '../support/service';

let s: TestService;

beforeAll(async () => {
  s = await startTestService({ name: 'e2e_job_groups', executor: 'docker', pools: 'standard:2' });
});
afterAll(async () => {
  await s?.stop();
});

let seq = 0;
const token = () => `jg${++seq}-${Date.now()}`;
const v1 = '/api/v1alpha';

async function call(path: string, method = 'GET', json?: unknown): Promise<{ status: number; body: any }> {
  const res = await s.api(path, json === undefined ? { method } : { method, json });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function ok(path: string, method = 'GET', json?: unknown): Promise<any> {
  const r = await call(path, method, json);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
}

async function group(batchId: number, g: number): Promise<any> {
  return ok(`${v1}/batches/${batchId}/job-groups/${g}`);
}

describe('job groups over HTTP', () => {
  it('create-fast with nested groups: counts roll up, children listed, jobs of a group recursive or not', async () => {
    const created = await ok(`${v1}/batches/create-fast`, 'POST', {
      batch: { billing_project: s.billingProject, n_jobs: 3, n_job_groups: 2, token: token() },
      job_groups: [
        { job_group_id: 1, in_update_parent_id: 0, attributes: { name: 'outer' } },
        { job_group_id: 2, in_update_parent_id: 1 },
      ],
      bunch: [
        job(1, ['true'], { in_update_job_group_id: 1 }),
        job(2, ['sh', '-c', 'exit 1'], { in_update_job_group_id: 2 }),
        job(3, ['true']),
      ],
    });
    expect(created.start_job_group_id).toBe(1);
    const id = created.id as number;
    await waitForBatch(s, id);
    expect(await group(id, 1)).toMatchObject({
      batch_id: id, job_group_id: 1, state: 'failure', complete: true, n_jobs: 2, n_completed: 2, n_succeeded: 1, n_failed: 1,
      attributes: { name: 'outer' },
    });
    const inner = await group(id, 2);
    expect(inner).toMatchObject({ state: 'failure', n_jobs: 1 });
    // Hail's group body, key for key: `attributes` only when there are some, no cancel_after_n_failures.
    expect(Object.keys(inner).sort()).toEqual([
      'batch_id', 'complete', 'cost', 'cost_breakdown', 'duration', 'job_group_id', 'n_cancelled', 'n_completed',
      'n_failed', 'n_jobs', 'n_succeeded', 'state', 'time_completed', 'time_created',
    ]);
    expect(typeof inner.duration).toBe('number');
    expect(typeof inner.cost).toBe('number');
    expect(await group(id, 0)).toMatchObject({ job_group_id: 0, n_jobs: 3, state: 'failure' });
    // Cost rolls up: a group's is its jobs' and its descendants' jobs', as the listing says too.
    const jobCost = async (j: number) => (await ok(`${v1}/batches/${id}/jobs/${j}`)).cost as number;
    const [c1, c2, c3] = [await jobCost(1), await jobCost(2), await jobCost(3)];
    expect(c1).toBeGreaterThan(0);
    expect((await group(id, 2)).cost).toBeCloseTo(c2, 12);
    expect((await group(id, 1)).cost).toBeCloseTo(c1 + c2, 12);
    expect((await ok(`${v1}/batches/${id}`)).cost).toBeCloseTo(c1 + c2 + c3, 12);
    const listed = (await ok(`${v1}/batches/${id}/job-groups/0/job-groups`)).job_groups[0];
    expect(listed.cost).toBeCloseTo(c1 + c2, 12);

    expect((await ok(`${v1}/batches/${id}/job-groups/0/job-groups`)).job_groups.map((g: any) => g.job_group_id)).toEqual([1]);
    expect((await ok(`${v1}/batches/${id}/job-groups/1/job-groups`)).job_groups.map((g: any) => g.job_group_id)).toEqual([2]);
    expect((await ok(`${v1}/batches/${id}/job-groups/0/job-groups?last_job_group_id=1`)).job_groups).toEqual([]);

    const jobsOf = async (g: number, recursive: boolean, v = 1) =>
      (await ok(`/api/v${v}alpha/batches/${id}/job-groups/${g}/jobs?recursive=${recursive ? 'True' : 'False'}`)).jobs.map((j: any) => [j.job_id, j.job_group_id]);
    expect(await jobsOf(1, false)).toEqual([[1, 1]]);
    expect(await jobsOf(1, true)).toEqual([[1, 1], [2, 2]]);
    expect(await jobsOf(0, false, 2)).toEqual([[3, 0]]);
    expect((await jobsOf(0, true)).length).toBe(3);
    expect((await call(`${v1}/batches/${id}/job-groups/9`)).status).toBe(404);
  });

  it('groups in updates: reserved ids, bunches resent, parents first, commit checks, Hail errors', async () => {
    const b = await ok(`${v1}/batches/create`, 'POST', { billing_project: s.billingProject, n_jobs: 0, token: token() });
    const id = b.id as number;
    const u = await ok(`${v1}/batches/${id}/updates/create`, 'POST', { token: token(), n_jobs: 1, n_job_groups: 2 });
    expect(u.start_job_group_id).toBe(1);
    // A second update interleaved with the first reserves the next ids.
    const u2 = await ok(`${v1}/batches/${id}/updates/create`, 'POST', { token: token(), n_jobs: 0, n_job_groups: 1 });
    expect(u2.start_job_group_id).toBe(3);
    const groups = `${v1}/batches/${id}/updates/${u.update_id}/job-groups/create`;
    const tooMany = await call(groups, 'POST', [{ job_group_id: 1 }, { job_group_id: 2 }, { job_group_id: 3 }]);
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.field).toBe('job_groups[2].job_group_id');

    const early = await call(`${v1}/batches/${id}/updates/${u.update_id}/commit`, 'PATCH');
    expect(early.status).toBe(400);
    expect(early.body.error.message).toBe('wrong number of jobs: expected 1, actual 0');
    await ok(`${v1}/batches/${id}/updates/${u.update_id}/jobs/create`, 'POST', [job(1, ['true'], { in_update_job_group_id: 2 })]);
    const missing = await call(`${v1}/batches/${id}/updates/${u.update_id}/commit`, 'PATCH');
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toBe('wrong number of job groups: expected 2, actual 0');
    // A child before its parent is refused as Hail refuses it; then the parent, the child, and
    // the child again (a client's retry, a no-op).
    const orphan = await call(groups, 'POST', [{ job_group_id: 2, in_update_parent_id: 1 }]);
    expect(orphan.status).toBe(400);
    expect(orphan.body.error.message).toMatch(/job group parent 1 does not exist/);
    await ok(groups, 'POST', [{ job_group_id: 1 }]);
    await ok(groups, 'POST', [{ job_group_id: 2, in_update_parent_id: 1 }]);
    await ok(groups, 'POST', [{ job_group_id: 2, in_update_parent_id: 1 }]);
    const commit = await ok(`${v1}/batches/${id}/updates/${u.update_id}/commit`, 'PATCH');
    expect(commit.start_job_group_id).toBe(1);
    await waitForBatch(s, id);
    expect(await group(id, 1)).toMatchObject({ state: 'success', n_jobs: 1, n_succeeded: 1 });

    // Nesting deeper than Hail's maximum is refused.
    const deep = await call(`${v1}/batches/${id}/update-fast`, 'POST', {
      update: { token: token(), n_jobs: 0, n_job_groups: 1 },
      bunch: [],
      job_groups: [{ job_group_id: 1, absolute_parent_id: 2 }],
    });
    expect(deep.status).toBe(400);
    expect(deep.body.error.message).toMatch(/maximum level of nesting/);
  });

  it('cancelling a group stops its running jobs and its subgroups, never its parent or siblings', async () => {
    const created = await ok(`${v1}/batches/create-fast`, 'POST', {
      batch: { billing_project: s.billingProject, n_jobs: 2, n_job_groups: 3, token: token() },
      job_groups: [{ job_group_id: 1 }, { job_group_id: 2, in_update_parent_id: 1 }, { job_group_id: 3 }],
      bunch: [job(1, ['sleep', '300'], { in_update_job_group_id: 2 }), job(2, ['sleep', '3'], { in_update_job_group_id: 3 })],
    });
    const id = created.id as number;
    await waitFor('job 1 running', async () => (await ok(`${v1}/batches/${id}/jobs/1`)).state === 'Running', 60_000, 250);
    await ok(`${v1}/batches/${id}/job-groups/1/cancel`, 'PATCH');
    const batch = await waitForBatch(s, id, 90_000);
    expect(batch).toMatchObject({ n_cancelled: 1, n_succeeded: 1 });
    expect((await ok(`${v1}/batches/${id}/jobs/1`)).state).toBe('Cancelled');
    expect((await ok(`${v1}/batches/${id}/jobs/2`)).state).toBe('Success');
    expect(await group(id, 1)).toMatchObject({ state: 'cancelled', n_cancelled: 1 });
    expect(await group(id, 2)).toMatchObject({ state: 'cancelled' });
    expect(await group(id, 3)).toMatchObject({ state: 'success' });

    const refused = await call(`${v1}/batches/${id}/update-fast`, 'POST', {
      update: { token: token(), n_jobs: 1 },
      bunch: [job(1, ['true'], { absolute_job_group_id: 2 })],
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toBe('bunch contains job where the job group has already been cancelled');
    expect(refused.body.error.field).toBe('bunch[0].absolute_job_group_id');
  });

  it("a group's cancel_after_n_failures stops its running jobs at once, and leaves other groups alone", async () => {
    const created = await ok(`${v1}/batches/create-fast`, 'POST', {
      batch: { billing_project: s.billingProject, n_jobs: 3, n_job_groups: 2, token: token() },
      job_groups: [{ job_group_id: 1, cancel_after_n_failures: 1 }, { job_group_id: 2 }],
      bunch: [
        job(1, ['sleep', '300'], { in_update_job_group_id: 1 }),
        job(2, ['sh', '-c', 'sleep 2; exit 1'], { in_update_job_group_id: 1 }),
        job(3, ['sleep', '4'], { in_update_job_group_id: 2 }),
      ],
    });
    const id = created.id as number;
    const started = Date.now();
    const batch = await waitForBatch(s, id, 60_000);
    // Far sooner than a job workflow's 60 s look: the batch workflow told the sleeper to stop.
    expect(Date.now() - started).toBeLessThan(50_000);
    expect(batch).toMatchObject({ n_failed: 1, n_cancelled: 1, n_succeeded: 1 });
    expect((await ok(`${v1}/batches/${id}/jobs/1`)).state).toBe('Cancelled');
    expect(await group(id, 1)).toMatchObject({ state: 'failure', n_failed: 1, n_cancelled: 1 });
    expect(await group(id, 2)).toMatchObject({ state: 'success' });
  });
});
