/**
 * DAG bookkeeping in SQL: when jobs complete, their children's pending-parent counts drop; a
 * child whose count reaches zero becomes Ready, or Cancelled when a parent did not succeed (or
 * the batch was cancelled) and it is not always_run. A Cancelled child completes in turn, so
 * the walk repeats level by level. Set-based, so a level of any width is one statement.
 */
import { and, eq, isNull, notInArray, sql } from 'drizzle-orm';
import { batches, batchUpdates, jobGroups, jobs } from '../schema';
import { rawRows, type Tx } from '../client';
import { intArray } from './sql-util';
import { enqueueCallback } from './callbacks';
import { enqueueJobGroupCallbacks } from './job-group-callbacks';
import { ROOT_JOB_GROUP_ID } from '../../domain/callbacks';
import type { CompleteJobState } from '../../domain/states';

type ChildRow = { job_id: number; n_pending_parents: number; cancelled: boolean; always_run: boolean; state: string; update_id: number };

/** Jobs that completed in one transaction: counted on the batch, and by id into their groups. */
export type CountDelta = { completed: number; succeeded: number; failed: number; cancelled: number; jobIds: number[] };

export function emptyDelta(): CountDelta {
  return { completed: 0, succeeded: 0, failed: 0, cancelled: 0, jobIds: [] };
}

export function countState(delta: CountDelta, state: CompleteJobState, ids: readonly number[]): void {
  const n = ids.length;
  delta.completed += n;
  if (state === 'Success') delta.succeeded += n;
  else if (state === 'Cancelled') delta.cancelled += n;
  else delta.failed += n;
  delta.jobIds.push(...ids);
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
    countState(delta, 'Cancelled', toCancel);
  }
  return toCancel;
}

/**
 * Walks down from jobs that just completed; `bad` are those that did not succeed. Each level is
 * one statement: it takes the finished parents off their children's counts and settles every
 * child whose count reached zero (Ready, or Cancelled below a bad parent unless always_run).
 * Below the first level the cancellation's cascade is tried as one recursive statement
 * (`cascadeAtOnce`), so a chain thousands deep costs two round trips, not one per level. The self-join `old` reads the row
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
    if (cancelled.length > 0) countState(delta, 'Cancelled', cancelled);
    frontier = cancelled;
    badSet = cancelled;
    if (frontier.length > 0 && (await cascadeAtOnce(tx, batchId, frontier, now, delta))) return;
  }
}

/**
 * The rest of a cancellation's walk in one recursive statement, when it can be decided at
 * once: every job below the cancelled `frontier` (through jobs that are cancelled in turn) has
 * all its pending parents in the frontier or in that set, and is Pending in a committed update,
 * as in a chain or a tree. Then each of them is released: Cancelled, or Ready when always_run
 * (which stops the walk below it). Returns false, changing nothing, when some job below waits
 * for a parent outside the walk; the level-by-level walk then decides.
 */
async function cascadeAtOnce(tx: Tx, batchId: number, frontier: number[], now: number, delta: CountDelta): Promise<boolean> {
  const f = intArray(frontier);
  const rows = await rawRows<{ job_id: number; state: string }>(
    tx,
    sql`WITH RECURSIVE r(job_id) AS (
          SELECT p.job_id FROM job_parents p WHERE p.batch_id = ${batchId} AND p.parent_id = ANY(${f})
          UNION
          SELECT p.job_id FROM r
            JOIN jobs j ON j.batch_id = ${batchId} AND j.job_id = r.job_id AND j.state = 'Pending' AND NOT j.always_run
            JOIN job_parents p ON p.batch_id = ${batchId} AND p.parent_id = r.job_id),
        c AS (
          SELECT j.job_id, j.always_run,
                 j.state = 'Pending'
                   AND EXISTS (SELECT 1 FROM batch_updates u
                                WHERE u.batch_id = ${batchId} AND u.update_id = j.update_id AND u.committed)
                   AND j.n_pending_parents = (
                     SELECT count(*) FROM job_parents p
                      WHERE p.batch_id = ${batchId} AND p.job_id = j.job_id
                        AND (p.parent_id = ANY(${f}) OR p.parent_id IN (SELECT job_id FROM r))) AS covered
            FROM r JOIN jobs j ON j.batch_id = ${batchId} AND j.job_id = r.job_id),
        ok AS (SELECT COALESCE(bool_and(covered), false) AS ok FROM c)
        UPDATE jobs t
           SET n_pending_parents = 0, cancelled = true,
               state = CASE WHEN c.always_run THEN 'Ready'::job_state ELSE 'Cancelled'::job_state END,
               time_ready = CASE WHEN c.always_run THEN ${now}::bigint ELSE t.time_ready END,
               end_time = CASE WHEN c.always_run THEN t.end_time ELSE ${now}::bigint END
          FROM c, ok
         WHERE ok.ok AND t.batch_id = ${batchId} AND t.job_id = c.job_id
        RETURNING t.job_id, t.state::text AS state`,
  );
  if (rows.length === 0) return false;
  const cancelled = rows.filter((r) => r.state === 'Cancelled').map((r) => r.job_id);
  if (cancelled.length > 0) countState(delta, 'Cancelled', cancelled);
  return true;
}

/**
 * Cancels job groups with their descendants: flags the groups and every incomplete job in
 * them, completes as Cancelled the Ready jobs no workflow owns yet, and walks the DAG below.
 * Owned jobs are cancelled by their job workflows, Pending ones as their parents finish, as
 * for a cancelled batch. Parents and siblings are untouched. Returns the groups it cancelled.
 */
export async function cancelGroupSubtrees(tx: Tx, batchId: number, groupIds: readonly number[], now: number, delta: CountDelta): Promise<number[]> {
  if (groupIds.length === 0) return [];
  const groups = await rawRows<{ job_group_id: number }>(
    tx,
    sql`UPDATE job_groups g SET cancelled = true
          FROM job_group_self_and_ancestors a
         WHERE a.batch_id = ${batchId} AND a.ancestor_id = ANY(${intArray([...groupIds])})
           AND g.batch_id = a.batch_id AND g.job_group_id = a.job_group_id AND NOT g.cancelled
        RETURNING g.job_group_id`,
  );
  const ids = groups.map((g) => g.job_group_id);
  if (ids.length === 0) return [];
  await tx.execute(sql`UPDATE jobs SET cancelled = true
    WHERE batch_id = ${batchId} AND job_group_id = ANY(${intArray(ids)})
      AND state NOT IN ('Cancelled', 'Error', 'Failed', 'Success') AND NOT cancelled`);
  const victims = await rawRows<{ job_id: number }>(
    tx,
    sql`UPDATE jobs SET state = 'Cancelled', end_time = ${now}
         WHERE batch_id = ${batchId} AND job_group_id = ANY(${intArray(ids)})
           AND state = 'Ready' AND launch_token IS NULL AND NOT always_run
        RETURNING job_id`,
  );
  const victimIds = victims.map((v) => v.job_id);
  countState(delta, 'Cancelled', victimIds);
  await releaseChildren(tx, batchId, victimIds, victimIds, now, delta);
  return ids;
}

/**
 * Adds the jobs in `jobIds` (already complete) to the counts of their groups and every
 * ancestor, in one statement; marks the groups that are now complete. Returns those and the
 * groups whose failures reached their `cancel_after_n_failures`.
 */
async function rollUpToGroups(tx: Tx, batchId: number, jobIds: readonly number[], now: number): Promise<{ completed: number[]; overFailed: number[] }> {
  if (jobIds.length === 0) return { completed: [], overFailed: [] };
  const rows = await rawRows<{ job_group_id: number; done: boolean; over_failed: boolean }>(
    tx,
    sql`WITH d AS (
          SELECT a.ancestor_id, count(*)::int AS completed,
                 count(*) FILTER (WHERE j.state = 'Success')::int AS succeeded,
                 count(*) FILTER (WHERE j.state IN ('Failed', 'Error'))::int AS failed,
                 count(*) FILTER (WHERE j.state = 'Cancelled')::int AS cancelled
            FROM jobs j JOIN job_group_self_and_ancestors a ON a.batch_id = j.batch_id AND a.job_group_id = j.job_group_id
           WHERE j.batch_id = ${batchId} AND j.job_id = ANY(${intArray([...jobIds])})
           GROUP BY a.ancestor_id)
        UPDATE job_groups g
           SET n_completed = g.n_completed + d.completed, n_succeeded = g.n_succeeded + d.succeeded,
               n_failed = g.n_failed + d.failed, n_cancelled = g.n_cancelled + d.cancelled,
               stored_state = CASE WHEN g.n_completed + d.completed >= g.n_jobs THEN 'complete'::batch_stored_state ELSE g.stored_state END,
               time_completed = CASE WHEN g.n_completed + d.completed >= g.n_jobs THEN ${now}::bigint ELSE g.time_completed END
          FROM d
         WHERE g.batch_id = ${batchId} AND g.job_group_id = d.ancestor_id
        RETURNING g.job_group_id,
                  g.n_completed >= g.n_jobs AND g.n_completed - d.completed < g.n_jobs AS done,
                  NOT g.cancelled AND g.cancel_after_n_failures IS NOT NULL AND d.failed > 0
                    AND g.n_failed >= g.cancel_after_n_failures AS over_failed`,
  );
  return {
    completed: rows.filter((r) => r.done).map((r) => r.job_group_id),
    overFailed: rows.filter((r) => r.over_failed).map((r) => r.job_group_id),
  };
}

/** True when the batch is not cancelled and its failures, with `newFailures` not yet counted, reach its cancel_after_n_failures. */
async function batchPastFailures(tx: Tx, batchId: number, newFailures: number): Promise<boolean> {
  const rows = await rawRows<{ over: boolean }>(
    tx,
    sql`SELECT NOT cancelled AND cancel_after_n_failures IS NOT NULL
               AND n_failed + ${newFailures}::int >= cancel_after_n_failures AS over
          FROM batches WHERE id = ${batchId}`,
  );
  return rows[0]?.over === true;
}

/**
 * Cancels a whole batch in `tx`: flags the batch, every group and every incomplete job, and
 * completes as Cancelled the Ready jobs no workflow owns yet (counted in `delta`, children
 * released). Owned jobs are stopped by their workflows, which see the batch's flag.
 */
export async function cancelBatchRows(tx: Tx, batchId: number, now: number, delta: CountDelta): Promise<void> {
  await tx.update(batches).set({ cancelled: true }).where(eq(batches.id, batchId));
  // Cancelling the root group cancels every group below it.
  await tx.update(jobGroups).set({ cancelled: true }).where(eq(jobGroups.batchId, batchId));
  await tx
    .update(jobs)
    .set({ cancelled: true })
    .where(and(eq(jobs.batchId, batchId), notInArray(jobs.state, ['Cancelled', 'Error', 'Failed', 'Success'])));
  const victims = await tx
    .update(jobs)
    .set({ state: 'Cancelled', endTime: now })
    .where(and(eq(jobs.batchId, batchId), eq(jobs.state, 'Ready'), isNull(jobs.launchToken), eq(jobs.alwaysRun, false)))
    .returning({ jobId: jobs.jobId });
  const ids = victims.map((v) => v.jobId);
  countState(delta, 'Cancelled', ids);
  await releaseChildren(tx, batchId, ids, ids, now, delta);
}

/**
 * Applies completion counters; marks the batch complete when every committed job is, and
 * records its callback (if any) in the same transaction.
 */
export async function applyCounts(tx: Tx, batchId: number, delta: CountDelta, now: number): Promise<boolean> {
  // Groups first: a group past its cancel_after_n_failures is cancelled here, and what that
  // cancels is counted in the same transaction, on the groups and on the batch.
  let pending = delta.jobIds;
  while (pending.length > 0) {
    const { completed, overFailed } = await rollUpToGroups(tx, batchId, pending, now);
    // A group's completion and its callback commit together, as the batch's do.
    await enqueueJobGroupCallbacks(tx, batchId, completed, now);
    const more = emptyDelta();
    await cancelGroupSubtrees(tx, batchId, overFailed, now, more);
    // The batch is job group 0: its own cancel_after_n_failures cancels all of it, as Hail.
    if (delta.failed > 0 && (await batchPastFailures(tx, batchId, delta.failed))) await cancelBatchRows(tx, batchId, now, more);
    delta.completed += more.completed;
    delta.succeeded += more.succeeded;
    delta.failed += more.failed;
    delta.cancelled += more.cancelled;
    pending = more.jobIds;
  }
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
