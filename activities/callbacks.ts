/**
 * Delivers completion callbacks from the outbox (db/queries/callbacks.ts): claims the due
 * rows under a fresh attempt token, POSTs each body as JSON (Hail's `session.post(callback,
 * json=…)`), and records the outcome under that token. A failed try is retried with backoff
 * (domain/callbacks.ts) until it is delivered or given up; both are kept in the row.
 */
import { randomUUID } from 'node:crypto';
import type { ActivityDeps } from './deps';
import { clock } from './deps';
import { liveInstances } from '../db/queries/instances';
import { claimDueCallbacks, recordCallbackOutcome, type CallbackOutcome, type CallbackRow } from '../db/queries/callbacks';
import { callbackRefusal, DEFAULT_CALLBACK_RETRY, nextAttemptAt, type CallbackRetryPolicy } from '../domain/callbacks';

/** Rows per pass; all are sent at once, so a pass lasts about one request timeout at most. */
const PASS_CALLBACKS = 50;

export type CallbackPass = { claimed: number; delivered: number; retried: number; failed: number; more: boolean };

type Try = { status: number | null; error: string | null };

/** One POST: no redirect is followed (a 3xx is a failed try), and it ends by the timeout. */
async function post(row: CallbackRow, timeoutMs: number): Promise<Try> {
  try {
    const res = await fetch(row.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(row.body),
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body?.cancel().catch(() => undefined);
    if (res.status >= 200 && res.status < 300) return { status: res.status, error: null };
    const why = res.status >= 300 && res.status < 400 ? 'redirect not followed' : 'not a 2xx answer';
    return { status: res.status, error: `HTTP ${res.status}: ${why}` };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    const detail = err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err.cause?.code ?? err.cause?.message ?? err.message);
    return { status: null, error: String(detail).slice(0, 500) };
  }
}

export function createCallbackActivities(deps: ActivityDeps, ownUrls: readonly string[]) {
  const { db, log, config } = deps;
  const { timeoutMs, maxAttempts } = config.driver.callbacks;
  const policy: CallbackRetryPolicy = { ...DEFAULT_CALLBACK_RETRY, maxAttempts };
  // Longer than any try can hold a row (the POST's timeout plus the database's share), so a
  // retried pass never claims a row whose first try may still be sending it.
  const leaseMs = 2 * timeoutMs + 30_000;

  async function deliverOne(row: CallbackRow, token: string, own: readonly string[]): Promise<CallbackOutcome['kind']> {
    const refusal = callbackRefusal(row.url, own);
    const result: Try = refusal ? { status: null, error: `not sent: ${refusal}` } : await post(row, timeoutMs);
    const now = clock(deps);
    let outcome: CallbackOutcome;
    if (result.error === null) outcome = { kind: 'delivered', status: result.status ?? 200 };
    else {
      const at = refusal ? null : nextAttemptAt(policy, row.attempts, row.timeCreated, now);
      outcome = at === null ? { kind: 'failed', status: result.status, error: result.error } : { kind: 'retry', at, status: result.status, error: result.error };
    }
    const recorded = await recordCallbackOutcome(db, row.id, token, outcome, now);
    const fields = { batch_id: row.batchId, job_group_id: row.jobGroupId, completion: row.completion, attempts: row.attempts };
    if (!recorded) log.warn('callback try outlived its lease; its outcome is not recorded', { ...fields, outcome: outcome.kind });
    else if (outcome.kind === 'delivered') log.info('callback delivered', { ...fields, status: outcome.status });
    else if (outcome.kind === 'failed') log.warn('callback given up', { ...fields, error: outcome.error });
    else log.info('callback failed; will retry', { ...fields, error: outcome.error, next_attempt_at: outcome.at });
    return outcome.kind;
  }

  return {
    /**
     * One delivery pass over the due callbacks. Safe to retry: a retry has a new token, finds
     * the rows this pass recorded no longer due, and cannot claim the ones still in flight
     * until their lease is over.
     */
    async deliverCallbacks(): Promise<CallbackPass> {
      const token = randomUUID();
      const rows = await claimDueCallbacks(db, { token, now: clock(deps), leaseMs, limit: PASS_CALLBACKS });
      // The worker VMs' agents are the service too (they take job creations from the driver).
      const agents = rows.length > 0 ? (await liveInstances(db)).flatMap((i) => (i.address ? [i.address] : [])) : [];
      const own = [...ownUrls, ...agents];
      const kinds = await Promise.all(rows.map((r) => deliverOne(r, token, own)));
      const count = (k: CallbackOutcome['kind']) => kinds.filter((x) => x === k).length;
      return { claimed: rows.length, delivered: count('delivered'), retried: count('retry'), failed: count('failed'), more: rows.length === PASS_CALLBACKS };
    },
  };
}
