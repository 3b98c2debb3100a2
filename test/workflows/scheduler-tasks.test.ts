/**
 * The scheduler's workflow tasks stay short while rounds run back to back. Rounds are local
 * activities, so a run of rounds that each fill up would otherwise be one workflow task for as
 * long as the run lasts (until the SDK's heartbeat at 8 s, past its 5 s TMPRL1104 warning).
 *
 * The real scheduler workflow runs on the real dev server, in a worker of its own whose
 * `schedulePass` reports rounds of a given length: this test is about the shape of the
 * workflow's history, which the database behind a real round does not change.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { PassResult } from '../../activities/scheduler';
import { schedulerPokeSignal } from '../../workflows/definitions';
import { testTemporal, uniqueTaskQueue, workflowBundle, type TestTemporal } from '../support/temporal';
import { waitFor } from '../support/service';

let t: TestTemporal;
let connection: NativeConnection;
beforeAll(async () => {
  t = await testTemporal();
  connection = await NativeConnection.connect({ address: t.address });
});
afterAll(async () => {
  await connection?.close();
});

type HistoryEvent = { markerRecordedEventAttributes?: { markerName?: string | null } | null };
/** An event's type, and a local activity's marker told from a patch's. */
const typeOf = (e: HistoryEvent): string => {
  const ty = Object.keys(e).find((k) => k.endsWith('EventAttributes') && (e as Record<string, unknown>)[k] != null) ?? '?';
  return ty === 'markerRecordedEventAttributes' ? `marker:${e.markerRecordedEventAttributes?.markerName ?? ''}` : ty;
};

/** `wallMs`: how long a round really takes, when it is not what it reports as its elapsedMs. */
type Round = Omit<PassResult, 'users' | 'scheduled' | 'dispatched' | 'endedAt'> & { wallMs?: number };

/** A worker of the test's own for the real scheduler workflow, its rounds given by `schedulePass`. */
function schedulerWorker(taskQueue: string, schedulePass: () => Promise<PassResult>): Promise<Worker> {
  return Worker.create({ connection, namespace: t.namespace, taskQueue, workflowBundle: workflowBundle(), activities: { schedulePass } });
}

async function runScheduler(rounds: (n: number) => Round, until: number): Promise<string[]> {
  const taskQueue = uniqueTaskQueue('sched-tasks');
  let n = 0;
  const worker = await schedulerWorker(taskQueue, async () => {
    n += 1;
    const { wallMs, ...r } = rounds(n);
    const ms = wallMs ?? r.elapsedMs;
    if (ms) await new Promise((resolve) => setTimeout(resolve, ms));
    return { scheduled: 1, dispatched: 1, users: [], ...r, endedAt: Date.now() };
  });
  const handle = await t.client.workflow.start('schedulerWorkflow', {
    taskQueue,
    workflowId: `${taskQueue}-scheduler`,
    args: [{ intervalMs: 600_000 }],
  });
  try {
    await worker.runUntil(async () => {
      await waitFor(`${until} rounds`, async () => n >= until, 60_000);
      // One more round after a poke, so the last run of rounds is in the history.
      await handle.signal(schedulerPokeSignal);
      await waitFor('the round after the poke', async () => n > until, 30_000);
      await handle.terminate('test over');
    });
  } finally {
    await handle.terminate().catch(() => undefined);
  }
  return ((await handle.fetchHistory()).events ?? []).map((e) => typeOf(e as HistoryEvent));
}

/** Rounds run in each workflow task: a task's local activities are recorded as markers right after its completion. */
function roundsPerTask(types: string[]): number[] {
  const out: number[] = [];
  for (const ty of types) {
    if (ty === 'workflowTaskCompletedEventAttributes') out.push(0);
    else if (ty === 'marker:core_local_activity' && out.length > 0) out[out.length - 1]! += 1;
  }
  return out;
}

it('ends its workflow task after 1.5 s of back-to-back rounds', async () => {
  // 12 rounds of 400 ms that each want more, then rounds with nothing more to do.
  const types = await runScheduler((n) => ({ more: n <= 12, elapsedMs: 400 }), 13);
  const perTask = roundsPerTask(types);
  // No task held more than 4 rounds (1.6 s): the 12 chained rounds were cut by 1 ms timers.
  expect(Math.max(...perTask), perTask.join(',')).toBeLessThanOrEqual(4);
  expect(types.filter((ty) => ty === 'timerStartedEventAttributes').length).toBeGreaterThanOrEqual(3);
}, 120_000);

it('counts the time between rounds too: quick rounds that each wait for a slot still end the task', async () => {
  // Rounds that report 10 ms of work but end 400 ms apart (as on a busy worker, where each
  // local activity waits for a slot): by the wall clock the run passes 1.5 s after 4 rounds.
  const types = await runScheduler((n) => ({ more: n <= 12, elapsedMs: 10, wallMs: 400 }), 13);
  const perTask = roundsPerTask(types);
  expect(Math.max(...perTask), perTask.join(',')).toBeLessThanOrEqual(5);
  expect(types.filter((ty) => ty === 'timerStartedEventAttributes').length).toBeGreaterThanOrEqual(2);
}, 120_000);

it('keeps quick back-to-back rounds in one task', async () => {
  // 20 rounds of 10 ms: far below the bound, they stay together (no timer per round).
  const types = await runScheduler((n) => ({ more: n <= 20, elapsedMs: 10 }), 21);
  const perTask = roundsPerTask(types);
  expect(Math.max(...perTask), perTask.join(',')).toBeGreaterThanOrEqual(21);
  expect(types).not.toContain('timerFiredEventAttributes');
}, 120_000);

it('continues as new once a run has maxEventsPerRun events, keeping its rate limits', async () => {
  const taskQueue = uniqueTaskQueue('sched-can');
  let rounds = 0;
  const worker = await schedulerWorker(taskQueue, async () => {
    rounds += 1;
    return { scheduled: 0, dispatched: 0, users: [], more: false, elapsedMs: 1, endedAt: Date.now() };
  });
  const handle = await t.client.workflow.start('schedulerWorkflow', {
    taskQueue,
    workflowId: `${taskQueue}-scheduler`,
    args: [{ intervalMs: 600_000, maxEventsPerRun: 40, rateLimits: { standard: 7 } }],
  });
  const firstRun = handle.firstExecutionRunId;
  try {
    await worker.runUntil(async () => {
      // Each poke is a round: a signal, a workflow task and the round's marker.
      for (let i = 0; i < 30 && (await handle.describe()).runId === firstRun; i++) {
        const before = rounds;
        await handle.signal(schedulerPokeSignal);
        await waitFor('the poke round', async () => rounds > before, 30_000, 20);
      }
      expect((await handle.describe()).runId).not.toBe(firstRun);
      const events = (await t.client.workflow.getHandle(handle.workflowId, firstRun).fetchHistory()).events ?? [];
      expect(typeOf(events.at(-1) as HistoryEvent)).toBe('workflowExecutionContinuedAsNewEventAttributes');
      // Cut at the first workflow task past 40 events, not at the server's 4,096.
      expect(events.length).toBeLessThanOrEqual(60);
      expect(await handle.query('rateLimits')).toEqual({ standard: 7 });
    });
  } finally {
    await handle.terminate().catch(() => undefined);
  }
}, 120_000);
