/**
 * Job groups in PostgreSQL: created in updates, wired into the ancestors table when their
 * update commits, cancelled with their subtree, read with their rolled-up counts.
 */
import { and, asc, eq, gt, inArray, sql, type SQL } from 'drizzle-orm';
import { jobGroups, jobGroupSelfAndAncestors } from '../schema';
import { rawRows, type Db, type Queryable, type Tx } from '../client';
import { DbError } from './errors';
import { lockBatch, lockBatchUpdate } from './batches';
import { applyCounts, cancelGroupSubtrees, emptyDelta } from './dag';
import { chunk, intArray } from './sql-util';
import type { JobGroupSpec } from '../../domain/spec-job-group';
import { bunchDepths, firstTooDeep, MAX_JOB_GROUPS_DEPTH, NESTING_EXCEEDED, ROOT_JOB_GROUP_ID } from '../../domain/job-group-tree';

export type JobGroupRow = typeof jobGroups.$inferSelect;

export const CANCELLED_GROUP = 'Cannot submit new jobs or job groups to a cancelled job group';
/** Hail's words for a bunch with a job in a cancelled group. */
export const JOB_IN_CANCELLED_GROUP = 'bunch contains job where the job group has already been cancelled';

/** Depth below the root of committed groups (their ancestor rows count them). */
async function committedDepths(q: Queryable, batchId: number, ids: readonly number[]): Promise<Map<number, number>> {
  if (ids.length === 0) return new Map();
  const rows = await rawRows<{ job_group_id: number; depth: number }>(
    q,
    sql`SELECT job_group_id, count(*)::int AS depth FROM job_group_self_and_ancestors
         WHERE batch_id = ${batchId} AND job_group_id = ANY(${intArray([...ids])}) GROUP BY job_group_id`,
  );
  return new Map(rows.map((r) => [r.job_group_id, r.depth]));
}

/**
 * Groups a committed update made, by id; `cancelled` for any in a cancelled subtree. Only
 * these may take jobs or children from a later update.
 */
async function committedGroups(q: Queryable, batchId: number, ids: readonly number[]): Promise<Map<number, { cancelled: boolean }>> {
  if (ids.length === 0) return new Map();
  const rows = await q
    .select({ id: jobGroups.jobGroupId, cancelled: jobGroups.cancelled, stored: jobGroups.storedState })
    .from(jobGroups)
    .where(and(eq(jobGroups.batchId, batchId), sql`${jobGroups.jobGroupId} = ANY(${intArray([...ids])})`));
  return new Map(rows.filter((r) => r.stored !== 'open').map((r) => [r.id, { cancelled: r.cancelled }]));
}

/**
 * Checks that the groups outside an update that a bunch names (parents of groups, groups of
 * jobs) exist, are committed and are not cancelled. `field` names the offending spec field.
 */
export async function checkEarlierGroups(
  tx: Tx,
  batchId: number,
  startJobGroupId: number,
  named: { id: number; field: string }[],
  cancelledMessage = CANCELLED_GROUP,
): Promise<void> {
  const earlier = named.filter((n) => n.id !== ROOT_JOB_GROUP_ID && n.id < startJobGroupId);
  const found = await committedGroups(tx, batchId, [...new Set(earlier.map((n) => n.id))]);
  for (const n of earlier) {
    const g = found.get(n.id);
    if (!g) throw new DbError('not_found', `job group ${n.id} does not exist`, n.field);
    if (g.cancelled) throw new DbError('invalid', cancelledMessage, n.field);
  }
}

/**
 * Inserts one bunch of job groups into an uncommitted update. Idempotent: a resent bunch is a
 * no-op. As Hail, a group's parent must exist when the group arrives (parents first); jobs'
 * bunches may still come in any order.
 */
export async function insertJobGroups(db: Db, batchId: number, updateId: number, specs: JobGroupSpec[], now: number): Promise<void> {
  if (specs.length === 0) return;
  await db.transaction(async (tx) => {
    const { batch, update } = await lockBatchUpdate(tx, batchId, updateId);
    const [already] = await tx
      .select({ id: jobGroups.jobGroupId })
      .from(jobGroups)
      .where(and(eq(jobGroups.batchId, batchId), eq(jobGroups.jobGroupId, specs[0]!.job_group_id)));
    if (already) return;
    if (update.committed) throw new DbError('invalid', `update ${updateId} is already committed`);
    if (batch.cancelled) throw new DbError('invalid', 'Cannot submit new jobs or job groups to a cancelled batch');
    const last = update.startJobGroupId + update.nJobGroups - 1;
    specs.forEach((g, i) => {
      if (g.job_group_id < update.startJobGroupId || g.job_group_id > last) {
        throw new DbError(
          'invalid',
          `job group ${g.job_group_id} is outside this update's job groups ${update.startJobGroupId}..${last}; the update reserved ${update.nJobGroups}`,
          `job_groups[${i}].job_group_id`,
        );
      }
    });
    await checkEarlierGroups(
      tx,
      batchId,
      update.startJobGroupId,
      specs.map((g, i) => ({ id: g.parent_id, field: `job_groups[${i}].absolute_parent_id` })),
    );
    // As Hail: a parent in this update must have arrived already, earlier in this bunch or in an
    // earlier one (its client sends groups parents first; ids only grow down the tree).
    const inUpdateParents = [...new Set(specs.map((g) => g.parent_id).filter((p) => p >= update.startJobGroupId))];
    if (inUpdateParents.length > 0) {
      const arrived = new Set(
        (
          await tx
            .select({ id: jobGroups.jobGroupId })
            .from(jobGroups)
            .where(and(eq(jobGroups.batchId, batchId), inArray(jobGroups.jobGroupId, inUpdateParents)))
        ).map((r) => r.id),
      );
      const seen = new Set<number>();
      specs.forEach((g, i) => {
        if (g.parent_id >= update.startJobGroupId && !arrived.has(g.parent_id) && !seen.has(g.parent_id)) {
          throw new DbError('invalid', `job group parent ${g.parent_id} does not exist`, `job_groups[${i}].in_update_parent_id`);
        }
        seen.add(g.job_group_id);
      });
    }
    const outside = specs.map((g) => g.parent_id).filter((p) => p !== ROOT_JOB_GROUP_ID && p < update.startJobGroupId);
    const depths = bunchDepths(specs, await committedDepths(tx, batchId, outside));
    const deep = firstTooDeep(specs, depths);
    if (deep >= 0) throw new DbError('invalid', NESTING_EXCEEDED, `job_groups[${deep}]`);
    for (const part of chunk(specs, 500)) {
      await tx.insert(jobGroups).values(
        part.map((g) => ({
          batchId,
          jobGroupId: g.job_group_id,
          updateId,
          parentId: g.parent_id,
          attributes: g.attributes,
          callback: g.callback,
          cancelAfterNFailures: g.cancel_after_n_failures,
          timeCreated: now,
        })),
      );
    }
  });
}

/**
 * The job-group half of a commit, under the batch lock: the update's groups must all be there,
 * wired under existing parents no deeper than allowed; then its jobs count in their groups and
 * every ancestor. A group under a cancelled one is cancelled, as are its jobs. Returns the
 * groups that are complete at commit (those without jobs).
 */
export async function commitJobGroups(tx: Tx, batchId: number, update: { updateId: number; startJobGroupId: number; nJobGroups: number }, now: number): Promise<number[]> {
  const { updateId } = update;
  if (update.nJobGroups > 0) {
    const [count] = await rawRows<{ n: number }>(
      tx,
      sql`SELECT count(*)::int AS n FROM job_groups WHERE batch_id = ${batchId} AND update_id = ${updateId}`,
    );
    const actual = count?.n ?? 0;
    if (actual !== update.nJobGroups) {
      throw new DbError('invalid', `wrong number of job groups: expected ${update.nJobGroups}, actual ${actual}`, 'n_job_groups');
    }
    const [orphan] = await rawRows<{ job_group_id: number; parent_id: number }>(
      tx,
      sql`SELECT g.job_group_id, g.parent_id FROM job_groups g
           WHERE g.batch_id = ${batchId} AND g.update_id = ${updateId} AND g.parent_id <> 0
             AND NOT EXISTS (SELECT 1 FROM job_groups p WHERE p.batch_id = g.batch_id AND p.job_group_id = g.parent_id)
           LIMIT 1`,
    );
    if (orphan) throw new DbError('invalid', `job group ${orphan.job_group_id} has a parent ${orphan.parent_id} that does not exist`, 'job_groups');
    await tx.execute(sql`WITH RECURSIVE chain(job_group_id, ancestor_id, level) AS (
        SELECT job_group_id, job_group_id, 0 FROM job_groups WHERE batch_id = ${batchId} AND update_id = ${updateId}
        UNION ALL
        SELECT c.job_group_id, g.parent_id, c.level + 1
          FROM chain c JOIN job_groups g ON g.batch_id = ${batchId} AND g.job_group_id = c.ancestor_id
         WHERE g.parent_id <> 0 AND c.level <= ${MAX_JOB_GROUPS_DEPTH})
      INSERT INTO job_group_self_and_ancestors (batch_id, job_group_id, ancestor_id, level)
      SELECT ${batchId}, job_group_id, ancestor_id, level FROM chain
      ON CONFLICT DO NOTHING`);
    const [deep] = await rawRows<{ job_group_id: number }>(
      tx,
      sql`SELECT a.job_group_id FROM job_group_self_and_ancestors a JOIN job_groups g
              ON g.batch_id = a.batch_id AND g.job_group_id = a.job_group_id
           WHERE a.batch_id = ${batchId} AND g.update_id = ${updateId}
           GROUP BY a.job_group_id HAVING count(*) > ${MAX_JOB_GROUPS_DEPTH} LIMIT 1`,
    );
    if (deep) throw new DbError('invalid', NESTING_EXCEEDED, 'job_groups');
    await tx.execute(sql`UPDATE job_groups g SET cancelled = true
      FROM job_groups p
     WHERE g.batch_id = ${batchId} AND g.update_id = ${updateId} AND p.batch_id = g.batch_id
       AND p.job_group_id = g.parent_id AND p.cancelled`);
  }
  const [missing] = await rawRows<{ job_id: number; job_group_id: number }>(
    tx,
    sql`SELECT j.job_id, j.job_group_id FROM jobs j
         WHERE j.batch_id = ${batchId} AND j.update_id = ${updateId} AND j.job_group_id <> 0
           AND NOT EXISTS (SELECT 1 FROM job_group_self_and_ancestors a
                            WHERE a.batch_id = j.batch_id AND a.job_group_id = j.job_group_id AND a.level = 0)
         LIMIT 1`,
  );
  if (missing) throw new DbError('invalid', `job ${missing.job_id} is in job group ${missing.job_group_id}, which does not exist`, 'job_group_id');
  await tx.execute(sql`UPDATE jobs j SET cancelled = true
    FROM job_groups g
   WHERE j.batch_id = ${batchId} AND j.update_id = ${updateId} AND g.batch_id = j.batch_id
     AND g.job_group_id = j.job_group_id AND g.cancelled`);
  // New jobs reopen their groups and every ancestor; the update's own groups leave `open`.
  const rows = await rawRows<{ job_group_id: number; stored_state: string; update_id: number }>(
    tx,
    sql`WITH n AS (
          SELECT a.ancestor_id, count(j.job_id)::int AS n
            FROM job_group_self_and_ancestors a
            LEFT JOIN jobs j ON j.batch_id = a.batch_id AND j.job_group_id = a.job_group_id AND j.update_id = ${updateId}
           WHERE a.batch_id = ${batchId}
             AND (a.job_group_id IN (SELECT job_group_id FROM jobs WHERE batch_id = ${batchId} AND update_id = ${updateId})
                  OR a.job_group_id IN (SELECT job_group_id FROM job_groups WHERE batch_id = ${batchId} AND update_id = ${updateId}))
           GROUP BY a.ancestor_id)
        UPDATE job_groups g
           SET n_jobs = g.n_jobs + n.n,
               stored_state = CASE WHEN g.n_completed >= g.n_jobs + n.n THEN 'complete'::batch_stored_state ELSE 'running'::batch_stored_state END,
               time_completed = CASE WHEN g.n_completed >= g.n_jobs + n.n THEN COALESCE(g.time_completed, ${now}::bigint) ELSE NULL END
          FROM n
         WHERE g.batch_id = ${batchId} AND g.job_group_id = n.ancestor_id
        RETURNING g.job_group_id, g.stored_state::text AS stored_state, g.update_id`,
  );
  return rows.filter((r) => r.stored_state === 'complete' && r.update_id === updateId).map((r) => r.job_group_id);
}

/**
 * Cancels a committed job group and its descendants (never its parent or siblings). Returns
 * whether the batch is complete afterwards and whether this call cancelled anything.
 */
export async function cancelJobGroup(db: Db, batchId: number, jobGroupId: number, now: number): Promise<{ batchComplete: boolean; cancelled: boolean }> {
  return db.transaction(async (tx) => {
    await lockBatch(tx, batchId);
    const group = await getJobGroup(tx, batchId, jobGroupId);
    if (!group || group.storedState === 'open') throw new DbError('not_found', `job group ${jobGroupId} of batch ${batchId} not found`);
    const delta = emptyDelta();
    const ids = await cancelGroupSubtrees(tx, batchId, [jobGroupId], now, delta);
    return { batchComplete: await applyCounts(tx, batchId, delta, now), cancelled: ids.length > 0 };
  });
}

export async function getJobGroup(q: Queryable, batchId: number, jobGroupId: number): Promise<JobGroupRow | null> {
  const rows = await q
    .select()
    .from(jobGroups)
    .where(and(eq(jobGroups.batchId, batchId), eq(jobGroups.jobGroupId, jobGroupId)));
  return rows[0] ?? null;
}

/** Committed child groups of `parentId` (0: the batch's top-level groups), ascending by id. */
export async function listChildJobGroups(
  q: Queryable,
  opts: { batchId: number; parentId: number; lastJobGroupId: number | null; limit: number },
): Promise<JobGroupRow[]> {
  const conds = [
    eq(jobGroups.batchId, opts.batchId),
    eq(jobGroups.parentId, opts.parentId),
    sql`${jobGroups.storedState} <> 'open'`,
  ];
  if (opts.lastJobGroupId !== null) conds.push(gt(jobGroups.jobGroupId, opts.lastJobGroupId));
  return q.select().from(jobGroups).where(and(...conds)).orderBy(asc(jobGroups.jobGroupId)).limit(opts.limit);
}

/** The committed ancestors of a group other than the root, the root's child first. */
export async function jobGroupAncestors(q: Queryable, batchId: number, jobGroupId: number): Promise<JobGroupRow[]> {
  const rows = await q
    .select({ group: jobGroups })
    .from(jobGroupSelfAndAncestors)
    .innerJoin(jobGroups, and(eq(jobGroups.batchId, jobGroupSelfAndAncestors.batchId), eq(jobGroups.jobGroupId, jobGroupSelfAndAncestors.ancestorId)))
    .where(and(eq(jobGroupSelfAndAncestors.batchId, batchId), eq(jobGroupSelfAndAncestors.jobGroupId, jobGroupId), gt(jobGroupSelfAndAncestors.level, 0)))
    .orderBy(sql`${jobGroupSelfAndAncestors.level} DESC`);
  return rows.map((r) => r.group);
}

/** How many committed child groups each listed group has (absent: none), in one statement. */
export async function childGroupCounts(q: Queryable, batchId: number, parentIds: readonly number[]): Promise<Map<number, number>> {
  if (parentIds.length === 0) return new Map();
  const rows = await rawRows<{ parent_id: number; n: string }>(
    q,
    sql`SELECT parent_id, COUNT(*) AS n FROM job_groups
         WHERE batch_id = ${batchId} AND parent_id = ANY(${intArray([...parentIds])}) AND stored_state <> 'open'
         GROUP BY parent_id`,
  );
  return new Map(rows.map((r) => [Number(r.parent_id), Number(r.n)]));
}

/** Jobs of a group: its own, or with `recursive` those of every group below it too. */
export function jobsOfGroup(batchId: number, jobGroupId: number, recursive: boolean): SQL | undefined {
  if (!recursive) return sql`jobs.job_group_id = ${jobGroupId}`;
  if (jobGroupId === ROOT_JOB_GROUP_ID) return undefined;
  return sql`jobs.job_group_id IN (SELECT job_group_id FROM job_group_self_and_ancestors
                                    WHERE batch_id = ${batchId} AND ancestor_id = ${jobGroupId})`;
}

/** Of `jobIds` (a batch workflow's open jobs), those flagged for cancellation and not yet complete. */
export async function flaggedOpenJobs(q: Queryable, batchId: number, jobIds: readonly number[]): Promise<number[]> {
  if (jobIds.length === 0) return [];
  const rows = await rawRows<{ job_id: number }>(
    q,
    sql`SELECT job_id FROM jobs WHERE batch_id = ${batchId} AND job_id = ANY(${intArray([...jobIds])})
          AND cancelled AND NOT always_run AND state NOT IN ('Cancelled', 'Error', 'Failed', 'Success')`,
  );
  return rows.map((r) => r.job_id).sort((a, b) => a - b);
}

export { jobGroupSelfAndAncestors };
