import { sql } from 'drizzle-orm';
import { rawRows, type Queryable } from '../client';
import type { PlaceableJob } from '../../domain/placement';

/** Ready jobs owned by a job workflow and not flagged for cancellation, oldest first. */
export async function schedulableJobs(q: Queryable, limit: number): Promise<PlaceableJob[]> {
  const rows = await rawRows<{ batch_id: string | number; job_id: number; cores_mcpu: number; pool: string }>(
    q,
    sql`SELECT batch_id, job_id, cores_mcpu, pool FROM jobs
        WHERE state = 'Ready' AND launch_token IS NOT NULL AND NOT (cancelled AND NOT always_run)
        ORDER BY batch_id, job_id LIMIT ${limit}`,
  );
  return rows.map((r) => ({ batchId: Number(r.batch_id), jobId: r.job_id, coresMcpu: r.cores_mcpu, pool: r.pool }));
}
