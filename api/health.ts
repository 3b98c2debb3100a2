/**
 * `GET /healthz`: whether this API can do its work, not merely whether it listens. It asks
 * the database and Temporal, each within a short deadline, and answers 503 naming the part
 * that is down, so a load balancer or an operator sees a lost Temporal at once.
 */
import type { Context } from 'hono';
import { sql } from 'drizzle-orm';
import type { AppEnv } from './context';

const DATABASE_DEADLINE_MS = 2_000;

type PartState = 'ok' | 'down';

async function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

export async function healthHandler(c: Context<AppEnv>): Promise<Response> {
  const s = c.var.services;
  const [database, temporal] = await Promise.all([
    within(DATABASE_DEADLINE_MS, s.db.execute(sql`select 1`)).then(
      (): PartState => 'ok',
      (): PartState => 'down',
    ),
    s.workflows.available({ fresh: true }).then((up): PartState => (up ? 'ok' : 'down')),
  ]);
  const ok = database === 'ok' && temporal === 'ok';
  return c.json({ ok, database, temporal }, ok ? 200 : 503);
}
