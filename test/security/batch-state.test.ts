/**
 * A batch's state tells the truth, in the API and in Temporal. Cancelling a batch that is
 * already complete stops nothing but cancels it all the same (Hail's `cancel_job_group` of the
 * root): it shows cancelled, in Temporal too, and takes no more updates;
 * a batch has one workflow run per phase of work, none that ends "success" before its jobs
 * are committed; and one `BatchState` query per state lists exactly the batches in that state.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowExecutionInfo } from '@temporalio/client';
import { job, startTestService, waitFor, waitForBatch, type TestService } from '../support/service';
import { batchWorkflowId, BatchStateAttr } from '../../workflows/definitions';

let s: TestService;

beforeAll(async () => {
  s = await startTestService({ name: 'security_batch_state', executor: 'process', pools: 'standard:1', coresPerAgent: 8 });
});
afterAll(async () => {
  await s?.stop();
});

let seq = 0;
async function createFast(bunch: unknown[]): Promise<number> {
  const res = await s.api('/api/v1alpha/batches/create-fast', {
    method: 'POST',
    json: { batch: { billing_project: 'test', n_jobs: bunch.length, token: `state-${++seq}-${Date.now()}` }, bunch },
  });
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { id: number }).id;
}

async function updateFast(batchId: number, bunch: unknown[]): Promise<void> {
  const res = await s.api(`/api/v1alpha/batches/${batchId}/update-fast`, {
    method: 'POST',
    json: { update: { n_jobs: bunch.length, token: `state-up-${++seq}-${Date.now()}` }, bunch },
  });
  expect(res.status, await res.clone().text()).toBe(200);
}

type Batch = { state: string; complete: boolean; n_jobs: number; n_succeeded: number; n_cancelled: number; n_failed: number };
const getBatch = async (id: number) => (await (await s.api(`/api/v1alpha/batches/${id}`)).json()) as Batch;

async function runsOf(batchId: number): Promise<WorkflowExecutionInfo[]> {
  const runs: WorkflowExecutionInfo[] = [];
  for await (const r of s.client.workflow.list({ query: `WorkflowId = '${batchWorkflowId(batchId)}'` })) runs.push(r);
  return runs;
}

const stateOf = (run: WorkflowExecutionInfo): string | undefined => run.typedSearchAttributes.get(BatchStateAttr);

/** Our batches each `BatchState` query lists, with how often each is listed. */
async function listedIn(state: string, ours: ReadonlySet<number>): Promise<number[]> {
  const ids: number[] = [];
  for await (const r of s.client.workflow.list({ query: `BatchState = '${state}'` })) {
    const id = Number(r.workflowId.replace(/^batch-/, ''));
    if (ours.has(id)) ids.push(id);
  }
  return ids.sort((a, b) => a - b);
}

const running = (id: number) => async () => (await getBatch(id)).state === 'running' && (await getBatch(id)).n_jobs > 0;

describe('cancelling a complete batch', () => {
  it('marks a batch that succeeded cancelled, in the API and in Temporal, and refuses later updates', async () => {
    const id = await createFast([job(1, ['true'])]);
    expect(await waitForBatch(s, id)).toMatchObject({ state: 'success', n_succeeded: 1 });
    for (const path of [`/api/v1alpha/batches/${id}/cancel`, `/api/v1alpha/batches/${id}/job-groups/0/cancel`]) {
      const res = await s.api(path, { method: 'PATCH' });
      expect(res.status, await res.clone().text()).toBe(200);
    }
    // Its job is not touched: it succeeded.
    expect(await getBatch(id)).toMatchObject({ state: 'cancelled', complete: true, n_succeeded: 1, n_cancelled: 0 });
    // The earlier run, which said success, is forgotten; visibility catches up in its own time:
    // the deletion is a background task of the server's, which took over 30 s with the whole
    // suite running beside it on two cores.
    await waitFor(
      'Temporal to list it cancelled, and no longer success',
      async () => (await listedIn('cancelled', new Set([id]))).length === 1 && (await listedIn('success', new Set([id]))).length === 0,
      90_000,
      200,
    );
    const res = await s.api(`/api/v1alpha/batches/${id}/update-fast`, {
      method: 'POST',
      json: { update: { n_jobs: 1, token: `state-up-${++seq}-${Date.now()}` }, bunch: [job(1, ['true'])] },
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('Cannot submit new jobs or job groups to a cancelled batch');
  });

  it('still cancels a running batch', async () => {
    const id = await createFast([job(1, ['sleep', '60'])]);
    await waitFor('the batch to run', running(id), 30_000, 200);
    expect((await s.api(`/api/v1alpha/batches/${id}/cancel`, { method: 'PATCH' })).status).toBe(200);
    expect(await waitForBatch(s, id, 30_000)).toMatchObject({ state: 'cancelled', n_cancelled: 1 });
  });
});

describe('workflow runs and BatchState', () => {
  it('gives a simple batch exactly one run, which ends with its true state', async () => {
    const id = await createFast([job(1, ['true']), job(2, ['true'], { in_update_parent_ids: [1] })]);
    await waitForBatch(s, id);
    expect(await s.client.workflow.getHandle(batchWorkflowId(id)).result()).toBe('success');
    const runs = await waitFor('the run to be listed as closed', async () => {
      const r = await runsOf(id);
      return r.length > 0 && r.every((x) => x.status.name !== 'RUNNING') ? r : null;
    }, 20_000, 200);
    expect(runs).toHaveLength(1);
    expect(runs[0]!.status.name).toBe('COMPLETED');
    expect(stateOf(runs[0]!)).toBe('success');
  });

  it('lists exactly the batches in each state, one query per state', async () => {
    const success = await createFast([job(1, ['true'])]);
    const failure = await createFast([job(1, ['true']), job(2, ['false'])]);
    const cancelled = await createFast([job(1, ['sleep', '60'])]);
    const runningBatch = await createFast([job(1, ['sleep', '120'])]);
    // A later update to a complete batch: first success, then a failing job makes it failure.
    const twoPhases = await createFast([job(1, ['true'])]);
    expect(await waitForBatch(s, twoPhases)).toMatchObject({ state: 'success' });
    await waitFor('the first phase to be listed', async () => (await listedIn('success', new Set([twoPhases]))).length === 1, 20_000, 200);
    await updateFast(twoPhases, [job(1, ['false'])]);

    // A commit that fails (a job is missing) after the API woke the workflow for it: nothing is
    // committed, so the batch is in no final state.
    const created = await s.api('/api/v1alpha/batches/create', {
      method: 'POST',
      json: { billing_project: 'test', n_jobs: 2, token: `state-open-${Date.now()}` },
    });
    const uncommitted = ((await created.json()) as { id: number }).id;
    const bunch = await s.api(`/api/v1alpha/batches/${uncommitted}/updates/1/jobs/create`, { method: 'POST', json: [job(1, ['true'])] });
    expect(bunch.status, await bunch.clone().text()).toBe(200);
    const commit = await s.api(`/api/v1alpha/batches/${uncommitted}/updates/1/commit`, { method: 'PATCH' });
    expect(commit.status).toBe(400);
    // An empty batch: created, never committed.
    const empty = await s.api('/api/v1alpha/batches/create', {
      method: 'POST',
      json: { billing_project: 'test', n_jobs: 0, token: `state-empty-${Date.now()}` },
    });
    const emptyId = ((await empty.json()) as { id: number }).id;

    await waitFor('the cancellable batch to run', running(cancelled), 30_000, 200);
    await s.api(`/api/v1alpha/batches/${cancelled}/cancel`, { method: 'PATCH' });
    await waitFor('the long batch to run', running(runningBatch), 30_000, 200);
    for (const id of [success, failure, cancelled, twoPhases]) await waitForBatch(s, id, 30_000);

    const expected: Record<string, number[]> = {
      success: [success],
      failure: [failure, twoPhases].sort((a, b) => a - b),
      cancelled: [cancelled],
      running: [runningBatch],
    };
    // The API agrees with what the queries must list.
    for (const [state, ids] of Object.entries(expected)) {
      for (const id of ids) expect((await getBatch(id)).state).toBe(state);
    }
    const ours = new Set([success, failure, cancelled, runningBatch, twoPhases, uncommitted, emptyId]);
    const lists = await waitFor('visibility to catch up', async () => {
      const got: Record<string, number[]> = {};
      for (const state of Object.keys(expected)) got[state] = await listedIn(state, ours);
      return JSON.stringify(got) === JSON.stringify(expected) ? got : null;
      // Temporal deletes a superseded run's record asynchronously, within about half a minute.
    }, 90_000, 500).catch(async () => {
      const got: Record<string, number[]> = {};
      for (const state of Object.keys(expected)) got[state] = await listedIn(state, ours);
      return got;
    });
    expect(lists).toEqual(expected);

    // The uncommitted batch has a run (woken before the commit) that shows no state at all.
    const uncommittedRuns = await runsOf(uncommitted);
    expect(uncommittedRuns).toHaveLength(1);
    expect(stateOf(uncommittedRuns[0]!)).toBeUndefined();
    expect(await runsOf(emptyId)).toHaveLength(0);
    // The two-phase batch: only the run of its last phase is left.
    const phases = await runsOf(twoPhases);
    expect(phases.map(stateOf)).toEqual(['failure']);
  });
});
