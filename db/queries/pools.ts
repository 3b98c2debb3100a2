import { asc, eq } from 'drizzle-orm';
import { pools } from '../schema';
import type { Db, Queryable } from '../client';
import type { PoolConfig } from '../../domain/autoscaler';

export type PoolRow = { name: string; config: PoolConfig; timeUpdated: number };

/** Inserts pools that do not exist yet; an existing pool keeps the config an admin gave it. */
export async function seedPools(db: Db, seeds: { name: string; config: PoolConfig }[], now: number): Promise<void> {
  if (seeds.length === 0) return;
  await db
    .insert(pools)
    .values(seeds.map((s) => ({ name: s.name, config: s.config, timeUpdated: now })))
    .onConflictDoNothing();
}

export async function listPools(q: Queryable): Promise<PoolRow[]> {
  return q.select().from(pools).orderBy(asc(pools.name));
}

export async function getPool(q: Queryable, name: string): Promise<PoolRow | null> {
  const rows = await q.select().from(pools).where(eq(pools.name, name));
  return rows[0] ?? null;
}

/** Replaces a pool's whole config (the caller merged and validated it). */
export async function updatePoolConfig(db: Db, name: string, config: PoolConfig, now: number): Promise<PoolRow | null> {
  const rows = await db.update(pools).set({ config, timeUpdated: now }).where(eq(pools.name, name)).returning();
  return rows[0] ?? null;
}
