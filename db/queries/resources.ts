/**
 * The resource catalogue (`resources` table): seeded from a rate card at start, read whole to
 * price attempts, and extended one version at a time by admins. Rows are never updated or
 * deleted, which is what keeps an attempt's price fixed once it has recorded its resources.
 */
import { sql } from 'drizzle-orm';
import { effectiveRatesSql } from './billing';
import { resources } from '../schema';
import { rawRows, type Db, type Queryable } from '../client';
import { rateCardEntries, type RateCard } from '../../domain/billing-rates';
import { rateCardFromRows } from '../../domain/billing-catalogue';

export type ResourceRow = typeof resources.$inferSelect;

/** Inserts the card's resources that are missing; existing rows (and later versions) stay as they are. */
export async function seedResources(db: Db, card: RateCard, now: number): Promise<void> {
  const rows = rateCardEntries(card).map((e) => ({ name: e.resource, product: e.product, version: e.version, rate: e.rate, timeCreated: now }));
  if (rows.length === 0) return;
  await db.insert(resources).values(rows).onConflictDoNothing({ target: resources.name });
}

/**
 * The catalogue as billing prices with it: each row at its effective rate (effectiveRatesSql),
 * so what is listed is what is charged, and a rate stored before the bounds held reads as the
 * product's previous usable rate rather than as a number no JSON or sum can carry.
 */
export async function listResources(q: Queryable): Promise<ResourceRow[]> {
  const rows = await rawRows<{ name: string; product: string; version: number; rate: number | string; time_created: string | number }>(
    q,
    sql`SELECT name, product, version, rate, time_created FROM ${effectiveRatesSql} res ORDER BY product, version`,
  );
  return rows.map((r) => ({ name: r.name, product: r.product, version: Number(r.version), rate: Number(r.rate), timeCreated: Number(r.time_created) }));
}

/** Every version of every product, as a card: what attempts are priced with. */
export async function loadRateCard(q: Queryable): Promise<RateCard> {
  return rateCardFromRows(await listResources(q));
}

/**
 * Appends the next version of `product` at `rate`. Two admins racing for the same version
 * collide on the primary key; the loser takes the version after.
 */
export async function addResourceVersion(db: Db, product: string, rate: number, now: number): Promise<ResourceRow> {
  return (await insertVersion(db, product, rate, now, false))!;
}

/**
 * Appends the next version of `product` at `rate` unless its latest version already has that
 * rate: a price refresh repeated (or run twice at once) adds nothing. Null when nothing was added.
 */
export async function addResourceVersionIfChanged(db: Db, product: string, rate: number, now: number): Promise<ResourceRow | null> {
  return insertVersion(db, product, rate, now, true);
}

async function insertVersion(db: Db, product: string, rate: number, now: number, onlyIfChanged: boolean): Promise<ResourceRow | null> {
  const unchanged = onlyIfChanged
    ? sql`WHERE NOT EXISTS (SELECT 1 FROM resources r WHERE r.product = ${product} AND r.version = v.next - 1 AND r.rate = ${rate})`
    : sql``;
  for (let tries = 0; ; tries++) {
    try {
      const rows = await rawRows<{ name: string; product: string; version: number; rate: number; time_created: string | number }>(
        db,
        sql`INSERT INTO resources (name, product, version, rate, time_created)
            SELECT ${product} || '/' || v.next, ${product}, v.next, ${rate}, ${now}
              FROM (SELECT COALESCE(MAX(version), 0) + 1 AS next FROM resources WHERE product = ${product}) v
            ${unchanged}
            RETURNING name, product, version, rate, time_created`,
      );
      const r = rows[0];
      return r ? { name: r.name, product: r.product, version: Number(r.version), rate: Number(r.rate), timeCreated: Number(r.time_created) } : null;
    } catch (e) {
      if (tries >= 3 || !isUniqueViolation(e)) throw e;
    }
  }
}

function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: unknown; cause?: { code?: unknown } }).code ?? (e as { cause?: { code?: unknown } }).cause?.code;
  return code === '23505';
}
