/**
 * Fair share end to end: a user who arrives behind a long queue of another user's jobs gets
 * cores as soon as any free up, instead of waiting for the queue to drain (FIFO would make it
 * wait for all 200). Real agents with the process executor, 2 agents x 4 cores, 1-core jobs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { and, eq, sql } from 'drizzle-orm';
import { attempts, jobs } from '../../db/schema';
import { schedulerWorkflowId } from '../../workflows/definitions';
import { job, startTestService, waitFor, type TestService } from '../support/service';

let s: TestService;

beforeAll(async () => {
  s = await startTestService({ name: 'e2e_fairness', executor: 'process', pools: 'standard:2', coresPerAgent: 4 });
});
afterAll(async () => {
  await s?.stop();
});

async function submit(token: string, project: string, n: number, seconds: number): Promise<number> {
  const bunch = Array.from({ length: n }, (_, k) =>
    job(k + 1, ['sleep', String(seconds)], { resources: { cpu: '1', memory: 'standard' } }),
  );
  const res = await s.api('/api/v1alpha/batches/create-fast', {
    method: 'POST',
    token,
    json: { batch: { billing_project: project, n_jobs: n, token: `fair-${project}-${Date.now()}` }, bunch },
  });
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { id: number }).id;
}

/** The support helper polls as the default user, who may not see these users' batches. */
function waitForBatchAs(token: string, batchId: number, timeoutMs: number): Promise<Record<string, unknown>> {
  return waitFor(`batch ${batchId} to complete`, async () => {
    const body = (await (await s.api(`/api/v1alpha/batches/${batchId}`, { token })).json()) as Record<string, unknown>;
    return body['complete'] === true ? body : null;
  }, timeoutMs, 250);
}

/** First scheduling time and end time of every job of a batch. */
async function timesOf(batchId: number): Promise<{ jobId: number; scheduled: number; end: number }[]> {
  const rows = await s.database.db
    .select({ jobId: attempts.jobId, scheduled: sql<string>`min(${attempts.timeScheduled})`, end: sql<string>`max(${attempts.endTime})` })
    .from(attempts)
    .where(eq(attempts.batchId, batchId))
    .groupBy(attempts.jobId);
  return rows.map((r) => ({ jobId: r.jobId, scheduled: Number(r.scheduled), end: Number(r.end) }));
}

/** Results of the scheduler's local activities, as recorded in its workflow history. */
async function schedulerDecisions(): Promise<{ user: string; placed: number; allocationMcpu: number }[]> {
  // The scheduler continues as new every 1,000 events: walk its runs back from the current one.
  const id = schedulerWorkflowId(s.config.temporal.taskQueue);
  const events = [];
  for (let runId: string | undefined = undefined; ; ) {
    const history = await s.client.workflow.getHandle(id, runId).fetchHistory();
    events.unshift(...(history.events ?? []));
    runId = history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
    if (!runId) break;
  }
  const out: { user: string; placed: number; allocationMcpu: number }[] = [];
  for (const e of events) {
    // A local activity's marker keeps its result under "result" ("data" holds its metadata).
    const payload = e.markerRecordedEventAttributes?.details?.['result']?.payloads?.[0]?.data;
    if (!payload) continue;
    const result = JSON.parse(Buffer.from(payload).toString('utf8')) as { users?: typeof out };
    out.push(...(result.users ?? []));
  }
  return out;
}

describe('fair share between users', () => {
  it("starts a later user's jobs while the first user's queue is still long, and finishes them first", async () => {
    const tokenA = await s.addUser('usera', { projects: ['fair-a'] });
    const tokenB = await s.addUser('userb', { projects: ['fair-b'] });
    const a = await submit(tokenA, 'fair-a', 200, 2);
    // B arrives once A holds every core.
    await waitFor('A to fill the pool', async () => {
      const [row] = await s.database.db
        .select({ n: sql<string>`count(*)` })
        .from(jobs)
        .where(and(eq(jobs.batchId, a), eq(jobs.state, 'Running')));
      return Number(row?.n) >= 8;
    }, 60_000);
    const b = await submit(tokenB, 'fair-b', 20, 2);

    const batchB = await waitForBatchAs(tokenB, b, 120_000);
    expect(batchB).toMatchObject({ state: 'success', n_succeeded: 20 });
    const batchA = await waitForBatchAs(tokenA, a, 240_000);
    expect(batchA).toMatchObject({ state: 'success', n_succeeded: 200 });

    const timesA = await timesOf(a);
    const timesB = await timesOf(b);
    expect(timesA).toHaveLength(200);
    expect(timesB).toHaveLength(20);
    const firstB = Math.min(...timesB.map((t) => t.scheduled));
    const lastB = Math.max(...timesB.map((t) => t.end));
    // When B's first job was placed, most of A's queue was still waiting: B did not queue behind it.
    const aWaitingAtFirstB = timesA.filter((t) => t.scheduled > firstB).length;
    expect(aWaitingAtFirstB).toBeGreaterThanOrEqual(100);
    // B's 20 jobs all finished while a large part of A's 200 had yet to finish.
    const aUnfinishedAtLastB = timesA.filter((t) => t.end > lastB).length;
    expect(aUnfinishedAtLastB).toBeGreaterThanOrEqual(50);
    console.info('fairness', { aWaitingAtFirstB, aUnfinishedAtLastB, bSpanMs: lastB - firstB });

    // The rounds' decisions are in the scheduler's history: B was given cores and placed jobs.
    const decisions = await schedulerDecisions();
    const forB = decisions.filter((d) => d.user === 'userb');
    expect(forB.reduce((n, d) => n + d.placed, 0)).toBeGreaterThanOrEqual(20);
    expect(forB.every((d) => d.allocationMcpu > 0)).toBe(true);
  }, 400_000);
});
