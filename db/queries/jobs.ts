import { and, asc, eq, gt, inArray, sql, type SQL } from 'drizzle-orm';
import { batches, batchUpdates, jobGroups, jobParents, jobs } from '../schema';
import { rawRows, type Db, type Queryable } from '../client';
import { DbError } from './errors';
import { lockBatch, lockBatchUpdate, setBatchCancelled } from './batches';
import { applyCounts, cancelBatchRows, countState, emptyDelta, releaseChildren, settleReleased } from './dag';
import { chunk, textArray } from './sql-util';
import { checkEarlierGroups, commitJobGroups, JOB_IN_CANCELLED_GROUP } from './job-groups';
import { enqueueJobGroupCallbacks } from './job-group-callbacks';
import type { JobSpec } from '../../domain/job-spec';
import { COMPLETE_JOB_STATES, deriveBatchState, JOB_STATES, type BatchState, type CompleteJobState, type JobState } from '../../domain/states';

export type JobRow = typeof jobs.$inferSelect;

/**
 * Inserts one bunch of an uncommitted update. Resending a bunch that is already in is a no-op,
 * so a client retry after a lost response is harmless.
 */
export async function insertJobs(db: Db, batchId: number, updateId: number, specs: JobSpec[]): Promise<void> {
  if (specs.length === 0) return;
  await db.transaction(async (tx) => {
    const { batch, update } = await lockBatchUpdate(tx, batchId, updateId);
    const first = specs[0]!;
    const [already] = await tx
      .select({ jobId: jobs.jobId })
      .from(jobs)
      .where(and(eq(jobs.batchId, batchId), eq(jobs.jobId, first.job_id)));
    if (already) return;
    if (update.committed) throw new DbError('invalid', `update ${updateId} is already committed`);
    if (batch.cancelled) throw new DbError('invalid', 'Cannot submit new jobs or job groups to a cancelled batch');
    const last = update.startJobId + update.nJobs - 1;
    for (const s of specs) {
      if (s.job_id < update.startJobId || s.job_id > last) {
        throw new DbError('invalid', `job_id ${s.job_id} is outside this update's range ${update.startJobId}..${last}`, 'job_id');
      }
    }
    await checkEarlierGroups(
      tx,
      batchId,
      update.startJobGroupId,
      specs.map((s, i) => ({ id: s.job_group_id, field: `bunch[${i}].absolute_job_group_id` })),
      JOB_IN_CANCELLED_GROUP,
    );
    const external = [...new Set(specs.flatMap((s) => s.parent_ids.filter((p) => p < update.startJobId)))];
    if (external.length > 0) {
      const found = await tx
        .select({ jobId: jobs.jobId })
        .from(jobs)
        .where(and(eq(jobs.batchId, batchId), inArray(jobs.jobId, external)));
      if (found.length !== external.length) {
        const have = new Set(found.map((f) => f.jobId));
        const missing = external.filter((p) => !have.has(p));
        throw new DbError('invalid', `parent job ids do not exist: ${missing.slice(0, 10).join(', ')}`, 'absolute_parent_ids');
      }
    }
    for (const part of chunk(specs, 500)) {
      await tx.insert(jobs).values(
        part.map((s) => ({
          batchId,
          jobId: s.job_id,
          updateId,
          jobGroupId: s.job_group_id,
          state: 'Pending' as const,
          alwaysRun: s.always_run,
          nPendingParents: s.parent_ids.length,
          nMaxAttempts: s.n_max_attempts,
          coresMcpu: s.resources.cores_mcpu,
          pool: s.pool,
          name: s.attributes['name'] ?? null,
          attributes: s.attributes,
          spec: s,
        })),
      );
    }
    const edges = specs.flatMap((s) => s.parent_ids.map((p) => ({ batchId, jobId: s.job_id, parentId: p })));
    for (const part of chunk(edges, 5000)) await tx.insert(jobParents).values(part);
    if (external.length > 0) {
      // Parents from earlier updates may have finished already: count only those still running.
      await tx.execute(sql`UPDATE jobs c
        SET n_pending_parents = c.n_pending_parents - p.done, cancelled = c.cancelled OR p.bad
        FROM (SELECT jp.job_id, count(*)::int AS done, bool_or(pj.state <> 'Success') AS bad
              FROM job_parents jp JOIN jobs pj ON pj.batch_id = jp.batch_id AND pj.job_id = jp.parent_id
              WHERE jp.batch_id = ${batchId} AND jp.job_id BETWEEN ${first.job_id} AND ${specs[specs.length - 1]!.job_id}
                AND pj.state IN ('Cancelled', 'Error', 'Failed', 'Success')
              GROUP BY jp.job_id) p
        WHERE c.batch_id = ${batchId} AND c.job_id = p.job_id`);
    }
  });
}

/** Fresh planner statistics for the tables a large commit grew (see api/submission.ts). */
export async function refreshJobStatistics(db: Db): Promise<void> {
  await db.execute(sql`ANALYZE jobs, job_parents, job_group_self_and_ancestors`);
}

export type CommitResult = { startJobId: number; nJobs: number; batchComplete: boolean };

/** Commits an update: checks the job count, makes parentless jobs Ready. Idempotent. */
export async function commitUpdate(db: Db, batchId: number, updateId: number, now: number): Promise<CommitResult> {
  return db.transaction(async (tx) => {
    await lockBatch(tx, batchId);
    const [update] = await tx
      .select()
      .from(batchUpdates)
      .where(and(eq(batchUpdates.batchId, batchId), eq(batchUpdates.updateId, updateId)));
    if (!update) throw new DbError('not_found', `update ${updateId} of batch ${batchId} not found`);
    if (update.committed) return { startJobId: update.startJobId, nJobs: update.nJobs, batchComplete: false };
    const [count] = await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(jobs)
      .where(and(eq(jobs.batchId, batchId), eq(jobs.updateId, updateId)));
    const actual = count?.n ?? 0;
    if (actual !== update.nJobs) {
      throw new DbError('invalid', `wrong number of jobs: expected ${update.nJobs}, actual ${actual}`, 'n_jobs');
    }
    // Groups committed without jobs are complete at once, and call back at once.
    await enqueueJobGroupCallbacks(tx, batchId, await commitJobGroups(tx, batchId, update, now), now);
    await tx
      .update(batchUpdates)
      .set({ committed: true, timeCommitted: now })
      .where(and(eq(batchUpdates.batchId, batchId), eq(batchUpdates.updateId, updateId)));
    if (update.nJobs > 0) {
      await tx
        .update(batches)
        .set({ nJobs: sql`${batches.nJobs} + ${update.nJobs}`, storedState: 'running', timeCompleted: null })
        .where(eq(batches.id, batchId));
    }
    const candidates = await rawRows<{
      job_id: number; n_pending_parents: number; cancelled: boolean; always_run: boolean; state: string; update_id: number;
    }>(
      tx,
      sql`SELECT job_id, n_pending_parents, cancelled, always_run, state::text AS state, update_id FROM jobs
          WHERE batch_id = ${batchId} AND update_id = ${updateId} AND n_pending_parents = 0 AND state = 'Pending'`,
    );
    const delta = emptyDelta();
    const cancelled = await settleReleased(tx, batchId, candidates, now, delta);
    await releaseChildren(tx, batchId, cancelled, cancelled, now, delta);
    const batchComplete = await applyCounts(tx, batchId, delta, now);
    return { startJobId: update.startJobId, nJobs: update.nJobs, batchComplete };
  });
}

export type FinishResult = { changed: boolean; batchComplete: boolean };

/** One job of `finishJobs`: the state it ends in, with its exit code and own end time. */
export type FinishItem = { jobId: number; state: CompleteJobState; exitCode?: number | null; endTime?: number };

/**
 * Moves a job to a complete state exactly once and walks the DAG below it. `endTime` is when
 * the job itself ended (its attempt's end, reported by the worker); `now` is the driver's clock,
 * which stamps what happens because of it: children becoming Ready, the batch completing.
 */
export async function finishJob(
  db: Db,
  batchId: number,
  jobId: number,
  state: CompleteJobState,
  opts: { exitCode?: number | null; now: number; endTime?: number; from?: readonly JobState[] },
): Promise<FinishResult> {
  const item: FinishItem = { jobId, state, exitCode: opts.exitCode ?? null, ...(opts.endTime !== undefined ? { endTime: opts.endTime } : {}) };
  const r = await finishJobs(db, batchId, [item], opts);
  return { changed: r.changed.has(jobId), batchComplete: r.batchComplete };
}

/**
 * finishJob for several jobs of one batch in one transaction: one lock of the batch row, one
 * update of the jobs, one walk of the DAG below them all and one roll-up of the counts, as
 * finishing them one by one would leave things. A job named twice is finished once (the first
 * item); a job no longer in one of the `from` states is left alone. `changed`: the jobs this
 * call finished.
 */
export async function finishJobs(
  db: Db,
  batchId: number,
  items: readonly FinishItem[],
  opts: { now: number; from?: readonly JobState[] },
): Promise<{ changed: Set<number>; batchComplete: boolean }> {
  const first = new Map<number, FinishItem>();
  for (const i of items) if (!first.has(i.jobId)) first.set(i.jobId, i);
  if (first.size === 0) return { changed: new Set(), batchComplete: false };
  const values = sql.join(
    [...first.values()].map(
      (i) => sql`(${i.jobId}::int, ${i.state}::job_state, ${i.endTime ?? opts.now}::bigint, ${i.exitCode ?? null}::int)`,
    ),
    sql`, `,
  );
  const states = opts.from ? [...opts.from] : JOB_STATES.filter((x) => !(COMPLETE_JOB_STATES as readonly string[]).includes(x));
  return db.transaction(async (tx) => {
    await lockBatch(tx, batchId);
    const rows = await rawRows<{ job_id: number; state: CompleteJobState }>(
      tx,
      sql`UPDATE jobs j SET state = v.state, end_time = v.end_time, exit_code = v.exit_code
            FROM (VALUES ${values}) AS v(job_id, state, end_time, exit_code)
           WHERE j.batch_id = ${batchId} AND j.job_id = v.job_id AND j.state::text = ANY(${textArray(states)})
          RETURNING j.job_id, v.state::text AS state`,
    );
    if (rows.length === 0) return { changed: new Set<number>(), batchComplete: false };
    const delta = emptyDelta();
    const byState = new Map<CompleteJobState, number[]>();
    for (const r of rows) byState.set(r.state, [...(byState.get(r.state) ?? []), r.job_id]);
    for (const [state, ids] of byState) countState(delta, state, ids);
    const done = rows.map((r) => r.job_id);
    const bad = rows.filter((r) => r.state !== 'Success').map((r) => r.job_id);
    await releaseChildren(tx, batchId, done, bad, opts.now, delta);
    const batchComplete = await applyCounts(tx, batchId, delta, opts.now);
    return { changed: new Set(done), batchComplete };
  });
}

/**
 * What the batch workflow and its partitions need to know of a batch. `state` is Hail's visible
 * batch state, for the workflow's search attributes; `running`: committed jobs are not all
 * complete (the batch has work); `commitPending`: an update with jobs is reserved but not
 * committed, so a commit may be on its way (the API wakes the workflow just before
 * committing); `laterUpdate`: more than one update with jobs is committed, so the batch may have
 * had an earlier phase; `readyUnclaimed`: Ready jobs no partition has claimed, counted up to the
 * cap asked for (enough to say how many partitions the work can keep busy).
 */
export type BatchProgress = {
  complete: boolean;
  cancelled: boolean;
  state: BatchState;
  running: boolean;
  commitPending: boolean;
  laterUpdate: boolean;
  /** How many of the batch's job groups are cancelled: a rise means open jobs may have to stop. */
  cancelledGroups: number;
  readyUnclaimed: number;
};

export type ClaimResult = BatchProgress & { jobIds: number[] };

export async function batchProgress(q: Queryable, batchId: number, readyCap: number): Promise<BatchProgress> {
  const [b] = await q.select().from(batches).where(eq(batches.id, batchId));
  if (!b) return { complete: true, cancelled: true, state: 'cancelled', running: false, commitPending: false, laterUpdate: false, cancelledGroups: 0, readyUnclaimed: 0 };
  const [row] = await rawRows<{ committed: number; pending: boolean; groups: number; ready: number }>(
    q,
    sql`SELECT
          (SELECT count(*) FILTER (WHERE committed) FROM batch_updates WHERE batch_id = ${batchId} AND n_jobs > 0)::int AS committed,
          (SELECT COALESCE(bool_or(NOT committed), false) FROM batch_updates WHERE batch_id = ${batchId} AND n_jobs > 0) AS pending,
          (SELECT count(*) FROM job_groups WHERE batch_id = ${batchId} AND cancelled)::int AS groups,
          (SELECT count(*) FROM (SELECT 1 FROM jobs WHERE batch_id = ${batchId} AND state = 'Ready' AND launch_token IS NULL
                                  LIMIT ${Math.max(0, readyCap)}) r)::int AS ready`,
  );
  return {
    cancelledGroups: row?.groups ?? 0,
    complete: b.storedState === 'complete',
    cancelled: b.cancelled || b.deleted,
    state: deriveBatchState({ stored: b.storedState, cancelled: b.cancelled, n_failed: b.nFailed, n_cancelled: b.nCancelled }),
    running: b.storedState === 'running',
    commitPending: (row?.pending ?? false) && !b.deleted,
    laterUpdate: (row?.committed ?? 0) > 1,
    readyUnclaimed: row?.ready ?? 0,
  };
}

/**
 * Hands Ready jobs to a partition of the batch workflow to start job workflows for. Keyed by a
 * token the workflow derives deterministically, so a retried claim returns the same jobs, never
 * more. Partitions claim side by side: a row another claim holds is skipped, not waited for.
 */
export async function claimReadyJobs(db: Db, batchId: number, token: string, limit: number): Promise<ClaimResult> {
  return db.transaction(async (tx) => {
    let ids = (
      await tx.select({ jobId: jobs.jobId }).from(jobs).where(and(eq(jobs.batchId, batchId), eq(jobs.launchToken, token)))
    ).map((r) => r.jobId);
    if (ids.length === 0 && limit > 0) {
      const rows = await rawRows<{ job_id: number }>(
        tx,
        // The pick is a CTE so it runs once: as an IN subquery the planner may rescan it per
        // row, and a rescan with SKIP LOCKED can hand out more than `limit` jobs.
        sql`WITH picked AS MATERIALIZED (
              SELECT job_id FROM jobs WHERE batch_id = ${batchId} AND state = 'Ready' AND launch_token IS NULL
              ORDER BY job_id LIMIT ${limit} FOR UPDATE SKIP LOCKED)
            UPDATE jobs SET launch_token = ${token}
              FROM picked
             WHERE jobs.batch_id = ${batchId} AND jobs.job_id = picked.job_id
            RETURNING jobs.job_id`,
      );
      ids = rows.map((r) => r.job_id).sort((a, b) => a - b);
    }
    return { jobIds: ids, ...(await batchProgress(tx, batchId, 1)) };
  });
}

/**
 * Cancels a batch: flags every incomplete job, and completes as Cancelled the Ready jobs no
 * workflow owns yet. Owned jobs are cancelled by their job workflows (which may need to kill
 * a container first); Pending jobs are cancelled as their parents finish.
 *
 * Only a running batch is cancelled, as Hail's `cancel_batch` does (`state = 'running'`): a
 * complete batch is left as it is, so cancelling one that succeeded does not turn it into
 * `cancelled`, and a later update to it still runs. `cancelled` says whether this call cancelled it.
 */
export async function cancelBatchJobs(db: Db, batchId: number, now: number): Promise<{ batchComplete: boolean; cancelled: boolean }> {
  return db.transaction(async (tx) => {
    const batch = await lockBatch(tx, batchId);
    // A batch with no work left (none yet, or all done) has no job to stop, but is cancelled all
    // the same, as Hail's cancel_job_group of the root: it shows cancelled and takes no more updates.
    if (batch.storedState !== 'running') {
      const cancelled = await setBatchCancelled(tx, batchId);
      // Every group is below the root, so it is cancelled with it.
      if (cancelled) await tx.update(jobGroups).set({ cancelled: true }).where(eq(jobGroups.batchId, batchId));
      return { batchComplete: batch.storedState === 'complete', cancelled };
    }
    const delta = emptyDelta();
    await cancelBatchRows(tx, batchId, now, delta);
    return { batchComplete: await applyCounts(tx, batchId, delta, now), cancelled: !batch.cancelled };
  });
}

export async function getJob(q: Queryable, batchId: number, jobId: number): Promise<JobRow | null> {
  const rows = await q.select().from(jobs).where(and(eq(jobs.batchId, batchId), eq(jobs.jobId, jobId)));
  return rows[0] ?? null;
}

export async function listJobPage(
  q: Queryable,
  opts: { batchId: number; filter: SQL | undefined; lastJobId: number | null; limit: number },
): Promise<JobRow[]> {
  const conds: (SQL | undefined)[] = [
    eq(jobs.batchId, opts.batchId),
    // As Hail: the jobs of an update that is not committed yet are not listed.
    sql`EXISTS (SELECT 1 FROM ${batchUpdates} u WHERE u.batch_id = ${jobs.batchId} AND u.update_id = ${jobs.updateId} AND u.committed)`,
    opts.filter,
  ];
  if (opts.lastJobId !== null) conds.push(gt(jobs.jobId, opts.lastJobId));
  return q.select().from(jobs).where(and(...conds)).orderBy(asc(jobs.jobId)).limit(opts.limit);
}

/**
 * A job-private job whose VM was lost before the job was placed on it (Creating, no live VM).
 * That VM was one of the job's tries — Hail makes the attempt when it asks for the VM — so it
 * counts toward n_max_attempts like an attempt lost with its instance: once they are used up
 * the job ends in Error instead of asking for VM after VM. The end comes first, in one
 * transaction, so a crash can only leave the count short, never an extra VM.
 */
export async function jobPrivateVmLost(db: Db, batchId: number, jobId: number, now: number): Promise<'requeued' | 'errored' | 'unchanged'> {
  const job = await getJob(db, batchId, jobId);
  if (!job || job.state !== 'Creating') return 'unchanged';
  const exhausted = job.nAttempts + 1 >= job.nMaxAttempts;
  if (exhausted) {
    const r = await finishJob(db, batchId, jobId, 'Error', { now, from: ['Creating'] });
    if (!r.changed) return 'unchanged';
  }
  const rows = await db
    .update(jobs)
    .set({ nAttempts: sql`${jobs.nAttempts} + 1`, ...(exhausted ? {} : { state: 'Ready' as const }) })
    .where(and(eq(jobs.batchId, batchId), eq(jobs.jobId, jobId), eq(jobs.state, exhausted ? 'Error' : 'Creating')))
    .returning({ jobId: jobs.jobId });
  if (exhausted) return 'errored';
  return rows.length > 0 ? 'requeued' : 'unchanged';
}

/** Running → Ready after an attempt was lost, only if that attempt is still the current one. */
export async function requeueJob(db: Db, batchId: number, jobId: number, attemptId: string): Promise<boolean> {
  const rows = await db
    .update(jobs)
    .set({ state: 'Ready', attemptId: null, startTime: null })
    .where(and(eq(jobs.batchId, batchId), eq(jobs.jobId, jobId), eq(jobs.state, 'Running'), eq(jobs.attemptId, attemptId)))
    .returning({ jobId: jobs.jobId });
  return rows.length > 0;
}
