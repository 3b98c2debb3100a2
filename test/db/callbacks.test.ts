/**
 * The callback outbox against a real PostgreSQL: one row per completion, written by the
 * completing transaction, and claims that never let two holders send one row at once.
 */
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db-url';
import { createBatch, createUpdate, getBatch } from '../../db/queries/batches';
import { cancelBatchJobs, commitUpdate, finishJob, insertJobs } from '../../db/queries/jobs';
import { claimDueCallbacks, enqueueCallback, listCallbacks, recordCallbackOutcome } from '../../db/queries/callbacks';
import { ensureBillingProject } from '../../db/queries/users';
import { parseJobBunch } from '../../domain/spec';
import { definePools } from '../../domain/pools';
import { batchJson } from '../../domain/batch-json';

const database = useTestDatabase('db_callbacks', async (db) => {
  await ensureBillingProject(db, 'p');
});

const pools = definePools(16);
let seq = 0;
const URL_ = 'http://hooks.example.com/done';

async function addUpdate(batchId: number, parents: number[][]): Promise<number> {
  const db = database.db;
  const update = await createUpdate(db, batchId, `u${++seq}`, parents.length, 1);
  const bunch = parents.map((ps, i) => ({
    job_id: i + 1,
    process: { type: 'docker', image: 'x', command: ['true'] },
    in_update_parent_ids: ps,
  }));
  await insertJobs(db, batchId, update.updateId, parseJobBunch(bunch, { startJobId: update.startJobId, nJobsInUpdate: parents.length, pools, user: 'u', regions: ['local'] }));
  await commitUpdate(db, batchId, update.updateId, 2);
  return update.startJobId;
}

async function batchWith(parents: number[][], callback: string | null = URL_): Promise<number> {
  const { batch } = await createBatch(
    database.db,
    { user: 'u', billingProject: 'p', token: `t${++seq}`, attributes: { name: 'cb' }, callback, cancelAfterNFailures: null },
    1,
  );
  await addUpdate(batch.id, parents);
  return batch.id;
}

/** Makes every outbox row of other tests not due, so claims here see only this test's rows. */
async function settleOthers(): Promise<void> {
  const rows = await claimDueCallbacks(database.db, { token: 'sweep', now: 1e15, leaseMs: 1, limit: 100_000 });
  for (const r of rows) await recordCallbackOutcome(database.db, r.id, 'sweep', { kind: 'delivered', status: 200 }, 1);
}

describe('the callback outbox', () => {
  it('gets one row when a batch with a callback completes, with the batch JSON as it completed', async () => {
    const b = await batchWith([[], [1]]);
    await finishJob(database.db, b, 1, 'Success', { now: 10 });
    expect(await listCallbacks(database.db, b)).toEqual([]);
    await finishJob(database.db, b, 2, 'Failed', { now: 20, exitCode: 1 });
    // A repeated report changes nothing, and writes no second row.
    await finishJob(database.db, b, 2, 'Failed', { now: 30, exitCode: 1 });
    const rows = await listCallbacks(database.db, b);
    expect(rows).toHaveLength(1);
    const batch = (await getBatch(database.db, b))!;
    expect(rows[0]).toMatchObject({ jobGroupId: 0, completion: 1, url: URL_, state: 'pending', attempts: 0, nextAttemptAt: 20, timeCreated: 20 });
    expect(rows[0]!.body).toEqual(JSON.parse(JSON.stringify(batchJson(batch))));
    expect(rows[0]!.body).toMatchObject({ id: b, state: 'failure', complete: true, n_jobs: 2, n_completed: 2, n_succeeded: 1, n_failed: 1, attributes: { name: 'cb' } });
  });

  it('gets no row for a batch without a callback', async () => {
    const b = await batchWith([[]], null);
    await finishJob(database.db, b, 1, 'Success', { now: 10 });
    expect((await getBatch(database.db, b))?.storedState).toBe('complete');
    expect(await listCallbacks(database.db, b)).toEqual([]);
  });

  it('keeps one row when the same completion is enqueued again', async () => {
    const b = await batchWith([[]]);
    await finishJob(database.db, b, 1, 'Success', { now: 10 });
    const [row] = await listCallbacks(database.db, b);
    const again = await database.db.transaction((tx) => enqueueCallback(tx, { batchId: b, jobGroupId: 0, now: 11 }));
    expect(again).toBe(row!.id);
    expect(await listCallbacks(database.db, b)).toHaveLength(1);
  });

  it('gets a second row when an update makes the batch run and complete again', async () => {
    const b = await batchWith([[]]);
    await finishJob(database.db, b, 1, 'Success', { now: 10 });
    const start = await addUpdate(b, [[]]);
    expect((await getBatch(database.db, b))?.storedState).toBe('running');
    await finishJob(database.db, b, start, 'Success', { now: 40 });
    const rows = await listCallbacks(database.db, b);
    expect(rows.map((r) => [r.completion, r.body['n_jobs'], r.body['state']])).toEqual([
      [1, 1, 'success'],
      [2, 2, 'success'],
    ]);
  });

  it('gets its row when a cancellation completes the batch', async () => {
    const b = await batchWith([[], []]);
    const r = await cancelBatchJobs(database.db, b, 50);
    expect(r.batchComplete).toBe(true);
    const rows = await listCallbacks(database.db, b);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.body).toMatchObject({ state: 'cancelled', n_cancelled: 2, complete: true });
  });

  it('takes any job group id with its own URL and body, and numbers completions per group', async () => {
    const b = await batchWith([[]]);
    const ids = await database.db.transaction(async (tx) => [
      await enqueueCallback(tx, { batchId: b, jobGroupId: 3, now: 5, url: 'https://g.example.com/3', body: { batch_id: b, job_group_id: 3, time_completed: 'a' } }),
      await enqueueCallback(tx, { batchId: b, jobGroupId: 3, now: 6, url: 'https://g.example.com/3', body: { batch_id: b, job_group_id: 3, time_completed: 'b' } }),
      await enqueueCallback(tx, { batchId: b, jobGroupId: 3, now: 6, url: 'https://g.example.com/3', body: { batch_id: b, job_group_id: 3, time_completed: 'b' } }),
      await enqueueCallback(tx, { batchId: b, jobGroupId: 4, now: 7, url: null, body: {} }),
    ]);
    expect(ids[0]).not.toBeNull();
    expect(ids[2]).toBe(ids[1]);
    expect(ids[3]).toBeNull();
    const rows = (await listCallbacks(database.db, b)).filter((r) => r.jobGroupId === 3);
    expect(rows.map((r) => [r.completion, r.url, r.body])).toEqual([
      [1, 'https://g.example.com/3', { batch_id: b, job_group_id: 3, time_completed: 'a' }],
      [2, 'https://g.example.com/3', { batch_id: b, job_group_id: 3, time_completed: 'b' }],
    ]);
  });
});

describe('claims', () => {
  it('hands a due row to one holder; only that holder records the outcome; a retry waits for its time', async () => {
    await settleOthers();
    const b = await batchWith([[]]);
    await finishJob(database.db, b, 1, 'Success', { now: 100 });
    const db = database.db;
    const [row] = await claimDueCallbacks(db, { token: 'A', now: 100, leaseMs: 60_000, limit: 10 });
    expect(row).toMatchObject({ batchId: b, state: 'in_flight', attemptToken: 'A', attempts: 1, leaseUntil: 60_100 });
    expect(await claimDueCallbacks(db, { token: 'B', now: 200, leaseMs: 60_000, limit: 10 })).toEqual([]);
    expect(await recordCallbackOutcome(db, row!.id, 'B', { kind: 'delivered', status: 200 }, 200)).toBe(false);
    expect(await recordCallbackOutcome(db, row!.id, 'A', { kind: 'retry', at: 1300, status: 500, error: 'HTTP 500' }, 300)).toBe(true);
    expect((await listCallbacks(db, b))[0]).toMatchObject({ state: 'pending', attemptToken: null, nextAttemptAt: 1300, lastStatus: 500, lastError: 'HTTP 500' });
    expect(await claimDueCallbacks(db, { token: 'C', now: 1299, leaseMs: 60_000, limit: 10 })).toEqual([]);
    const [again] = await claimDueCallbacks(db, { token: 'C', now: 1300, leaseMs: 60_000, limit: 10 });
    expect(again).toMatchObject({ id: row!.id, attempts: 2, attemptToken: 'C' });
    expect(await recordCallbackOutcome(db, row!.id, 'C', { kind: 'delivered', status: 204 }, 1400)).toBe(true);
    expect((await listCallbacks(db, b))[0]).toMatchObject({ state: 'delivered', timeDelivered: 1400, lastStatus: 204, lastError: null });
    expect(await claimDueCallbacks(db, { token: 'D', now: 1e12, leaseMs: 60_000, limit: 10 })).toEqual([]);
  });

  it('gives a row whose holder died back once its lease is over, and ignores the dead holder after', async () => {
    await settleOthers();
    const b = await batchWith([[]]);
    await finishJob(database.db, b, 1, 'Success', { now: 100 });
    const db = database.db;
    const [row] = await claimDueCallbacks(db, { token: 'A', now: 100, leaseMs: 1000, limit: 10 });
    expect(await claimDueCallbacks(db, { token: 'B', now: 1099, leaseMs: 1000, limit: 10 })).toEqual([]);
    const [taken] = await claimDueCallbacks(db, { token: 'B', now: 1100, leaseMs: 1000, limit: 10 });
    expect(taken).toMatchObject({ id: row!.id, attemptToken: 'B', attempts: 2 });
    expect(await recordCallbackOutcome(db, row!.id, 'A', { kind: 'delivered', status: 200 }, 1150)).toBe(false);
    expect(await recordCallbackOutcome(db, row!.id, 'B', { kind: 'failed', status: null, error: 'ECONNREFUSED' }, 1200)).toBe(true);
    expect((await listCallbacks(db, b))[0]).toMatchObject({ state: 'failed', lastError: 'ECONNREFUSED' });
  });

  it('splits due rows between concurrent claimers without overlap', async () => {
    await settleOthers();
    const db = database.db;
    const batchIds: number[] = [];
    for (let i = 0; i < 12; i++) {
      const b = await batchWith([[]]);
      await finishJob(db, b, 1, 'Success', { now: 100 });
      batchIds.push(b);
    }
    const claims = await Promise.all(['A', 'B', 'C'].map((t) => claimDueCallbacks(db, { token: t, now: 100, leaseMs: 60_000, limit: 5 })));
    const ids = claims.flat().map((r) => r.batchId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBeLessThanOrEqual(12);
    for (const [i, c] of claims.entries()) expect(c.every((r) => r.attemptToken === ['A', 'B', 'C'][i])).toBe(true);
    const rest = await claimDueCallbacks(db, { token: 'D', now: 100, leaseMs: 60_000, limit: 100 });
    expect([...ids, ...rest.map((r) => r.batchId)].sort()).toEqual([...batchIds].sort());
  });
});
