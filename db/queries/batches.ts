import { and, desc, eq, lt, sql, type SQL } from 'drizzle-orm';
import { batches, batchUpdates, billingProjects } from '../schema';
import type { Db, Queryable, Tx } from '../client';
import { DbError } from './errors';

const INT4_MAX = 2_147_483_647;

export type BatchRow = typeof batches.$inferSelect;
export type UpdateRow = typeof batchUpdates.$inferSelect;

export type NewBatch = {
  user: string;
  billingProject: string;
  token: string;
  attributes: Record<string, string>;
  callback: string | null;
  cancelAfterNFailures: number | null;
};

/** Locks the batch row for the rest of the transaction: inserts, commits and job completions
 * of one batch serialize on it, which keeps parent counts and batch counters exact. */
export async function lockBatch(tx: Tx, batchId: number): Promise<BatchRow> {
  const rows = await tx.select().from(batches).where(eq(batches.id, batchId)).for('update');
  const row = rows[0];
  // Deleted batches stay lockable: their cancellation still has to run to the end.
  if (!row) throw new DbError('not_found', `batch ${batchId} not found`);
  return row;
}

/** Locks the batch (lockBatch) and reads one of its updates, which must exist. */
export async function lockBatchUpdate(tx: Tx, batchId: number, updateId: number) {
  const batch = await lockBatch(tx, batchId);
  const [update] = await tx
    .select()
    .from(batchUpdates)
    .where(and(eq(batchUpdates.batchId, batchId), eq(batchUpdates.updateId, updateId)));
  if (!update) throw new DbError('not_found', `update ${updateId} of batch ${batchId} not found`);
  return { batch, update };
}

/**
 * Idempotent on (user, token): a retried create returns the batch the first call made. The
 * billing project row is share-locked while the batch is inserted, so closing the project
 * (which locks it for update and looks for open batches) either sees this batch or happens
 * first and refuses it; a batch never slips into a project being closed.
 */
export async function createBatch(db: Db, b: NewBatch, now: number): Promise<{ batch: BatchRow; created: boolean }> {
  return db.transaction(async (tx) => {
    const existing = await findBatchByToken(tx, b.user, b.token);
    if (existing) return { batch: existing, created: false };
    const [project] = await tx
      .select({ status: billingProjects.status })
      .from(billingProjects)
      .where(eq(billingProjects.name, b.billingProject))
      .for('share');
    if (!project || project.status === 'deleted') {
      throw new DbError('forbidden', `unknown billing project ${b.billingProject}`, 'billing_project');
    }
    if (project.status !== 'open') {
      throw new DbError('forbidden', `billing project ${b.billingProject} is ${project.status}`, 'billing_project');
    }
    const inserted = await tx
      .insert(batches)
      .values({ ...b, storedState: 'complete', timeCreated: now, timeClosed: now, timeCompleted: now })
      .onConflictDoNothing({ target: [batches.user, batches.token] })
      .returning();
    if (inserted[0]) return { batch: inserted[0], created: true };
    // A concurrent create with the same token won; its batch is the answer.
    const raced = await findBatchByToken(tx, b.user, b.token);
    if (!raced) throw new DbError('conflict', 'batch token race; retry');
    return { batch: raced, created: false };
  });
}

export async function findBatchByToken(q: Queryable, user: string, token: string): Promise<BatchRow | null> {
  const rows = await q.select().from(batches).where(and(eq(batches.user, user), eq(batches.token, token)));
  return rows[0] ?? null;
}

export async function getBatch(q: Queryable, batchId: number): Promise<BatchRow | null> {
  const rows = await q.select().from(batches).where(eq(batches.id, batchId));
  const row = rows[0];
  return row && !row.deleted ? row : null;
}

/** Reserves the next contiguous blocks of job and job group ids; idempotent per (batch, token). */
export async function createUpdate(
  db: Db,
  batchId: number,
  token: string,
  nJobs: number,
  now: number,
  nJobGroups = 0,
): Promise<UpdateRow> {
  return db.transaction(async (tx) => {
    const batch = await lockBatch(tx, batchId);
    const existing = await tx
      .select()
      .from(batchUpdates)
      .where(and(eq(batchUpdates.batchId, batchId), eq(batchUpdates.token, token)));
    if (existing[0]) return existing[0];
    if (batch.cancelled) throw new DbError('invalid', 'Cannot submit new jobs or job groups to a cancelled batch');
    const [last] = await tx
      .select({ max: sql<number>`coalesce(max(${batchUpdates.updateId}), 0)`.mapWith(Number) })
      .from(batchUpdates)
      .where(eq(batchUpdates.batchId, batchId));
    const updateId = (last?.max ?? 0) + 1;
    const startJobId = batch.nReservedJobs + 1;
    const startJobGroupId = batch.nReservedJobGroups + 1;
    // Job and group ids are int4 columns: an update that would pass the last one is refused
    // (a retried create of a batch that has had updates since reaches here with its old count).
    if (batch.nReservedJobs >= INT4_MAX) {
      // Even an update of no jobs records the next job id, which would not fit.
      throw new DbError('invalid', `n_jobs: this batch has used every job id up to ${INT4_MAX}; it takes no more updates`, 'n_jobs');
    }
    if (nJobs > INT4_MAX - batch.nReservedJobs) {
      throw new DbError('invalid', `n_jobs: this batch has room for ${INT4_MAX - batch.nReservedJobs} more jobs, found ${nJobs}`, 'n_jobs');
    }
    if (nJobGroups > INT4_MAX - 1 - batch.nReservedJobGroups) {
      throw new DbError('invalid', `n_job_groups: this batch has room for ${INT4_MAX - 1 - batch.nReservedJobGroups} more job groups, found ${nJobGroups}`, 'n_job_groups');
    }
    const [row] = await tx
      .insert(batchUpdates)
      .values({ batchId, updateId, token, startJobId, nJobs, startJobGroupId, nJobGroups, timeCreated: now })
      .returning();
    await tx
      .update(batches)
      .set({ nReservedJobs: batch.nReservedJobs + nJobs, nReservedJobGroups: batch.nReservedJobGroups + nJobGroups })
      .where(eq(batches.id, batchId));
    return row!;
  });
}

export async function getUpdate(q: Queryable, batchId: number, updateId: number): Promise<UpdateRow | null> {
  const rows = await q
    .select()
    .from(batchUpdates)
    .where(and(eq(batchUpdates.batchId, batchId), eq(batchUpdates.updateId, updateId)));
  return rows[0] ?? null;
}

export async function listBatchPage(
  db: Db,
  opts: { filter: SQL | undefined; lastBatchId: number | null; limit: number },
): Promise<BatchRow[]> {
  const conds: (SQL | undefined)[] = [eq(batches.deleted, false), opts.filter];
  if (opts.lastBatchId !== null) conds.push(lt(batches.id, opts.lastBatchId));
  return db
    .select()
    .from(batches)
    .where(and(...conds))
    .orderBy(desc(batches.id))
    .limit(opts.limit);
}

/** Marks the batch cancelled; returns false when it was already. Jobs are handled by jobs.ts. */
export async function setBatchCancelled(tx: Tx, batchId: number): Promise<boolean> {
  const rows = await tx
    .update(batches)
    .set({ cancelled: true })
    .where(and(eq(batches.id, batchId), eq(batches.cancelled, false)))
    .returning({ id: batches.id });
  return rows.length > 0;
}

export async function setBatchDeleted(db: Db, batchId: number): Promise<void> {
  await db.update(batches).set({ deleted: true }).where(eq(batches.id, batchId));
}
