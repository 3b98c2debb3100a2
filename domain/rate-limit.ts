/**
 * The driver's rate limit: jobs scheduled per second, per pool, as a token bucket. A bucket
 * holds at most one second of tokens (at least one), so a pool that sat idle starts no more
 * than a second's worth at once; each scheduling round may place floor(tokens) jobs of the
 * pool and spends one token per job placed. Pure and workflow-safe: the scheduler workflow
 * keeps the buckets in its state and feeds them its own (deterministic) clock.
 */

/** Highest limit accepted: far above what one driver can schedule, so only a typo is refused. */
export const MAX_JOBS_PER_SECOND = 100_000;
/** A limited round is never rerun sooner than this, so a high limit does not mean tiny rounds. */
export const MIN_LIMITED_WAIT_MS = 100;

/** Pool → jobs per second; a pool that is not listed has no limit. */
export type RateLimits = Record<string, number>;
export type Bucket = { tokens: number; atMs: number };
export type Buckets = Record<string, Bucket>;

/** Why a value is not a rate limit, or null when it is one (`null` means "no limit"). */
export function rateLimitProblem(value: unknown): string | null {
  if (value === null) return null;
  if (typeof value !== 'number' || !Number.isFinite(value)) return 'must be a number of jobs per second, or null for no limit';
  if (value <= 0) return 'must be greater than 0 (null removes the limit)';
  if (value > MAX_JOBS_PER_SECOND) return `must be at most ${MAX_JOBS_PER_SECOND}`;
  return null;
}

/** The limits with `pool` set to `jobsPerSecond`, or removed when it is null. */
export function withRateLimit(limits: RateLimits, pool: string, jobsPerSecond: number | null): RateLimits {
  const next = { ...limits };
  if (jobsPerSecond === null) delete next[pool];
  else next[pool] = jobsPerSecond;
  return next;
}

const capacity = (rate: number): number => Math.max(1, rate);

/** The bucket refilled up to `nowMs` (a new bucket starts full). */
export function refill(bucket: Bucket | undefined, rate: number, nowMs: number): Bucket {
  if (!bucket) return { tokens: capacity(rate), atMs: nowMs };
  const elapsed = Math.max(0, nowMs - bucket.atMs) / 1000;
  return { tokens: Math.min(capacity(rate), bucket.tokens + elapsed * rate), atMs: nowMs };
}

/**
 * Per limited pool, how many jobs this round may place, and the refilled buckets. Buckets of
 * pools that lost their limit are dropped.
 */
export function roundBudgets(limits: RateLimits, buckets: Buckets, nowMs: number): { budgets: Record<string, number>; buckets: Buckets } {
  const budgets: Record<string, number> = {};
  const next: Buckets = {};
  for (const [pool, rate] of Object.entries(limits)) {
    const b = refill(buckets[pool], rate, nowMs);
    next[pool] = b;
    budgets[pool] = Math.floor(b.tokens);
  }
  return { budgets, buckets: next };
}

/** The buckets after a round placed `placed[pool]` jobs. */
export function spend(buckets: Buckets, placed: Record<string, number>): Buckets {
  const next: Buckets = { ...buckets };
  for (const [pool, n] of Object.entries(placed)) {
    const b = next[pool];
    if (b) next[pool] = { tokens: Math.max(0, b.tokens - n), atMs: b.atMs };
  }
  return next;
}

/**
 * How long to wait before the next round when `limitedPools` were held back by their limits:
 * until each has a token again (the soonest of them), at least MIN_LIMITED_WAIT_MS and at
 * most `intervalMs`.
 */
export function limitedWaitMs(limits: RateLimits, buckets: Buckets, limitedPools: readonly string[], intervalMs: number): number {
  let wait = intervalMs;
  for (const pool of limitedPools) {
    const rate = limits[pool];
    const b = buckets[pool];
    if (rate === undefined || !b) continue;
    const missing = Math.max(0, 1 - b.tokens);
    wait = Math.min(wait, Math.ceil((missing / rate) * 1000));
  }
  return Math.min(intervalMs, Math.max(MIN_LIMITED_WAIT_MS, wait));
}
