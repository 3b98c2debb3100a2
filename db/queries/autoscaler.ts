/** What the autoscaler reads of the queue: Ready work per pool, and job-private jobs. */
import { and, eq, inArray, sql } from 'drizzle-orm';
import { jobs } from '../schema';
import { rawRows, type Db, type Queryable } from '../client';
import { JOB_PRIVATE_POOL } from '../../domain/pools';
import type { JobState } from '../../domain/states';

/** How far down each pool's queue the estimate looks (Hail looks ~150 s ahead). */
const QUEUE_HEAD = 1000;

/** Cores of the head of each pool's Ready queue (owned by a job workflow, not being cancelled). */
export async function readyCoresByPool(q: Queryable): Promise<Map<string, number>> {
  const rows = await rawRows<{ pool: string; cores: string | number }>(
    q,
    sql`SELECT pool, sum(cores_mcpu) AS cores FROM (
          SELECT pool, cores_mcpu, row_number() OVER (PARTITION BY pool ORDER BY batch_id, job_id) AS n
          FROM jobs
          WHERE state = 'Ready' AND launch_token IS NOT NULL AND NOT (cancelled AND NOT always_run)
            AND pool <> ${JOB_PRIVATE_POOL}
        ) head WHERE n <= ${QUEUE_HEAD} GROUP BY pool`,
  );
  return new Map(rows.map((r) => [r.pool, Number(r.cores)]));
}

export type JobPrivateJob = {
  batchId: number;
  jobId: number;
  state: JobState;
  coresMcpu: number;
  machineType: string | null;
  regions: string[] | null;
  preemptible: boolean;
};

/** Job-private jobs waiting for their VM (Ready) or for it to start (Creating), oldest first. */
export async function waitingJobPrivateJobs(q: Queryable, limit: number): Promise<JobPrivateJob[]> {
  const rows = await rawRows<{
    batch_id: string | number;
    job_id: number;
    state: JobState;
    cores_mcpu: number;
    machine_type: string | null;
    regions: string[] | null;
    preemptible: boolean | null;
  }>(
    q,
    sql`SELECT batch_id, job_id, state, cores_mcpu, spec->'resources'->>'machine_type' AS machine_type,
               spec->'regions' AS regions, (spec->'resources'->>'preemptible')::boolean AS preemptible
        FROM jobs
        WHERE pool = ${JOB_PRIVATE_POOL} AND state IN ('Ready', 'Creating') AND launch_token IS NOT NULL
          AND NOT (cancelled AND NOT always_run)
        ORDER BY batch_id, job_id LIMIT ${limit}`,
  );
  return rows.map((r) => ({
    batchId: Number(r.batch_id),
    jobId: r.job_id,
    state: r.state,
    coresMcpu: r.cores_mcpu,
    machineType: r.machine_type,
    regions: Array.isArray(r.regions) ? r.regions : null,
    preemptible: r.preemptible ?? true,
  }));
}

/** Ready ⇄ Creating for a job-private job; conditional, so repeats change nothing. */
export async function moveJobPrivate(db: Db, batchId: number, jobId: number, from: 'Ready' | 'Creating', to: 'Ready' | 'Creating'): Promise<boolean> {
  const rows = await db
    .update(jobs)
    .set({ state: to })
    .where(and(eq(jobs.batchId, batchId), eq(jobs.jobId, jobId), eq(jobs.state, from)))
    .returning({ jobId: jobs.jobId });
  return rows.length > 0;
}

/** States of the jobs job-private instances are bound to. */
export async function boundJobStates(q: Queryable, keys: { batchId: number; jobId: number }[]): Promise<Map<string, JobState>> {
  if (keys.length === 0) return new Map();
  const out = new Map<string, JobState>();
  const batchIds = [...new Set(keys.map((k) => k.batchId))];
  const rows = await q
    .select({ batchId: jobs.batchId, jobId: jobs.jobId, state: jobs.state })
    .from(jobs)
    .where(and(inArray(jobs.batchId, batchIds), inArray(jobs.jobId, [...new Set(keys.map((k) => k.jobId))])));
  for (const r of rows) out.set(`${r.batchId}:${r.jobId}`, r.state);
  return out;
}
