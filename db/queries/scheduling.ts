import { sql } from 'drizzle-orm';
import { rawRows, type Queryable } from '../client';
import type { SchedulableJob, UserDemand } from '../../domain/fair-share';
import { JOB_PRIVATE_POOL } from '../../domain/pools';

/**
 * A Ready job the scheduler may place: owned by a job workflow (its launch token is set) and
 * not flagged for cancellation unless it is always_run.
 */
const SCHEDULABLE = sql`j.state = 'Ready' AND j.launch_token IS NOT NULL AND NOT (j.cancelled AND NOT j.always_run)`;

/** `readyAlwaysRun`: how many of the schedulable jobs are always_run (usually none). */
export type PoolDemand = UserDemand & { pool: string; readyAlwaysRun: number };

/**
 * Each user's running and schedulable cores per shared pool. Running means an open attempt: a
 * job whose attempt ended but whose workflow has not yet recorded it has already given its
 * cores back, and counting it would starve its user for that moment. Job-private jobs are
 * left out: each has a VM of its own and takes no part in fair share.
 *
 * Two reads, each on a partial index of the few rows it needs: Running jobs (`jobs_running`),
 * and Ready jobs a job workflow owns (`jobs_schedulable` or `jobs_launch_token`, whichever the
 * planner finds smaller; at most a batch's window each), never the unclaimed Ready rows, which
 * are most of a big batch's jobs. The two are not one snapshot:
 * a job claimed, or an attempt ended, between them is seen by one read and not yet the other,
 * which shifts one round's shares by that job; placements are reserved conditionally anyway.
 */
export async function poolDemand(q: Queryable): Promise<PoolDemand[]> {
  const running = await rawRows<{ pool: string; user: string; running: string | number }>(
    q,
    sql`SELECT j.pool, b."user" AS "user", sum(j.cores_mcpu) AS running
          FROM jobs j JOIN batches b ON b.id = j.batch_id
          JOIN attempts a ON a.batch_id = j.batch_id AND a.job_id = j.job_id AND a.attempt_id = j.attempt_id AND a.end_time IS NULL
         WHERE j.state = 'Running' AND j.pool <> ${JOB_PRIVATE_POOL}
         GROUP BY j.pool, b."user"`,
  );
  const ready = await rawRows<{ pool: string; user: string; ready: string | number; ready_always_run: string | number }>(
    q,
    sql`SELECT j.pool, b."user" AS "user", sum(j.cores_mcpu) AS ready, count(*) FILTER (WHERE j.always_run) AS ready_always_run
          FROM jobs j JOIN batches b ON b.id = j.batch_id
         WHERE ${SCHEDULABLE} AND j.pool <> ${JOB_PRIVATE_POOL}
         GROUP BY j.pool, b."user"`,
  );
  const out = new Map<string, PoolDemand>();
  const entry = (pool: string, user: string): PoolDemand => {
    const key = JSON.stringify([pool, user]);
    let d = out.get(key);
    if (!d) out.set(key, (d = { pool, user, runningCoresMcpu: 0, readyCoresMcpu: 0, readyAlwaysRun: 0 }));
    return d;
  };
  for (const r of running) entry(r.pool, r.user).runningCoresMcpu = Number(r.running);
  for (const r of ready) {
    const d = entry(r.pool, r.user);
    d.readyCoresMcpu = Number(r.ready);
    d.readyAlwaysRun = Number(r.ready_always_run);
  }
  return [...out.values()];
}

export type CandidateJob = SchedulableJob & { user: string; alwaysRun: boolean };

/**
 * Each user's next jobs in one pool, up to its budget: Ready always_run jobs first (they run
 * even in a cancelled batch), then the others, each group in batch and job id order.
 *
 * Shaped for the indexes: per user, its unfinished batches in id order (batches_user_id),
 * and per batch its owned Ready jobs of the pool in job id order (jobs_schedulable), each stopping
 * at the budget, so a round reads about as many rows as it may schedule. always_run jobs are
 * rare and not indexed; they are looked for only for users `alwaysRunUsers` says have some.
 */
export async function candidateJobs(
  q: Queryable,
  pool: string,
  budgets: ReadonlyMap<string, number>,
  alwaysRunUsers: ReadonlySet<string> = new Set(),
): Promise<Map<string, CandidateJob[]>> {
  const out = new Map<string, CandidateJob[]>();
  if (budgets.size === 0) return out;
  for (const user of budgets.keys()) out.set(user, []);
  const users = sql.join(
    [...budgets].map(([user, limit]) => sql`(${user}::text, ${limit}::int, ${alwaysRunUsers.has(user)}::boolean)`),
    sql`, `,
  );
  const pick = (alwaysRun: boolean) =>
    sql`SELECT bj.* FROM batches b
        CROSS JOIN LATERAL (
          SELECT j.batch_id, j.job_id, j.cores_mcpu, j.always_run, j.spec->'regions' AS regions
          FROM jobs j
          WHERE j.pool = ${pool} AND j.state = 'Ready' AND j.batch_id = b.id
            AND ${SCHEDULABLE} AND j.always_run = ${alwaysRun}
          ORDER BY j.job_id LIMIT u.lim
        ) bj
        WHERE b."user" = u.username AND b.n_completed < b.n_jobs ${alwaysRun ? sql`AND u.any_always_run` : sql``}
        ORDER BY b.id, bj.job_id LIMIT u.lim`;
  const rows = await rawRows<{
    username: string;
    batch_id: string | number;
    job_id: number;
    cores_mcpu: number;
    always_run: boolean;
    regions: string[] | string | null;
  }>(
    q,
    sql`SELECT u.username, c.* FROM (VALUES ${users}) AS u(username, lim, any_always_run)
        CROSS JOIN LATERAL ((${pick(true)}) UNION ALL (${pick(false)})) c`,
  );
  for (const r of rows) {
    // jsonb arrives parsed from some drivers and as text from others.
    const regions: unknown = typeof r.regions === 'string' ? JSON.parse(r.regions) : r.regions;
    out.get(r.username)?.push({
      batchId: Number(r.batch_id),
      jobId: r.job_id,
      coresMcpu: r.cores_mcpu,
      pool,
      regions: Array.isArray(regions) && regions.length > 0 ? (regions as string[]) : null,
      user: r.username,
      alwaysRun: r.always_run,
    });
  }
  for (const [user, jobs] of out) {
    jobs.sort((a, b) => Number(b.alwaysRun) - Number(a.alwaysRun) || a.batchId - b.batchId || a.jobId - b.jobId);
    jobs.length = Math.min(jobs.length, budgets.get(user) ?? 0);
  }
  return out;
}
