import { sql } from 'drizzle-orm';
import { rawRows, type Queryable } from '../client';

/** Jobs per state, for the jobs-by-state gauge: one grouped count. */
export async function jobCountsByState(q: Queryable): Promise<{ state: string; n: number }[]> {
  const rows = await rawRows<{ state: string; n: string | number }>(q, sql`select state, count(*) as n from jobs group by state`);
  return rows.map((r) => ({ state: r.state, n: Number(r.n) }));
}
