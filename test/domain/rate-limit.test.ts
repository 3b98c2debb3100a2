import { describe, expect, it } from 'vitest';
import { limitedWaitMs, MIN_LIMITED_WAIT_MS, rateLimitProblem, refill, roundBudgets, spend, withRateLimit } from '../../domain/rate-limit';

describe('rate limit token bucket', () => {
  it('accepts positive finite limits and null, refuses the rest with a reason', () => {
    expect(rateLimitProblem(5)).toBeNull();
    expect(rateLimitProblem(0.5)).toBeNull();
    expect(rateLimitProblem(null)).toBeNull();
    for (const bad of [0, -1, Number.NaN, Infinity, '5', undefined, {}, 1e9]) expect(rateLimitProblem(bad)).toMatch(/must/);
  });

  it('sets and removes a pool without touching the others', () => {
    const l = withRateLimit({ highmem: 2 }, 'standard', 5);
    expect(l).toEqual({ highmem: 2, standard: 5 });
    expect(withRateLimit(l, 'standard', null)).toEqual({ highmem: 2 });
  });

  it('starts full at one second of tokens, at least one, and refills at the rate up to that', () => {
    expect(refill(undefined, 10, 0)).toEqual({ tokens: 10, atMs: 0 });
    expect(refill(undefined, 0.2, 0).tokens).toBe(1);
    expect(refill({ tokens: 0, atMs: 0 }, 10, 250).tokens).toBeCloseTo(2.5);
    expect(refill({ tokens: 0, atMs: 0 }, 10, 60_000).tokens).toBe(10);
    // A clock that went backwards refills nothing.
    expect(refill({ tokens: 3, atMs: 1000 }, 10, 500).tokens).toBe(3);
  });

  it('gives each limited pool floor(tokens) per round and spends what was placed', () => {
    const first = roundBudgets({ standard: 4 }, {}, 0);
    expect(first.budgets).toEqual({ standard: 4 });
    const after = spend(first.buckets, { standard: 4, unlimited: 9 });
    expect(after['standard']!.tokens).toBe(0);
    expect(after['unlimited']).toBeUndefined();
    // 600 ms later: 2.4 tokens, 2 jobs.
    expect(roundBudgets({ standard: 4 }, after, 600).budgets).toEqual({ standard: 2 });
    // Over 10 simulated seconds of back-to-back rounds, about rate × seconds jobs are placed.
    let buckets = after;
    let placed = 0;
    for (let t = 100; t <= 10_000; t += 100) {
      const r = roundBudgets({ standard: 4 }, buckets, t);
      placed += r.budgets['standard']!;
      buckets = spend(r.buckets, { standard: r.budgets['standard']! });
    }
    expect(placed).toBe(40);
  });

  it('drops the bucket of a pool whose limit was removed', () => {
    const r = roundBudgets({}, { standard: { tokens: 1, atMs: 0 } }, 10);
    expect(r.buckets).toEqual({});
    expect(r.budgets).toEqual({});
  });

  it('waits until a held-back pool has a token, bounded by the floor and the interval', () => {
    expect(limitedWaitMs({ standard: 1 }, { standard: { tokens: 0, atMs: 0 } }, ['standard'], 1000)).toBe(1000);
    expect(limitedWaitMs({ standard: 2 }, { standard: { tokens: 0.5, atMs: 0 } }, ['standard'], 1000)).toBe(250);
    expect(limitedWaitMs({ standard: 1000 }, { standard: { tokens: 0, atMs: 0 } }, ['standard'], 1000)).toBe(MIN_LIMITED_WAIT_MS);
    expect(limitedWaitMs({ standard: 0.1 }, { standard: { tokens: 0, atMs: 0 } }, ['standard'], 1000)).toBe(1000);
  });
});
