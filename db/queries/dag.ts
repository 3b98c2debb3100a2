/**
 * DAG bookkeeping in SQL: when jobs complete, their children's pending-parent counts drop; a
 * child whose count reaches zero becomes Ready, or Cancelled when a parent did not succeed (or
 * the batch was cancelled) and it is not always_run. A Cancelled child completes in turn, so
 * the walk repeats level by level. Set-based, so a level of any width is one statement.
 */
import { and, eq, sql } from 'drizzle-orm';
import { batches, batchUpdates } from '../schema';
import { rawRows, type Tx } from '../client';
import { intArray } from './sql-util';
import { enqueueCallback } from './callbacks';
import { ROOT_JOB_GROUP_ID } from '../../domain/callbacks';
import type { CompleteJobState } from '../../domain/states';

type ChildRow = { job_id: number; n_pending_parents: number; cancelled: boolean; always_run: boolean; state: string; update_id: number };

export type CountDelta = { completed: number; succeeded: number; failed: number; cancelled: number };

export function emptyDelta(): CountDelta {
  return { completed: 0, succeeded: 0, failed: 0, cancelled: 0 };
}

export function countState(delta: CountDelta, state: CompleteJobState, n = 1): void {
  delta.completed += n;
  if (state === 'Success') delta.succeeded += n;
  else if (state === 'Cancelled') delta.cancelled += n;
  else delta.failed += n;
}

async function committedUpdateIds(tx: Tx, batchId: number): Promise<Set<number>> {
  const rows = await tx
    .select({ id: batchUpdates.updateId })
    .from(batchUpdates)
    .where(and(eq(batchUpdates.batchId, batchId), eq(batchUpdates.committed, true)));
  return new Set(rows.map((r) => r.id));
}

/** Moves jobs whose parents are all done out of Pending; returns how many were cancelled. */
export async function settleReleased(tx: Tx, batchId: number, candidates: ChildRow[], now: number, delta: CountDelta): Promise<number[]> {
  const committed = await committedUpdateIds(tx, batchId);
  const released = candidates.filter(
    (r) => r.n_pending_parents === 0 && r.state === 'Pending' && committed.has(r.update_id),
  );
  const toCancel = released.filter((r) => r.cancelled && !r.always_run).map((r) => r.job_id);
  const toReady = released.filter((r) => !(r.cancelled && !r.always_run)).map((r) => r.job_id);
  if (toReady.length > 0) {
    await tx.execute(sql`UPDATE jobs SET state = 'Ready', time_ready = ${now}
      WHERE batch_id = ${batchId} AND job_id = ANY(${intArray(toReady)}) AND state = 'Pending'`);
  }
  if (toCancel.length > 0) {
    await tx.execute(sql`UPDATE jobs SET state = 'Cancelled', end_time = ${now}
      WHERE batch_id = ${batchId} AND job_id = ANY(${intArray(toCancel)}) AND state = 'Pending'`);
    countState(delta, 'Cancelled', toCancel.length);
  }
  return toCancel;
}

/**
 * Walks down from jobs that just completed; `bad` are those that did not succeed. Each level is
 * one statement: it takes the finished parents off their children's counts and settles every
 * child whose count reached zero (Ready, or Cancelled below a bad parent unless always_run),
 * so a chain thousands deep costs one round trip per level. The self-join `old` reads the row
 * as it was before this statement, which tells a job settled now from one settled earlier.
 */
export async function releaseChildren(
  tx: Tx,
  batchId: number,
  done: number[],
  bad: number[],
  now: number,
  delta: CountDelta,
): Promise<void> {
  let frontier = done;
  let badSet = bad;
  while (frontier.length > 0) {
    const rows = await rawRows<{ job_id: number; old_state: string; state: string }>(
      tx,
      sql`WITH p AS (
            SELECT job_id, count(*)::int AS cnt, bool_or(parent_id = ANY(${intArray(badSet)})) AS bad
              FROM job_parents WHERE batch_id = ${batchId} AND parent_id = ANY(${intArray(frontier)})
             GROUP BY job_id),
          s AS (
            SELECT o.job_id, o.state AS old_state, p.cnt, p.bad,
                   o.state = 'Pending' AND o.n_pending_parents - p.cnt = 0
                     AND EXISTS (SELECT 1 FROM batch_updates u
                                  WHERE u.batch_id = ${batchId} AND u.update_id = o.update_id AND u.committed) AS released,
                   (o.cancelled OR p.bad) AND NOT o.always_run AS doomed
              FROM jobs o JOIN p ON p.job_id = o.job_id
             WHERE o.batch_id = ${batchId})
          UPDATE jobs c
             SET n_pending_parents = c.n_pending_parents - s.cnt,
                 cancelled = c.cancelled OR s.bad,
                 state = CASE WHEN NOT s.released THEN c.state
                              WHEN s.doomed THEN 'Cancelled'::job_state ELSE 'Ready'::job_state END,
                 time_ready = CASE WHEN s.released AND NOT s.doomed THEN ${now}::bigint ELSE c.time_ready END,
                 end_time = CASE WHEN s.released AND s.doomed THEN ${now}::bigint ELSE c.end_time END
            FROM s
           WHERE c.batch_id = ${batchId} AND c.job_id = s.job_id
          RETURNING c.job_id, s.old_state::text AS old_state, c.state::text AS state`,
    );
    const cancelled = rows.filter((r) => r.old_state === 'Pending' && r.state === 'Cancelled').map((r) => r.job_id);
    if (cancelled.length > 0) countState(delta, 'Cancelled', cancelled.length);
    frontier = cancelled;
    badSet = cancelled;
  }
}

/**
 * Applies completion counters; marks the batch complete when every committed job is, and
 * records its callback (if any) in the same transaction.
 */
export async function applyCounts(tx: Tx, batchId: number, delta: CountDelta, now: number): Promise<boolean> {
  const [row] = await tx
    .update(batches)
    .set({
      nCompleted: sql`${batches.nCompleted} + ${delta.completed}`,
      nSucceeded: sql`${batches.nSucceeded} + ${delta.succeeded}`,
      nFailed: sql`${batches.nFailed} + ${delta.failed}`,
      nCancelled: sql`${batches.nCancelled} + ${delta.cancelled}`,
    })
    .where(eq(batches.id, batchId))
    .returning({ nCompleted: batches.nCompleted, nJobs: batches.nJobs, stored: batches.storedState });
  if (!row) return false;
  if (row.nCompleted >= row.nJobs) {
    if (row.stored !== 'complete') {
      await tx.update(batches).set({ storedState: 'complete', timeCompleted: now }).where(eq(batches.id, batchId));
      // The completion and its callback commit together: no crash can keep one without the other.
      await enqueueCallback(tx, { batchId, jobGroupId: ROOT_JOB_GROUP_ID, now });
    }
    return true;
  }
  return false;
}
