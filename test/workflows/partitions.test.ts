/**
 * A batch walks its DAG through partitions: the batch workflow starts partition workflows, and
 * they claim jobs and start the job workflows. Checked on the real dev server from the
 * histories: the batch's own history has partitions as its only children, the window is shared
 * out between partitions, and a job workflow has no timer and no signal to anyone.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { Worker } from '@temporalio/worker';
import { job, startTestService, waitForBatch, type TestService } from '../support/service';
import { workflowBundle } from '../support/temporal';
import { batchPartitionWorkflowId, batchWorkflowId, jobWorkflowId } from '../../workflows/definitions';
import { rawRows } from '../../db/client';

let s: TestService;
beforeAll(async () => {
  s = await startTestService({
    name: 'wf_partitions',
    executor: 'process',
    pools: 'standard:2',
    batchWindow: 8,
    env: { HB_BATCH_PARTITIONS: '4' },
  });
});
afterAll(async () => {
  await s?.stop();
});

const typeOf = (e: object): string => Object.keys(e).find((k) => k.endsWith('EventAttributes') && (e as Record<string, unknown>)[k] != null) ?? '?';

it('spreads a batch over partitions, each with its share of the window', async () => {
  // 30 independent jobs and a chain of 10 behind the first of them.
  const bunch = [];
  for (let i = 1; i <= 30; i++) bunch.push(job(i, ['sh', '-c', 'sleep 0.2']));
  for (let i = 31; i <= 40; i++) bunch.push(job(i, ['true'], { in_update_parent_ids: [i === 31 ? 1 : i - 1] }));
  const res = await s.api('/api/v1alpha/batches/create-fast', {
    method: 'POST',
    json: { batch: { billing_project: 'test', n_jobs: bunch.length, token: `p-${Date.now()}` }, bunch },
  });
  expect(res.status).toBe(200);
  const { id } = (await res.json()) as { id: number };
  expect(await waitForBatch(s, id, 120_000)).toMatchObject({ state: 'success', n_succeeded: 40 });
  expect(await s.client.workflow.getHandle(batchWorkflowId(id)).result()).toBe('success');

  // Every claim handed out at most the partition's share (8 / 4), and came from a partition.
  const claims = await rawRows<{ launch_token: string; n: number }>(
    s.database.db,
    sql`SELECT launch_token, count(*)::int AS n FROM jobs WHERE batch_id = ${id} GROUP BY launch_token`,
  );
  expect(claims.reduce((a, c) => a + c.n, 0)).toBe(40);
  for (const c of claims) {
    expect(c.launch_token).toMatch(new RegExp(`^batch-${id}-part-[0-3]/`));
    expect(c.n).toBeLessThanOrEqual(2);
  }
  const slots = new Set(claims.map((c) => c.launch_token.split('/')[0]!));
  expect(slots.size).toBeGreaterThan(1);

  // The batch's children are its partitions, never jobs.
  const batchHistory = await s.client.workflow.getHandle(batchWorkflowId(id)).fetchHistory();
  const children = (batchHistory.events ?? []).flatMap((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId ?? []);
  expect(children.length).toBeGreaterThan(0);
  for (const w of children) expect(w).toMatch(new RegExp(`^batch-${id}-part-[0-3]$`));

  // A job workflow: no timer, no signal sent, at most the 12 events of the common case.
  for (const j of [1, 17, 40]) {
    const events = (await s.client.workflow.getHandle(jobWorkflowId(id, j)).fetchHistory()).events ?? [];
    const types = events.map(typeOf);
    expect(types).not.toContain('timerStartedEventAttributes');
    expect(types).not.toContain('signalExternalWorkflowExecutionInitiatedEventAttributes');
    expect(events.length, types.join(',')).toBeLessThanOrEqual(12);
  }

  // Every history of the tree replays against today's code.
  const ids = [batchWorkflowId(id), ...[...slots], jobWorkflowId(id, 1), jobWorkflowId(id, 40)];
  const histories = await Promise.all(ids.map(async (workflowId) => ({ workflowId, history: await s.client.workflow.getHandle(workflowId).fetchHistory() })));
  for await (const r of Worker.runReplayHistories({ workflowBundle: workflowBundle() }, histories)) {
    expect(r.error, `${r.workflowId}: ${String(r.error)}`).toBeUndefined();
  }
  expect(ids).toContain(batchPartitionWorkflowId(id, 0));
});
