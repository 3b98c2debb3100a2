import { randomBytes } from 'node:crypto';
import { and, asc, eq, isNull, lt, sql } from 'drizzle-orm';
import { attempts, batches, instances, jobs } from '../schema';
import { rawRows, type Db, type Queryable } from '../client';
import type { AttemptOutcome } from '../../domain/states';
import type { JobSpec } from '../../domain/job-spec';
import type { QuantifiedResource } from '../../domain/billing-resources';

export type AttemptRow = typeof attempts.$inferSelect;
/** Hail's attempt ids: six random characters, unique per job. */
export function newAttemptId(): string {
  return randomBytes(6).toString('base64url').slice(0, 6);
}

export type AttemptKey = { batchId: number; jobId: number; attemptId: string };

const keyOf = (k: AttemptKey) =>
  and(eq(attempts.batchId, k.batchId), eq(attempts.jobId, k.jobId), eq(attempts.attemptId, k.attemptId));

/**
 * Places a Ready job on an instance: job → Running, cores taken from the instance, attempt
 * recorded, all in one transaction. Returns false (changing nothing) when the job is no longer
 * schedulable or the instance no longer has room: a lost race, not an error.
 */
export async function reserveAttempt(
  db: Db,
  a: AttemptKey & { instanceName: string; coresMcpu: number; now: number },
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const moved = await tx
      .update(jobs)
      .set({ state: 'Running', attemptId: a.attemptId, nAttempts: sql`${jobs.nAttempts} + 1`, startTime: null })
      .where(
        and(
          eq(jobs.batchId, a.batchId),
          eq(jobs.jobId, a.jobId),
          eq(jobs.state, 'Ready'),
          sql`${jobs.launchToken} IS NOT NULL`,
          sql`NOT (${jobs.cancelled} AND NOT ${jobs.alwaysRun})`,
        ),
      )
      .returning({ jobId: jobs.jobId });
    if (moved.length === 0) return false;
    const took = await tx
      .update(instances)
      .set({ freeCoresMcpu: sql`${instances.freeCoresMcpu} - ${a.coresMcpu}` })
      .where(
        and(eq(instances.name, a.instanceName), eq(instances.state, 'active'), sql`${instances.freeCoresMcpu} >= ${a.coresMcpu}`),
      )
      .returning({ name: instances.name });
    if (took.length === 0) {
      tx.rollback();
    }
    await tx.insert(attempts).values({
      batchId: a.batchId,
      jobId: a.jobId,
      attemptId: a.attemptId,
      instanceName: a.instanceName,
      coresMcpu: a.coresMcpu,
      timeScheduled: a.now,
    });
    return true;
  }).catch((e: unknown) => {
    if (e instanceof Error && e.message.includes('Rollback')) return false;
    throw e;
  });
}

export type Reservation = AttemptKey & { instanceName: string; coresMcpu: number };

/** Thrown inside the round's transaction when an instance no longer has the room planned. */
class RoomGone extends Error {}

/**
 * Places a scheduling round's jobs in one transaction: a handful of statements for the whole
 * round instead of one transaction per job, which kept a round's reservations waiting on the
 * connection pool and the instances' rows behind every finishing job. Jobs no longer
 * schedulable are skipped. An instance's room only grows behind the scheduler's back (jobs
 * end) unless it is deactivated; then the round falls back to placing job by job, so each
 * placement still succeeds or fails alone. Returns the placements made (the caller's objects).
 */
export async function reserveAttempts<T extends Reservation>(db: Db, list: readonly T[], now: number): Promise<T[]> {
  if (list.length === 0) return [];
  try {
    return await db.transaction(async (tx) => {
      const wanted = sql.join(
        list.map((r) => sql`(${r.batchId}::bigint, ${r.jobId}::integer, ${r.attemptId}::text)`),
        sql`, `,
      );
      const moved = await rawRows<{ batch_id: string | number; job_id: number }>(tx, sql`
        UPDATE ${jobs} SET state = 'Running', attempt_id = v.attempt_id, n_attempts = ${jobs.nAttempts} + 1, start_time = NULL
        FROM (VALUES ${wanted}) AS v(batch_id, job_id, attempt_id)
        WHERE ${jobs.batchId} = v.batch_id AND ${jobs.jobId} = v.job_id AND ${jobs.state} = 'Ready'
          AND ${jobs.launchToken} IS NOT NULL AND NOT (${jobs.cancelled} AND NOT ${jobs.alwaysRun})
        RETURNING ${jobs.batchId} AS batch_id, ${jobs.jobId} AS job_id`);
      const movedKeys = new Set(moved.map((m) => `${Number(m.batch_id)}:${m.job_id}`));
      const placed = list.filter((r) => movedKeys.has(`${r.batchId}:${r.jobId}`));
      if (placed.length === 0) return [];
      const perInstance = new Map<string, number>();
      for (const r of placed) perInstance.set(r.instanceName, (perInstance.get(r.instanceName) ?? 0) + r.coresMcpu);
      const takes = sql.join(
        [...perInstance].map(([name, cores]) => sql`(${name}::text, ${cores}::integer)`),
        sql`, `,
      );
      const took = await rawRows<{ name: string }>(tx, sql`
        UPDATE ${instances} SET free_cores_mcpu = ${instances.freeCoresMcpu} - v.cores
        FROM (VALUES ${takes}) AS v(name, cores)
        WHERE ${instances.name} = v.name AND ${instances.state} = 'active' AND ${instances.freeCoresMcpu} >= v.cores
        RETURNING ${instances.name} AS name`);
      if (took.length !== perInstance.size) throw new RoomGone();
      await tx.insert(attempts).values(
        placed.map((r) => ({
          batchId: r.batchId,
          jobId: r.jobId,
          attemptId: r.attemptId,
          instanceName: r.instanceName,
          coresMcpu: r.coresMcpu,
          timeScheduled: now,
        })),
      );
      return placed;
    });
  } catch (e) {
    if (!(e instanceof RoomGone)) throw e;
    const placed: T[] = [];
    for (const r of list) if (await reserveAttempt(db, { ...r, now })) placed.push(r);
    return placed;
  }
}

/**
 * Records that the agents have these attempts (the first acknowledgement's time is kept), in
 * one statement for a whole round, and returns those that were ended meanwhile without a
 * result, i.e. cancelled or lost while on their way, so the caller can kill them on the agent.
 * One statement: a round's acknowledgements each waiting for a connection and for its row
 * (which an agent's report may hold) was most of a busy round's time.
 */
export async function markDispatched<K extends AttemptKey>(db: Db, keys: readonly K[], now: number): Promise<K[]> {
  if (keys.length === 0) return [];
  const values = sql.join(
    keys.map((k) => sql`(${k.batchId}::bigint, ${k.jobId}::int, ${k.attemptId}::text)`),
    sql`, `,
  );
  const rows = await rawRows<{ batch_id: string | number; job_id: number; attempt_id: string; ended_meanwhile: boolean }>(
    db,
    sql`UPDATE attempts a SET time_dispatched = coalesce(a.time_dispatched, ${now}::bigint)
          FROM (VALUES ${values}) AS v(batch_id, job_id, attempt_id)
         WHERE a.batch_id = v.batch_id AND a.job_id = v.job_id AND a.attempt_id = v.attempt_id
        RETURNING a.batch_id, a.job_id, a.attempt_id, a.end_time IS NOT NULL AND a.outcome IS NULL AS ended_meanwhile`,
  );
  const ended = rows.filter((r) => r.ended_meanwhile);
  const key = (b: number, j: number, a: string) => `${b}/${j}/${a}`;
  const endedKeys = new Set(ended.map((r) => key(Number(r.batch_id), r.job_id, r.attempt_id)));
  return keys.filter((k) => endedKeys.has(key(k.batchId, k.jobId, k.attemptId)));
}

export type Dispatch = AttemptKey & {
  instanceName: string;
  address: string | null;
  user: string;
  billingProject: string;
  spec: JobSpec;
};

/** Attempts placed but never acknowledged by their agent (e.g. the scheduler died mid-pass). */
export async function undispatchedAttempts(db: Db, scheduledBefore: number, limit: number): Promise<Dispatch[]> {
  return db
    .select({
      batchId: attempts.batchId,
      jobId: attempts.jobId,
      attemptId: attempts.attemptId,
      instanceName: attempts.instanceName,
      address: instances.address,
      user: batches.user,
      billingProject: batches.billingProject,
      spec: jobs.spec,
    })
    .from(attempts)
    .innerJoin(instances, eq(instances.name, attempts.instanceName))
    .innerJoin(jobs, and(eq(jobs.batchId, attempts.batchId), eq(jobs.jobId, attempts.jobId)))
    .innerJoin(batches, eq(batches.id, attempts.batchId))
    .where(and(isNull(attempts.timeDispatched), isNull(attempts.endTime), lt(attempts.timeScheduled, scheduledBefore)))
    .limit(limit);
}

/**
 * Billing starts: main's start time and the resources the attempt is billed for are fixed
 * together, once. A repeated job_started, or a job_complete carrying the same start, finds the
 * start already set and changes nothing.
 */
async function startBilling(tx: Queryable, k: AttemptKey, startTime: number, resources: QuantifiedResource[] | null): Promise<void> {
  await tx
    .update(attempts)
    .set({ startTime, ...(resources ? { resources } : {}) })
    .where(and(keyOf(k), isNull(attempts.startTime)));
  await tx
    .update(jobs)
    .set({ startTime: sql`coalesce(${jobs.startTime}, ${startTime})` })
    .where(and(eq(jobs.batchId, k.batchId), eq(jobs.jobId, k.jobId), eq(jobs.attemptId, k.attemptId)));
}

export async function recordAttemptStarted(
  db: Db,
  k: AttemptKey,
  startTime: number,
  resources: QuantifiedResource[] | null = null,
): Promise<void> {
  await db.transaction((tx) => startBilling(tx, k, startTime, resources));
}

/**
 * Ends an attempt exactly once and gives its cores back to the instance. Later reports of the
 * same attempt (agents retry) change nothing and return false.
 */
export async function endAttempt(
  db: Db,
  k: AttemptKey,
  end: {
    endTime: number;
    outcome: AttemptOutcome | null;
    exitCode?: number | null;
    startTime?: number | null;
    reason?: string | null;
    status?: unknown;
    /** Billed resources, fixed with startTime when no job_started got through. */
    resources?: QuantifiedResource[] | null;
  },
): Promise<boolean> {
  return db.transaction(async (tx) => {
    // Main did run, even if the attempt was ended by someone else first: bill it either way.
    if (end.startTime != null) await startBilling(tx, k, end.startTime, end.resources ?? null);
    const ended = await tx
      .update(attempts)
      .set({
        endTime: end.endTime,
        outcome: end.outcome,
        exitCode: end.exitCode ?? null,
        reason: end.reason ?? null,
        status: end.status ?? null,
      })
      .where(and(keyOf(k), isNull(attempts.endTime)))
      .returning({ instanceName: attempts.instanceName, coresMcpu: attempts.coresMcpu });
    const row = ended[0];
    if (!row) return false;
    await tx
      .update(instances)
      .set({ freeCoresMcpu: sql`least(${instances.coresMcpu}, ${instances.freeCoresMcpu} + ${row.coresMcpu})` })
      .where(eq(instances.name, row.instanceName));
    return true;
  });
}

export async function getAttempt(q: Queryable, k: AttemptKey): Promise<AttemptRow | null> {
  const rows = await q.select().from(attempts).where(keyOf(k));
  return rows[0] ?? null;
}

export async function listAttempts(q: Queryable, batchId: number, jobId: number): Promise<AttemptRow[]> {
  return q
    .select()
    .from(attempts)
    .where(and(eq(attempts.batchId, batchId), eq(attempts.jobId, jobId)))
    .orderBy(asc(attempts.timeScheduled));
}

/** Open attempts on an instance (used when the instance goes away). */
export async function openAttemptsOn(q: Queryable, instanceName: string): Promise<AttemptRow[]> {
  return q
    .select()
    .from(attempts)
    .where(and(eq(attempts.instanceName, instanceName), isNull(attempts.endTime)));
}

/**
 * Running jobs whose current attempt ended before `endedBefore`: their report is stored but
 * their job workflow has not applied it, so the poke that should have followed was lost (its
 * sender died between the write and the signal). Poking them again is harmless.
 */
export async function unappliedAttemptEnds(q: Queryable, endedBefore: number, limit: number): Promise<{ batchId: number; jobId: number }[]> {
  const rows = await rawRows<{ batch_id: string | number; job_id: number }>(
    q,
    sql`SELECT j.batch_id, j.job_id FROM ${jobs} j
          JOIN ${attempts} a ON a.batch_id = j.batch_id AND a.job_id = j.job_id AND a.attempt_id = j.attempt_id
         WHERE j.state = 'Running' AND a.end_time IS NOT NULL AND a.end_time < ${endedBefore}
         ORDER BY j.batch_id, j.job_id LIMIT ${limit}`,
  );
  return rows.map((r) => ({ batchId: Number(r.batch_id), jobId: r.job_id }));
}
