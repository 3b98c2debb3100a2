import { and, asc, desc, eq, gt, inArray, isNull, sql } from 'drizzle-orm';
import { instances } from '../schema';
import { rawRows, type Db, type Queryable } from '../client';
import { LIVE_INSTANCE_STATES } from '../../domain/instances';

export type InstanceRow = typeof instances.$inferSelect;

export type NewInstance = {
  name: string;
  pool: string;
  coresMcpu: number;
  activationTokenHash: string;
  now: number;
  region?: string;
  preemptible?: boolean;
  /** Job-private VMs: the machine type and the one job the VM is for. */
  machineType?: string | null;
  batchId?: number | null;
  jobId?: number | null;
};

/** The row is written before the machine is created, so every machine has a row. */
export async function insertInstance(db: Db, i: NewInstance): Promise<void> {
  await db
    .insert(instances)
    .values({
      name: i.name,
      pool: i.pool,
      coresMcpu: i.coresMcpu,
      freeCoresMcpu: i.coresMcpu,
      activationTokenHash: i.activationTokenHash,
      timeCreated: i.now,
      ...(i.region !== undefined ? { region: i.region } : {}),
      ...(i.preemptible !== undefined ? { preemptible: i.preemptible } : {}),
      machineType: i.machineType ?? null,
      batchId: i.batchId ?? null,
      jobId: i.jobId ?? null,
    })
    .onConflictDoNothing();
}

export async function setInstanceHandle(db: Db, name: string, handle: string): Promise<void> {
  await db.update(instances).set({ handle }).where(eq(instances.name, name));
}

export async function getInstance(q: Queryable, name: string): Promise<InstanceRow | null> {
  const rows = await q.select().from(instances).where(eq(instances.name, name));
  return rows[0] ?? null;
}

/** pending → active, swapping the one-time activation token for a per-instance token. */
export async function activateInstance(
  db: Db,
  name: string,
  a: { address: string; tokenHash: string; now: number },
): Promise<boolean> {
  const rows = await db
    .update(instances)
    .set({ state: 'active', address: a.address, tokenHash: a.tokenHash, timeActivated: a.now, lastHeartbeat: a.now })
    .where(and(eq(instances.name, name), inArray(instances.state, ['pending', 'active'])))
    .returning({ name: instances.name });
  return rows.length > 0;
}

export async function recordHeartbeat(db: Db, name: string, now: number): Promise<void> {
  await db
    .update(instances)
    .set({ lastHeartbeat: now, failedRequests: 0 })
    .where(eq(instances.name, name));
}

/**
 * pending|active → inactive (it takes no more work; the autoscaler deletes it next), keeping
 * the first reason given. Returns whether this call deactivated it.
 */
export async function deactivateInstance(db: Db, name: string, reason: string, now: number): Promise<boolean> {
  const rows = await db
    .update(instances)
    .set({ state: 'inactive', reason: sql`coalesce(${instances.reason}, ${reason})`, timeDeactivated: now })
    .where(and(eq(instances.name, name), inArray(instances.state, ['pending', 'active'])))
    .returning({ name: instances.name });
  return rows.length > 0;
}

/**
 * Deactivates an instance only if it is still active and idle: all cores free and no open
 * attempt. Checking free cores on the row itself makes this safe against a concurrent
 * reservation, which takes cores from the same row (the row lock orders the two).
 */
export async function deactivateIfIdle(db: Db, name: string, reason: string, now: number): Promise<boolean> {
  const rows = await db
    .update(instances)
    .set({ state: 'inactive', reason, timeDeactivated: now })
    .where(
      and(
        eq(instances.name, name),
        eq(instances.state, 'active'),
        sql`${instances.freeCoresMcpu} = ${instances.coresMcpu}`,
        sql`NOT EXISTS (SELECT 1 FROM attempts a WHERE a.instance_name = ${instances.name} AND a.end_time IS NULL)`,
      ),
    )
    .returning({ name: instances.name });
  return rows.length > 0;
}

/** The last step of an instance's life, after its machine is gone. */
export async function markInstanceDeleted(db: Db, name: string, reason: string, now: number): Promise<void> {
  await db
    .update(instances)
    .set({
      state: 'deleted',
      timeDeleted: now,
      freeCoresMcpu: 0,
      reason: sql`coalesce(${instances.reason}, ${reason})`,
      timeDeactivated: sql`coalesce(${instances.timeDeactivated}, ${now})`,
    })
    .where(and(eq(instances.name, name), inArray(instances.state, [...LIVE_INSTANCE_STATES])));
}

/** Kept for the agent's own deactivation report: 'inactive' only from pending or active. */
export async function setInstanceState(db: Db, name: string, state: InstanceRow['state'], now: number): Promise<void> {
  if (state === 'inactive') {
    await deactivateInstance(db, name, 'deactivated', now);
    return;
  }
  if (state === 'deleted') {
    await markInstanceDeleted(db, name, 'deleted', now);
    return;
  }
  await db.update(instances).set({ state }).where(eq(instances.name, name));
}

export async function countFailedRequest(db: Db, name: string): Promise<void> {
  await db
    .update(instances)
    .set({ failedRequests: sql`${instances.failedRequests} + 1` })
    .where(eq(instances.name, name));
}

/**
 * Active pool instances that may take work: free cores, and at most one failed request.
 * Job-private instances are left out: only their own job is placed on them.
 */
export async function schedulableInstances(q: Queryable): Promise<InstanceRow[]> {
  return q
    .select()
    .from(instances)
    .where(
      and(
        eq(instances.state, 'active'),
        gt(instances.freeCoresMcpu, 0),
        sql`${instances.failedRequests} <= 1`,
        isNull(instances.batchId),
      ),
    )
    .orderBy(asc(instances.freeCoresMcpu));
}

export async function liveInstances(q: Queryable): Promise<InstanceRow[]> {
  return q
    .select()
    .from(instances)
    .where(inArray(instances.state, [...LIVE_INSTANCE_STATES]))
    .orderBy(asc(instances.name));
}

export async function listInstances(q: Queryable): Promise<InstanceRow[]> {
  return q.select().from(instances).orderBy(desc(instances.timeCreated));
}

/**
 * For each active instance with no open attempt: since when it has had nothing to do (its
 * activation or the end of its last attempt). Busy instances are absent.
 */
export async function idleSince(q: Queryable): Promise<Map<string, number>> {
  const rows = await rawRows<{ name: string; since: string | number }>(
    q,
    sql`SELECT i.name, greatest(coalesce(i.time_activated, i.time_created),
               coalesce((SELECT max(a.end_time) FROM attempts a WHERE a.instance_name = i.name), 0)) AS since
        FROM instances i
        WHERE i.state = 'active'
          AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.instance_name = i.name AND a.end_time IS NULL)`,
  );
  return new Map(rows.map((r) => [r.name, Number(r.since)]));
}
