/**
 * Workflows on the real dev server: a batch's workflow tree runs, and every recorded history
 * (batch, job, scheduler) replays against today's workflow code without non-determinism.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import { job, startTestService, waitFor, waitForBatch, type TestService } from '../support/service';
import { workflowBundle } from '../support/temporal';
import { batchPartitionWorkflowId, batchWorkflowId, jobWorkflowId, schedulerWorkflowId } from '../../workflows/definitions';

let s: TestService;
beforeAll(async () => {
  s = await startTestService({ name: 'wf_replay', executor: 'process', pools: 'standard:1' });
});
afterAll(async () => {
  await s?.stop();
});

async function submit(bunch: unknown[]): Promise<number> {
  const res = await s.api('/api/v1alpha/batches/create-fast', {
    method: 'POST',
    json: { batch: { billing_project: 'test', n_jobs: bunch.length, token: `r-${Math.random()}` }, bunch },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { id: number }).id;
}

it('runs a batch as a tree of workflows whose histories replay deterministically', async () => {
  const ok = await submit([job(1, ['true']), job(2, ['false'], { in_update_parent_ids: [1] }), job(3, ['true'], { in_update_parent_ids: [2] })]);
  const cancelled = await submit([job(1, ['sleep', '60']), job(2, ['true'], { in_update_parent_ids: [1] })]);
  await waitFor('sleeper to run', async () => {
    const jobs = (await (await s.api(`/api/v1alpha/batches/${cancelled}/jobs`)).json()) as { jobs: { state: string }[] };
    return jobs.jobs[0]?.state === 'Running';
  });
  await s.api(`/api/v1alpha/batches/${cancelled}/cancel`, { method: 'PATCH' });
  expect(await waitForBatch(s, ok)).toMatchObject({ state: 'failure', n_succeeded: 1, n_failed: 1, n_cancelled: 1 });
  expect(await waitForBatch(s, cancelled)).toMatchObject({ state: 'cancelled', n_cancelled: 2 });

  // The batch workflow ends with the batch; job workflows end with their job.
  const batchHandle = s.client.workflow.getHandle(batchWorkflowId(ok));
  expect(await batchHandle.result()).toBe('failure');
  expect(await s.client.workflow.getHandle(jobWorkflowId(ok, 2)).result()).toBe('Failed');
  expect(await s.client.workflow.getHandle(batchWorkflowId(cancelled)).result()).toBe('cancelled');
  expect(await s.client.workflow.getHandle(jobWorkflowId(cancelled, 1)).result()).toBe('Cancelled');

  const ids = [
    batchWorkflowId(ok),
    batchPartitionWorkflowId(ok, 0),
    jobWorkflowId(ok, 1),
    jobWorkflowId(ok, 2),
    batchWorkflowId(cancelled),
    batchPartitionWorkflowId(cancelled, 0),
    jobWorkflowId(cancelled, 1),
    schedulerWorkflowId(s.config.temporal.taskQueue),
  ];
  const histories = await Promise.all(ids.map(async (workflowId) => ({ workflowId, history: await s.client.workflow.getHandle(workflowId).fetchHistory() })));
  const results = Worker.runReplayHistories({ workflowBundle: workflowBundle() }, histories);
  let replayed = 0;
  for await (const r of results) {
    expect(r.error, `${r.workflowId}: ${String(r.error)}`).toBeUndefined();
    replayed++;
  }
  expect(replayed).toBe(ids.length);

  // Operators find batches through search attributes: one run per batch, in its true state.
  const found = await waitFor('visibility', async () => {
    const runs = [];
    for await (const w of s.client.workflow.list({ query: `BatchId = "${ok}" AND BatchState = "failure"` })) runs.push(w);
    return runs.length >= 1 ? runs : null;
  }, 30_000, 500);
  expect(found).toHaveLength(1);
  expect(found[0]!.workflowId).toBe(batchWorkflowId(ok));
  const all = [];
  for await (const w of s.client.workflow.list({ query: `BatchId = "${ok}"` })) all.push(w);
  expect(all).toHaveLength(1);
});
