/**
 * The callback outbox (db/schema/callbacks.ts). A completion writes its row in the same
 * transaction that completes the batch or job group; the delivery loop claims due rows with
 * an attempt token and a lease, and only the token's holder may record how its try went.
 */
import { and, asc, eq, sql } from 'drizzle-orm';
import { batches, callbacks } from '../schema';
import { rawRows, type Queryable, type Tx } from '../client';
import { batchesUsage } from './billing';
import { loadRateCard } from './resources';
import { batchJson } from '../../domain/batch-json';
import { costSummary, NO_COST } from '../../domain/billing-catalogue';
import { ROOT_JOB_GROUP_ID } from '../../domain/callbacks';

export type CallbackRow = typeof callbacks.$inferSelect;

export type EnqueueCallback = {
  batchId: number;
  /** 0 is the batch itself (Hail's root job group). */
  jobGroupId: number;
  /** The completion's time (the driver's clock); also prices the batch's cost. */
  now?: number;
  /**
   * For job groups other than 0: the group's callback URL and its JSON as Hail shows it (the
   * group's owner builds both). For group 0 they default to the batch's `callback` and
   * `batchJson`, read inside the transaction, after the batch row was marked complete.
   */
  url?: string | null;
  body?: Record<string, unknown>;
};

/**
 * Records that a batch or job group has just completed and has a callback to make. Call it in
 * the transaction that completes it, holding the batch lock (lockBatch). Group 0 (the batch)
 * is already enqueued by applyCounts (db/queries/dag.ts). A later completion of the same group
 * (after an update) gets the next `completion` number; a repeated call for the same completion
 * (same `time_completed` in the body) returns the existing row, and the unique key on
 * (batch, group, completion) keeps concurrent callers from adding a second one.
 * Returns the row's id, or null when there is no callback to make.
 */
export async function enqueueCallback(tx: Tx, c: EnqueueCallback): Promise<number | null> {
  const now = c.now ?? Date.now();
  let url = c.url ?? null;
  let body = c.body;
  if (c.jobGroupId === ROOT_JOB_GROUP_ID && (url === null || body === undefined)) {
    const [b] = await tx.select().from(batches).where(eq(batches.id, c.batchId));
    // Hail calls back only for a batch that is not deleted.
    if (!b || b.deleted) return null;
    url ??= b.callback;
    if (url === null) return null;
    if (body === undefined) {
      const usage = (await batchesUsage(tx, [b.id], now)).get(b.id);
      const cost = usage && usage.length > 0 ? costSummary(usage, await loadRateCard(tx)) : NO_COST;
      body = batchJson(b, cost) as unknown as Record<string, unknown>;
    }
  }
  if (url === null || body === undefined) return null;
  const [prev] = await rawRows<{ id: number | string; completion: number; time_completed: string | null }>(
    tx,
    sql`SELECT id, completion, body->>'time_completed' AS time_completed FROM callbacks
         WHERE batch_id = ${c.batchId} AND job_group_id = ${c.jobGroupId}
         ORDER BY completion DESC LIMIT 1`,
  );
  // One completion has one time_completed: a second call for it (say, from the batch's DAG
  // walk and from a job-group path in the same transaction) is the same callback, not a new one.
  const completedAt = typeof body['time_completed'] === 'string' ? body['time_completed'] : null;
  if (prev && completedAt !== null && prev.time_completed === completedAt) return Number(prev.id);
  const rows = await tx
    .insert(callbacks)
    .values({ batchId: c.batchId, jobGroupId: c.jobGroupId, completion: (prev?.completion ?? 0) + 1, url, body, nextAttemptAt: now, timeCreated: now })
    .onConflictDoNothing()
    .returning({ id: callbacks.id });
  return rows[0]?.id ?? null;
}

/**
 * Claims due callbacks for one delivery try: pending ones whose time has come, and in-flight
 * ones whose lease ran out (their holder died mid-try; see docs/ARCHITECTURE.md, Callbacks).
 * Each claimed row is in flight under `token` until `now + leaseMs`; a concurrent or retried
 * claim skips it, so one row is never being sent by two holders at once.
 */
export async function claimDueCallbacks(
  q: Queryable,
  opts: { token: string; now: number; leaseMs: number; limit: number },
): Promise<CallbackRow[]> {
  const rows = await rawRows<{ id: number | string }>(
    q,
    sql`UPDATE callbacks SET state = 'in_flight', attempt_token = ${opts.token},
               lease_until = ${opts.now + opts.leaseMs}::bigint, attempts = attempts + 1
         WHERE id IN (
           SELECT id FROM callbacks
            WHERE (state = 'pending' AND next_attempt_at <= ${opts.now}::bigint)
               OR (state = 'in_flight' AND lease_until <= ${opts.now}::bigint)
            ORDER BY next_attempt_at, id
            LIMIT ${opts.limit}
            FOR UPDATE SKIP LOCKED)
        RETURNING id`,
  );
  if (rows.length === 0) return [];
  const ids = rows.map((r) => Number(r.id));
  const claimed = await q
    .select()
    .from(callbacks)
    .where(and(sql`${callbacks.id} = ANY(${`{${ids.join(',')}}`}::bigint[])`, eq(callbacks.attemptToken, opts.token)))
    .orderBy(asc(callbacks.id));
  return claimed;
}

/** How one try went: delivered, to be tried again at `at`, or given up. */
export type CallbackOutcome =
  | { kind: 'delivered'; status: number }
  | { kind: 'retry'; at: number; status: number | null; error: string }
  | { kind: 'failed'; status: number | null; error: string };

/**
 * Records a try's outcome, only while `token` still holds the row in flight: a holder whose
 * lease ran out and whose row was claimed again changes nothing. Returns whether it did.
 */
export async function recordCallbackOutcome(q: Queryable, id: number, token: string, outcome: CallbackOutcome, now: number): Promise<boolean> {
  const held = and(eq(callbacks.id, id), eq(callbacks.attemptToken, token), eq(callbacks.state, 'in_flight'));
  const set =
    outcome.kind === 'delivered'
      ? { state: 'delivered', lastStatus: outcome.status, lastError: null, timeDelivered: now }
      : outcome.kind === 'retry'
        ? { state: 'pending', nextAttemptAt: outcome.at, lastStatus: outcome.status, lastError: outcome.error }
        : { state: 'failed', lastStatus: outcome.status, lastError: outcome.error };
  const rows = await q
    .update(callbacks)
    .set({ ...set, attemptToken: null, leaseUntil: null })
    .where(held)
    .returning({ id: callbacks.id });
  return rows.length > 0;
}

/** A batch's callbacks (every group and completion), oldest first. */
export async function listCallbacks(q: Queryable, batchId: number): Promise<CallbackRow[]> {
  return q.select().from(callbacks).where(eq(callbacks.batchId, batchId)).orderBy(asc(callbacks.jobGroupId), asc(callbacks.completion));
}
