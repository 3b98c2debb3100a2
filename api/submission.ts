/**
 * The write path shared by create-fast, update-fast and the commit route: reserve an update,
 * validate and insert a bunch, commit, and hand the batch to its workflow. Each step is
 * idempotent, so a client retrying any of them after a lost response gets the same answer.
 */
import type { Caller, Services } from './context';
import type { BatchRow } from '../db/queries/batches';
import { createUpdate, getUpdate } from '../db/queries/batches';
import { commitUpdate, insertJobs } from '../db/queries/jobs';
import { parseJobBunch } from '../domain/spec';
import type { JobSpec } from '../domain/job-spec';
import { batchUpdates } from '../db/schema';
import { and, eq } from 'drizzle-orm';

export function validateBunch(s: Services, caller: Caller, bunch: unknown, startJobId: number, nJobs: number): JobSpec[] {
  return parseJobBunch(bunch, { startJobId, nJobsInUpdate: nJobs, pools: s.pools, user: caller.username });
}

/**
 * Commits an update and makes sure its batch workflow exists. The workflow is started (or
 * signalled) before the commit, so a crash between the two leaves a workflow that finds the
 * committed jobs on its next look rather than committed jobs that nobody walks.
 */
export async function commitAndWake(s: Services, batch: BatchRow, updateId: number) {
  await s.workflows.wakeBatch(batch);
  const result = await commitUpdate(s.db, batch.id, updateId, Date.now());
  await s.workflows.wakeBatch(batch);
  return result;
}

export async function submitBunch(
  s: Services,
  caller: Caller,
  batch: BatchRow,
  update: { token: string; n_jobs: number },
  bunch: unknown,
): Promise<{ updateId: number | null; startJobId: number | null }> {
  if (update.n_jobs === 0) {
    validateBunch(s, caller, bunch, batch.nReservedJobs + 1, 0);
    return { updateId: null, startJobId: null };
  }
  // Validate before reserving anything, against the ids this update will get (or got, on a retry).
  const [prior] = await s.db
    .select()
    .from(batchUpdates)
    .where(and(eq(batchUpdates.batchId, batch.id), eq(batchUpdates.token, update.token)));
  let start = prior?.startJobId ?? batch.nReservedJobs + 1;
  let specs = validateBunch(s, caller, bunch, start, update.n_jobs);
  const row = prior ?? (await createUpdate(s.db, batch.id, update.token, update.n_jobs, Date.now()));
  if (row.startJobId !== start) {
    start = row.startJobId;
    specs = validateBunch(s, caller, bunch, start, update.n_jobs);
  }
  await insertJobs(s.db, batch.id, row.updateId, specs);
  await commitAndWake(s, batch, row.updateId);
  return { updateId: row.updateId, startJobId: row.startJobId };
}

export { getUpdate };
