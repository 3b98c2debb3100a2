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
import { listPools } from '../db/queries/pools';
import { poolDefinition } from '../domain/pool-config';
import type { PoolDefinition } from '../domain/pools';
import { and, eq } from 'drizzle-orm';

/**
 * The pools jobs are chosen and rounded against: the stored configs, so an admin's change of
 * worker_cores applies to the next submission; the configured shapes until pools are seeded.
 * A pool named after its worker type comes first, so it is the one a memory keyword picks.
 */
export async function submissionPools(s: Services): Promise<readonly PoolDefinition[]> {
  const rows = await listPools(s.db);
  if (rows.length === 0) return s.pools;
  const defs = rows.map((r) => poolDefinition(r.name, r.config));
  return [...defs.filter((d) => d.name === d.worker_type), ...defs.filter((d) => d.name !== d.worker_type)];
}

/**
 * Every route that takes a bunch validates it before writing anything, so this is where a
 * lost Temporal is caught: a 503 before the batch, update or jobs exist, instead of rows that
 * no workflow will ever walk and a request that hangs.
 */
async function requireOrchestrator(s: Services): Promise<void> {
  await s.workflows.requireAvailable();
}

export async function validateBunch(
  s: Services,
  caller: Caller,
  bunch: unknown,
  startJobId: number,
  nJobs: number,
): Promise<JobSpec[]> {
  await requireOrchestrator(s);
  const pools = await submissionPools(s);
  return parseJobBunch(bunch, { startJobId, nJobsInUpdate: nJobs, pools, user: caller.username });
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
    await validateBunch(s, caller, bunch, batch.nReservedJobs + 1, 0);
    return { updateId: null, startJobId: null };
  }
  // Validate before reserving anything, against the ids this update will get (or got, on a retry).
  const [prior] = await s.db
    .select()
    .from(batchUpdates)
    .where(and(eq(batchUpdates.batchId, batch.id), eq(batchUpdates.token, update.token)));
  let start = prior?.startJobId ?? batch.nReservedJobs + 1;
  let specs = await validateBunch(s, caller, bunch, start, update.n_jobs);
  const row = prior ?? (await createUpdate(s.db, batch.id, update.token, update.n_jobs, Date.now()));
  if (row.startJobId !== start) {
    start = row.startJobId;
    specs = await validateBunch(s, caller, bunch, start, update.n_jobs);
  }
  await insertJobs(s.db, batch.id, row.updateId, specs);
  await commitAndWake(s, batch, row.updateId);
  return { updateId: row.updateId, startJobId: row.startJobId };
}

export { getUpdate };
