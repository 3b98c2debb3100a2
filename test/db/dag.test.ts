/**
 * The DAG bookkeeping and the exactly-once rules, against a real PostgreSQL.
 */
import { describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { useTestDatabase } from '../support/db-url';
import { rawRows } from '../../db/client';
import { createBatch, createUpdate, getBatch } from '../../db/queries/batches';
import { cancelBatchJobs, claimReadyJobs, commitUpdate, finishJob, finishJobs, getJob, insertJobs, listJobPage } from '../../db/queries/jobs';
import { endAttempt, getAttempt, markDispatched, reserveAttempt } from '../../db/queries/attempts';
import { activateInstance, getInstance, insertInstance } from '../../db/queries/instances';
import { parseJobBunch } from '../../domain/spec';
import { ensureBillingProject } from '../../db/queries/users';
import { changeProjectStatus } from '../../db/queries/billing-projects';
import { definePools } from '../../domain/pools';
import type { JobState } from '../../domain/states';

const database = useTestDatabase('db_dag', async (db) => {
  await ensureBillingProject(db, 'p');
});

const pools = definePools(16);
let seq = 0;

/** A batch with one committed update; `parents[i]` are the in-update parents of job i+1. */
async function batchWith(parents: number[][], opts: { alwaysRun?: number[]; cancelAfterNFailures?: number } = {}) {
  const db = database.db;
  const { batch } = await createBatch(db, { user: 'u', billingProject: 'p', token: `t${++seq}`, attributes: {}, callback: null, cancelAfterNFailures: opts.cancelAfterNFailures ?? null }, 1);
  const update = await createUpdate(db, batch.id, `t${seq}`, parents.length, 1);
  const bunch = parents.map((ps, i) => ({
    job_id: i + 1,
    process: { type: 'docker', image: 'x', command: ['true'] },
    in_update_parent_ids: ps,
    always_run: opts.alwaysRun?.includes(i + 1) ?? false,
  }));
  await insertJobs(db, batch.id, update.updateId, parseJobBunch(bunch, { startJobId: update.startJobId, nJobsInUpdate: parents.length, pools, user: 'u', regions: ['local'] }));
  await commitUpdate(db, batch.id, update.updateId, 2);
  return batch.id;
}

async function states(batchId: number): Promise<JobState[]> {
  return (await listJobPage(database.db, { batchId, filter: undefined, lastJobId: null, limit: 1000 })).map((j) => j.state);
}

describe('the DAG walk', () => {
  it('lists only the jobs of committed updates, as Hail', async () => {
    const db = database.db;
    const b = await batchWith([[]]);
    const update = await createUpdate(db, b, `t${++seq}-second`, 1, 2);
    const bunch = [{ job_id: 1, process: { type: 'docker', image: 'x', command: ['true'] } }];
    await insertJobs(db, b, update.updateId, parseJobBunch(bunch, { startJobId: update.startJobId, nJobsInUpdate: 1, pools, user: 'u', regions: ['local'] }));
    expect(await states(b)).toEqual(['Ready']);
    await commitUpdate(db, b, update.updateId, 3);
    expect(await states(b)).toEqual(['Ready', 'Ready']);
  });

  it("cancels the whole batch once its failures reach the batch's cancel_after_n_failures, not before", async () => {
    const b = await batchWith([[], [], [], [], [4]], { cancelAfterNFailures: 2 });
    await finishJob(database.db, b, 1, 'Failed', { now: 3 });
    expect(await states(b)).toEqual(['Failed', 'Ready', 'Ready', 'Ready', 'Pending']);
    expect((await getBatch(database.db, b))?.cancelled).toBe(false);
    await finishJob(database.db, b, 2, 'Failed', { now: 4 });
    expect((await getBatch(database.db, b))?.cancelled).toBe(true);
    // Ready jobs no workflow owns complete as Cancelled at once; the Pending child follows its parent.
    expect(await states(b)).toEqual(['Failed', 'Failed', 'Cancelled', 'Cancelled', 'Cancelled']);
    expect(await getBatch(database.db, b)).toMatchObject({ nFailed: 2, nCancelled: 3, nCompleted: 5 });
  });

  it('makes parentless jobs Ready at commit and children Ready when all parents succeed', async () => {
    const b = await batchWith([[], [], [1, 2], [3]]);
    expect(await states(b)).toEqual(['Ready', 'Ready', 'Pending', 'Pending']);
    await finishJob(database.db, b, 1, 'Success', { now: 3 });
    expect(await states(b)).toEqual(['Success', 'Ready', 'Pending', 'Pending']);
    await finishJob(database.db, b, 2, 'Success', { now: 4 });
    expect(await states(b)).toEqual(['Success', 'Success', 'Ready', 'Pending']);
  });

  it('cancels a long chain below a failure in one walk, counting every level once', async () => {
    const n = 300;
    const b = await batchWith(Array.from({ length: n }, (_, i) => (i === 0 ? [] : [i])));
    const r = await finishJob(database.db, b, 1, 'Failed', { now: 9 });
    expect(r.batchComplete).toBe(true);
    const all = await states(b);
    expect(all[0]).toBe('Failed');
    expect(all.slice(1).every((st) => st === 'Cancelled')).toBe(true);
    expect(await getBatch(database.db, b)).toMatchObject({ nCompleted: n, nFailed: 1, nCancelled: n - 1, nSucceeded: 0 });
  });

  it('cancels a 10,000-deep chain in one transaction, always_run below a cancelled parent made Ready', async () => {
    const n = 10_000;
    const b = await batchWith(Array.from({ length: n }, (_, i) => (i === 0 ? [] : [i])), { alwaysRun: [n - 1] });
    await finishJob(database.db, b, 1, 'Failed', { now: 9 });
    const counts = await rawRows<{ state: string; n: number; last: number }>(database.db, sql`SELECT state::text AS state, count(*)::int AS n, max(job_id) AS last FROM jobs WHERE batch_id = ${b} GROUP BY state ORDER BY last`);
    // The always_run job runs; the one below it waits for it.
    expect(counts).toEqual([
      { state: 'Failed', n: 1, last: 1 },
      { state: 'Cancelled', n: n - 3, last: n - 2 },
      { state: 'Ready', n: 1, last: n - 1 },
      { state: 'Pending', n: 1, last: n },
    ]);
    expect(await getBatch(database.db, b)).toMatchObject({ nCompleted: n - 2, nCancelled: n - 3, nFailed: 1 });
  });

  it('stops a cancellation at a job that still waits for a parent outside it, and finishes it when that parent ends', async () => {
    // 1 fails; 3 is below it; 4 waits for 3 and for 2, which is still to run; 5 is below 4.
    const b = await batchWith([[], [], [1], [3, 2], [4]]);
    await finishJob(database.db, b, 1, 'Failed', { now: 9 });
    expect(await states(b)).toEqual(['Failed', 'Ready', 'Cancelled', 'Pending', 'Pending']);
    await finishJob(database.db, b, 2, 'Success', { now: 10 });
    expect(await states(b)).toEqual(['Failed', 'Success', 'Cancelled', 'Cancelled', 'Cancelled']);
    expect(await getBatch(database.db, b)).toMatchObject({ nCompleted: 5, nCancelled: 3 });
  });

  it('stamps the job with its own end time and the batch with the moment it completed', async () => {
    const b = await batchWith([[]]);
    // The worker's report says the job ended at 7; the driver learns of it at 20.
    const r = await finishJob(database.db, b, 1, 'Success', { endTime: 7, now: 20 });
    expect(r.batchComplete).toBe(true);
    expect((await getJob(database.db, b, 1))?.endTime).toBe(7);
    expect((await getBatch(database.db, b))?.timeCompleted).toBe(20);
  });

  it('cancels the whole subtree below a failure, except always_run jobs, and completes the batch', async () => {
    const b = await batchWith([[], [1], [2], [2], [4]], { alwaysRun: [4] });
    await finishJob(database.db, b, 1, 'Failed', { now: 3, exitCode: 1 });
    expect(await states(b)).toEqual(['Failed', 'Cancelled', 'Cancelled', 'Ready', 'Pending']);
    const r = await finishJob(database.db, b, 4, 'Success', { now: 4 });
    expect(await states(b)).toEqual(['Failed', 'Cancelled', 'Cancelled', 'Success', 'Ready']);
    expect(r.batchComplete).toBe(false);
    const last = await finishJob(database.db, b, 5, 'Success', { now: 5 });
    expect(last.batchComplete).toBe(true);
    const batch = await getBatch(database.db, b);
    expect(batch).toMatchObject({ storedState: 'complete', nCompleted: 5, nSucceeded: 2, nFailed: 1, nCancelled: 2, timeCompleted: 5 });
  });

  it('walks a long cancelled chain level by level in one transaction', async () => {
    const chain = Array.from({ length: 300 }, (_, i) => (i === 0 ? [] : [i]));
    const b = await batchWith(chain);
    await finishJob(database.db, b, 1, 'Error', { now: 3 });
    const s = await states(b);
    expect(s[0]).toBe('Error');
    expect(s.slice(1).every((x) => x === 'Cancelled')).toBe(true);
    expect((await getBatch(database.db, b))?.storedState).toBe('complete');
  });

  it('completes a job exactly once: a repeat changes nothing and counts nothing', async () => {
    const b = await batchWith([[], [1]]);
    const first = await finishJob(database.db, b, 1, 'Success', { now: 3 });
    const again = await finishJob(database.db, b, 1, 'Failed', { now: 4 });
    expect(first.changed).toBe(true);
    expect(again.changed).toBe(false);
    expect((await getJob(database.db, b, 1))?.state).toBe('Success');
    expect((await getBatch(database.db, b))?.nCompleted).toBe(1);
    expect((await getJob(database.db, b, 2))?.nPendingParents).toBe(0);
  });

  it('counts parents from an earlier update that already finished', async () => {
    const db = database.db;
    const b = await batchWith([[], []]);
    await finishJob(db, b, 1, 'Success', { now: 3 });
    await finishJob(db, b, 2, 'Failed', { now: 3 });
    const u = await createUpdate(db, b, 'second', 2, 4);
    const bunch = [
      { job_id: 1, process: { type: 'docker', image: 'x', command: ['true'] }, absolute_parent_ids: [1] },
      { job_id: 2, process: { type: 'docker', image: 'x', command: ['true'] }, absolute_parent_ids: [2] },
    ];
    await insertJobs(db, b, u.updateId, parseJobBunch(bunch, { startJobId: u.startJobId, nJobsInUpdate: 2, pools, user: 'u', regions: ['local'] }));
    await commitUpdate(db, b, u.updateId, 5);
    expect(await states(b)).toEqual(['Success', 'Failed', 'Ready', 'Cancelled']);
  });
});

describe('claims and attempts', () => {
  it('a retried claim returns the same jobs and never more', async () => {
    const b = await batchWith([[], [], [], []]);
    const first = await claimReadyJobs(database.db, b, 'wf/run/0', 2);
    const retry = await claimReadyJobs(database.db, b, 'wf/run/0', 2);
    const next = await claimReadyJobs(database.db, b, 'wf/run/1', 10);
    expect(first.jobIds).toEqual([1, 2]);
    expect(retry.jobIds).toEqual([1, 2]);
    expect(next.jobIds).toEqual([3, 4]);
  });

  it('reserves cores once, ends an attempt once and gives the cores back once', async () => {
    const db = database.db;
    const b = await batchWith([[]]);
    await claimReadyJobs(db, b, 'c/0', 1);
    await insertInstance(db, { name: 'i-1', pool: 'standard', coresMcpu: 4000, activationTokenHash: 'h', now: 1 });
    await activateInstance(db, 'i-1', { address: 'http://127.0.0.1:1', tokenHash: 'x', now: 1 });
    const key = { batchId: b, jobId: 1, attemptId: 'aaaaaa' };
    expect(await reserveAttempt(db, { ...key, instanceName: 'i-1', coresMcpu: 1000, now: 2 })).toBe(true);
    expect(await reserveAttempt(db, { ...key, attemptId: 'bbbbbb', instanceName: 'i-1', coresMcpu: 1000, now: 2 })).toBe(false);
    expect((await getInstance(db, 'i-1'))?.freeCoresMcpu).toBe(3000);
    expect(await endAttempt(db, key, { endTime: 3, outcome: 'succeeded', exitCode: 0 })).toBe(true);
    expect(await endAttempt(db, key, { endTime: 4, outcome: 'failed', exitCode: 1 })).toBe(false);
    expect((await getInstance(db, 'i-1'))?.freeCoresMcpu).toBe(4000);
  });

  it("acknowledges a round's dispatches at once, keeps the first time, and names those ended meanwhile", async () => {
    const db = database.db;
    const b = await batchWith([[], [], []]);
    await claimReadyJobs(db, b, 'm/0', 3);
    await insertInstance(db, { name: 'i-m', pool: 'standard', coresMcpu: 4000, activationTokenHash: 'h', now: 1 });
    await activateInstance(db, 'i-m', { address: 'http://127.0.0.1:1', tokenHash: 'x', now: 1 });
    const keys = [1, 2, 3].map((jobId) => ({ batchId: b, jobId, attemptId: `m${jobId}m${jobId}m`, tag: `k${jobId}` }));
    for (const k of keys) expect(await reserveAttempt(db, { ...k, instanceName: 'i-m', coresMcpu: 1000, now: 2 })).toBe(true);
    // Job 2's attempt was cancelled on its way (no result); job 3's already reported one.
    await endAttempt(db, keys[1]!, { endTime: 3, outcome: null, reason: 'cancelled' });
    await endAttempt(db, keys[2]!, { endTime: 3, outcome: 'succeeded', exitCode: 0 });
    const ended = await markDispatched(db, keys, 5);
    expect(ended).toEqual([keys[1]]);
    expect(await markDispatched(db, [keys[0]!], 9)).toEqual([]);
    expect((await getAttempt(db, keys[0]!))?.timeDispatched).toBe(5);
    expect(await markDispatched(db, [], 9)).toEqual([]);
  });

  it('a reservation that does not fit the instance changes nothing', async () => {
    const db = database.db;
    const b = await batchWith([[]]);
    await claimReadyJobs(db, b, 'd/0', 1);
    await insertInstance(db, { name: 'i-2', pool: 'standard', coresMcpu: 500, activationTokenHash: 'h', now: 1 });
    await activateInstance(db, 'i-2', { address: 'http://127.0.0.1:1', tokenHash: 'x', now: 1 });
    expect(await reserveAttempt(db, { batchId: b, jobId: 1, attemptId: 'cccccc', instanceName: 'i-2', coresMcpu: 1000, now: 2 })).toBe(false);
    expect((await getJob(db, b, 1))?.state).toBe('Ready');
    expect((await getInstance(db, 'i-2'))?.freeCoresMcpu).toBe(500);
  });
});

describe('cancellation', () => {
  it('cancels unowned Ready jobs at once, leaves owned and always_run ones to their workflows', async () => {
    const db = database.db;
    const b = await batchWith([[], [], [], [1]], { alwaysRun: [3] });
    await claimReadyJobs(db, b, 'e/0', 1);
    await cancelBatchJobs(db, b, 3);
    expect(await states(b)).toEqual(['Ready', 'Cancelled', 'Ready', 'Pending']);
    expect((await getJob(db, b, 1))?.cancelled).toBe(true);
    await finishJob(db, b, 1, 'Cancelled', { now: 4, from: ['Ready'] });
    expect(await states(b)).toEqual(['Cancelled', 'Cancelled', 'Ready', 'Cancelled']);
    expect((await getBatch(db, b))?.cancelled).toBe(true);
  });

  it("marks a complete batch cancelled without touching its jobs, as Hail's cancel_job_group of the root", async () => {
    const db = database.db;
    const b = await batchWith([[]]);
    await finishJob(db, b, 1, 'Success', { now: 3 });
    expect(await cancelBatchJobs(db, b, 4)).toEqual({ batchComplete: true, cancelled: true });
    expect(await getBatch(db, b)).toMatchObject({ cancelled: true, storedState: 'complete', nSucceeded: 1, nCancelled: 0 });
    expect(await states(b)).toEqual(['Success']);
    // Again: nothing more to do, and it says so.
    expect(await cancelBatchJobs(db, b, 5)).toEqual({ batchComplete: true, cancelled: false });
    const running = await batchWith([[]]);
    expect(await cancelBatchJobs(db, running, 5)).toEqual({ batchComplete: true, cancelled: true });
  });
});

describe('what a claim tells the batch workflow', () => {
  it('says whether there is committed work and whether a reserved update may still be committed', async () => {
    const db = database.db;
    const { batch } = await createBatch(db, { user: 'u', billingProject: 'p', token: `claim${++seq}`, attributes: {}, callback: null, cancelAfterNFailures: null }, 1);
    expect(await claimReadyJobs(db, batch.id, 'c/0', 10)).toMatchObject({ complete: true, running: false, commitPending: false });
    const update = await createUpdate(db, batch.id, `claim${seq}`, 1, 1);
    const bunch = [{ job_id: 1, process: { type: 'docker', image: 'x', command: ['true'] } }];
    await insertJobs(db, batch.id, update.updateId, parseJobBunch(bunch, { startJobId: 1, nJobsInUpdate: 1, pools, user: 'u', regions: ['local'] }));
    // Before the commit the batch is still complete with nothing to walk, but a commit is on its way.
    expect(await claimReadyJobs(db, batch.id, 'c/1', 10)).toMatchObject({ jobIds: [], complete: true, running: false, commitPending: true });
    await commitUpdate(db, batch.id, update.updateId, 2);
    expect(await claimReadyJobs(db, batch.id, 'c/2', 10)).toMatchObject({ jobIds: [1], complete: false, running: true, commitPending: false, state: 'running' });
    await finishJob(db, batch.id, 1, 'Success', { now: 3 });
    expect(await claimReadyJobs(db, batch.id, 'c/3', 10)).toMatchObject({ complete: true, running: false, commitPending: false, state: 'success', laterUpdate: false });
    // A later update to the complete batch: its phase may follow an earlier one.
    const later = await createUpdate(db, batch.id, `claim${seq}-later`, 1, 4);
    await insertJobs(db, batch.id, later.updateId, parseJobBunch(bunch, { startJobId: later.startJobId, nJobsInUpdate: 1, pools, user: 'u', regions: ['local'] }));
    expect(await claimReadyJobs(db, batch.id, 'c/4', 10)).toMatchObject({ complete: true, commitPending: true, laterUpdate: false });
    await commitUpdate(db, batch.id, later.updateId, 5);
    expect(await claimReadyJobs(db, batch.id, 'c/5', 10)).toMatchObject({ jobIds: [2], running: true, commitPending: false, laterUpdate: true });
  });
});

describe('batches and their billing project', () => {
  it('refuses a new batch once the project is closed, inside the insert itself, but answers a retry of an earlier create', async () => {
    const db = database.db;
    await ensureBillingProject(db, 'closing');
    const first = await createBatch(db, { user: 'u', billingProject: 'closing', token: 'before-close', attributes: {}, callback: null, cancelAfterNFailures: null }, 1);
    expect(first.created).toBe(true);
    await changeProjectStatus(db, 'closing', 'close');
    await expect(
      createBatch(db, { user: 'u', billingProject: 'closing', token: 'after-close', attributes: {}, callback: null, cancelAfterNFailures: null }, 2),
    ).rejects.toMatchObject({ kind: 'forbidden', field: 'billing_project' });
    const retry = await createBatch(db, { user: 'u', billingProject: 'closing', token: 'before-close', attributes: {}, callback: null, cancelAfterNFailures: null }, 3);
    expect(retry).toMatchObject({ created: false, batch: { id: first.batch.id } });
  });
});

describe('finishing several jobs of a batch in one transaction', () => {
  it('leaves the batch as finishing them one by one does: states, children, counts, completion', async () => {
    const shape = [[], [], [], [1, 2], [3], [4, 5]];
    const one = await batchWith(shape);
    const many = await batchWith(shape);
    await finishJob(database.db, one, 1, 'Success', { now: 5, endTime: 4, exitCode: 0 });
    await finishJob(database.db, one, 2, 'Success', { now: 5, endTime: 4, exitCode: 0 });
    await finishJob(database.db, one, 3, 'Failed', { now: 5, endTime: 4, exitCode: 1 });
    const r = await finishJobs(
      database.db,
      many,
      [
        { jobId: 1, state: 'Success', endTime: 4, exitCode: 0 },
        { jobId: 2, state: 'Success', endTime: 4, exitCode: 0 },
        { jobId: 3, state: 'Failed', endTime: 4, exitCode: 1 },
      ],
      { now: 5 },
    );
    expect([...r.changed].sort()).toEqual([1, 2, 3]);
    expect(r.batchComplete).toBe(false);
    expect(await states(many)).toEqual(await states(one));
    // Job 6 waits for job 4 as well, doomed by its cancelled parent 5.
    expect(await states(many)).toEqual(['Success', 'Success', 'Failed', 'Ready', 'Cancelled', 'Pending']);
    const counts = (b: Awaited<ReturnType<typeof getBatch>>) => ({ c: b?.nCompleted, s: b?.nSucceeded, f: b?.nFailed, x: b?.nCancelled });
    expect(counts(await getBatch(database.db, many))).toEqual(counts(await getBatch(database.db, one)));
    expect(await getJob(database.db, many, 3)).toMatchObject({ state: 'Failed', exitCode: 1, endTime: 4 });

    // Job 4 ends: job 6 is released Cancelled and the batch is complete, stamped with the
    // driver's clock, not the job's end.
    const last = await finishJobs(database.db, many, [{ jobId: 4, state: 'Success', endTime: 6, exitCode: 0 }], { now: 7, from: ['Ready'] });
    expect(last).toEqual({ changed: new Set([4]), batchComplete: true });
    expect(await getBatch(database.db, many)).toMatchObject({ nCompleted: 6, timeCompleted: 7 });
  });

  it('finishes a job named twice once, and leaves jobs that are not in a `from` state alone', async () => {
    const b = await batchWith([[], [], [1]]);
    const r = await finishJobs(
      database.db,
      b,
      [
        { jobId: 1, state: 'Success' },
        { jobId: 1, state: 'Failed' },
        { jobId: 3, state: 'Success' },
      ],
      { now: 9, from: ['Ready'] },
    );
    // Job 3 was Pending when the update ran: not finished; job 1 took its first item.
    expect([...r.changed]).toEqual([1]);
    expect(await states(b)).toEqual(['Success', 'Ready', 'Ready']);
    expect(await getBatch(database.db, b)).toMatchObject({ nCompleted: 1, nSucceeded: 1, nFailed: 0 });
    // Again: nothing changes, nothing is counted twice.
    expect((await finishJobs(database.db, b, [{ jobId: 1, state: 'Success' }], { now: 10 })).changed.size).toBe(0);
    expect(await getBatch(database.db, b)).toMatchObject({ nCompleted: 1 });
  });
});
