import { and, asc, desc, eq, gt, inArray, sql } from 'drizzle-orm';
import { instances } from '../schema';
import type { Db, Queryable } from '../client';
import { LIVE_INSTANCE_STATES } from '../../domain/instances';

export type InstanceRow = typeof instances.$inferSelect;

export async function insertInstance(
  db: Db,
  i: { name: string; pool: string; coresMcpu: number; activationTokenHash: string; now: number },
): Promise<void> {
  await db
    .insert(instances)
    .values({
      name: i.name,
      pool: i.pool,
      coresMcpu: i.coresMcpu,
      freeCoresMcpu: i.coresMcpu,
      activationTokenHash: i.activationTokenHash,
      timeCreated: i.now,
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

export async function setInstanceState(db: Db, name: string, state: InstanceRow['state'], now: number): Promise<void> {
  await db
    .update(instances)
    .set({ state, ...(state === 'deleted' ? { timeDeleted: now, freeCoresMcpu: 0 } : {}) })
    .where(eq(instances.name, name));
}

export async function countFailedRequest(db: Db, name: string): Promise<void> {
  await db
    .update(instances)
    .set({ failedRequests: sql`${instances.failedRequests} + 1` })
    .where(eq(instances.name, name));
}

/** Active instances that may take work: free cores, and at most one failed request. */
export async function schedulableInstances(q: Queryable): Promise<InstanceRow[]> {
  return q
    .select()
    .from(instances)
    .where(and(eq(instances.state, 'active'), gt(instances.freeCoresMcpu, 0), sql`${instances.failedRequests} <= 1`))
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
