/**
 * The write path shared by create-fast, update-fast and the commit route: reserve an update,
 * validate and insert a bunch, commit, and hand the batch to its workflow. Each step is
 * idempotent, so a client retrying any of them after a lost response gets the same answer.
 */
import type { Caller, Services } from './context';
import type { BatchRow } from '../db/queries/batches';
import { createUpdate, getUpdate } from '../db/queries/batches';
import { commitUpdate, refreshJobStatistics, insertJobs } from '../db/queries/jobs';
import { insertJobGroups } from '../db/queries/job-groups';
import { parseJobBunch } from '../domain/spec';
import { parseJobGroups, type JobGroupSpec } from '../domain/spec-job-group';
import type { JobSpec } from '../domain/job-spec';
import { batchUpdates } from '../db/schema';
import { listPools } from '../db/queries/pools';
import { poolDefinition } from '../domain/pool-config';
import type { PoolDefinition } from '../domain/pools';
import { and, eq } from 'drizzle-orm';
import { firstStorageViolation } from '../storage/confine';
import { ApiError } from './errors';

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

/** `billingProject` is the batch's: its storage roots are the only ones the bunch may name. */
export async function validateBunch(
  s: Services,
  caller: Caller,
  bunch: unknown,
  startJobId: number,
  nJobs: number,
  billingProject: string,
  groups: GroupReservation = NO_GROUPS,
): Promise<JobSpec[]> {
  await requireOrchestrator(s);
  const pools = await submissionPools(s);
  const regions = supportedRegions(s);
  const specs = parseJobBunch(bunch, {
    startJobId,
    nJobsInUpdate: nJobs,
    pools,
    user: caller.username,
    regions,
    startJobGroupId: groups.startJobGroupId,
    nJobGroupsInUpdate: groups.nJobGroups,
  });
  await checkStorage(s, specs, billingProject);
  return specs;
}

/** The job group ids an update reserved: in-update group n is startJobGroupId + n - 1. */
export type GroupReservation = { startJobGroupId: number; nJobGroups: number };
const NO_GROUPS: GroupReservation = { startJobGroupId: 1, nJobGroups: 0 };

/** The `job_groups` of a request (absent: none), against the ids its update reserved. */
export function validateJobGroups(value: unknown, groups: GroupReservation, opts: { oneBunchOfMany?: boolean } = {}): JobGroupSpec[] {
  if (value === undefined) return [];
  return parseJobGroups(value, { startJobGroupId: groups.startJobGroupId, nJobGroupsInUpdate: groups.nJobGroups, ...opts });
}

/** What GET supported_regions answers: a job asking for any other region could never be placed. */
export function supportedRegions(s: Services): readonly string[] {
  return [s.config.region];
}

/** Every host file a job names must lie in its billing project's storage roots (400 naming the field). */
async function checkStorage(s: Services, specs: JobSpec[], billingProject: string): Promise<void> {
  // Local mode has no buckets, and a mount the agent silently skipped would only mislead.
  const fused = specs.findIndex((j) => (j.cloudfuse?.length ?? 0) > 0);
  if (fused >= 0) {
    const field = `bunch[${fused}].cloudfuse[0].bucket`;
    throw new ApiError('invalid_request', `${field}: buckets cannot be mounted in local mode`, field);
  }
  if (specs.every((j) => j.input_files.length === 0 && j.output_files.length === 0)) return;
  const roots = s.config.storage.rootsFor(billingProject);
  const violation = await firstStorageViolation(specs, roots, s.config.storage.clouds);
  if (violation) throw new ApiError('invalid_request', `${violation.field}: ${violation.message}`, violation.field);
}

/**
 * Commits an update and makes sure its batch workflow exists. The workflow is started (or
 * signalled) before the commit, so a crash between the two leaves a workflow that finds the
 * committed jobs on its next look rather than committed jobs that nobody walks.
 */
/**
 * An update this big changes the jobs table enough that PostgreSQL's plans, made from
 * statistics of before, go wrong until autovacuum next analyzes it (up to a minute or more):
 * the first page of a 100,000-job batch took 300 ms instead of 0.1 ms.
 */
const ANALYZE_AFTER_JOBS = 10_000;

export async function commitAndWake(s: Services, batch: BatchRow, updateId: number) {
  await s.workflows.wakeBatch(batch);
  const result = await commitUpdate(s.db, batch.id, updateId, Date.now());
  await s.workflows.wakeBatch(batch);
  if (result.nJobs >= ANALYZE_AFTER_JOBS) {
    // After the answer, not before: it samples a bounded number of rows, and never blocks
    // reads or writes; a failure only leaves the statistics to autovacuum.
    void refreshJobStatistics(s.db).catch((e: unknown) => s.log.warn('ANALYZE after a large commit failed', { batch_id: batch.id, error: String(e) }));
  }
  return result;
}

export async function submitBunch(
  s: Services,
  caller: Caller,
  batch: BatchRow,
  update: { token: string; n_jobs: number; n_job_groups: number },
  bunch: unknown,
  jobGroups?: unknown,
  /** The published contract's own check, run once the domain's rules (Hail's messages) passed. */
  checkContract: (bunch: unknown) => void = () => undefined,
): Promise<{ updateId: number | null; startJobId: number | null; startJobGroupId: number | null }> {
  if (update.n_jobs === 0 && update.n_job_groups === 0) {
    const none = { startJobGroupId: batch.nReservedJobGroups + 1, nJobGroups: 0 };
    validateJobGroups(jobGroups, none);
    await validateBunch(s, caller, bunch, batch.nReservedJobs + 1, 0, batch.billingProject, none);
    checkContract(bunch);
    return { updateId: null, startJobId: null, startJobGroupId: null };
  }
  // Validate before reserving anything, against the ids this update will get (or got, on a retry).
  const [prior] = await s.db
    .select()
    .from(batchUpdates)
    .where(and(eq(batchUpdates.batchId, batch.id), eq(batchUpdates.token, update.token)));
  const reservation = (startJobGroupId: number) => ({ startJobGroupId, nJobGroups: update.n_job_groups });
  let start = prior?.startJobId ?? batch.nReservedJobs + 1;
  let groups = reservation(prior?.startJobGroupId ?? batch.nReservedJobGroups + 1);
  let groupSpecs = validateJobGroups(jobGroups, groups);
  let specs = await validateBunch(s, caller, bunch, start, update.n_jobs, batch.billingProject, groups);
  checkContract(bunch);
  const row = prior ?? (await createUpdate(s.db, batch.id, update.token, update.n_jobs, Date.now(), update.n_job_groups));
  if (row.startJobId !== start || row.startJobGroupId !== groups.startJobGroupId) {
    start = row.startJobId;
    groups = reservation(row.startJobGroupId);
    groupSpecs = validateJobGroups(jobGroups, groups);
    specs = await validateBunch(s, caller, bunch, start, update.n_jobs, batch.billingProject, groups);
  }
  await insertJobGroups(s.db, batch.id, row.updateId, groupSpecs, Date.now());
  await insertJobs(s.db, batch.id, row.updateId, specs);
  await commitAndWake(s, batch, row.updateId);
  return { updateId: row.updateId, startJobId: row.startJobId, startJobGroupId: row.startJobGroupId };
}

export { getUpdate };
