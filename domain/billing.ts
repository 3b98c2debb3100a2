/**
 * Cost of attempts, billed time, billing limits and report periods. Cost = Σ quantity × rate ×
 * billed ms over an attempt's resources (billing-resources.ts) at the rates of the versions it
 * recorded (billing-rates.ts). Pure: the current time is always an argument.
 */
import { billedRateOf, compareNames, type RateCard } from './billing-rates';
import type { QuantifiedResource } from './billing-resources';
import { SpecError, showValue } from './errors';
import { parseBillingDate } from './time';

/** Quantity × ms of one resource: integer, so it adds up exactly and a rate applies once at the end. */
export type ResourceUsage = { resource: string; usage: number };
export type ResourceCost = { resource: string; cost: number };

function checkDuration(durationMs: number): void {
  if (!Number.isFinite(durationMs) || durationMs < 0) {
    throw new RangeError(`a billed duration must be a finite number of ms ≥ 0, got ${durationMs}`);
  }
}

/** Usage per resource for `durationMs`, same-named resources merged, sorted by resource. */
export function resourceUsage(resources: readonly QuantifiedResource[], durationMs: number): ResourceUsage[] {
  checkDuration(durationMs);
  const usage = new Map<string, number>();
  for (const { name, quantity } of resources) {
    if (!Number.isFinite(quantity) || quantity < 0) throw new RangeError(`quantity of ${name} is ${quantity}`);
    usage.set(name, (usage.get(name) ?? 0) + quantity * durationMs);
  }
  return [...usage]
    .map(([resource, u]) => ({ resource, usage: u }))
    .sort((a, b) => compareNames(a.resource, b.resource));
}

/**
 * Dollars per resource of a usage list, sorted by resource. Usage comes from stored rows, so a
 * resource the card does not price, or a usage that is not a finite number ≥ 0, costs nothing
 * rather than failing the read or turning the sum into Infinity (which JSON cannot carry).
 */
export function usageCostBreakdown(usage: readonly ResourceUsage[], card: RateCard): ResourceCost[] {
  const costs = new Map<string, number>();
  for (const { resource, usage: u } of usage) {
    const usable = Number.isFinite(u) && u > 0 ? u : 0;
    costs.set(resource, (costs.get(resource) ?? 0) + usable * billedRateOf(card, resource));
  }
  return [...costs]
    .map(([resource, cost]) => ({ resource, cost }))
    .sort((a, b) => compareNames(a.resource, b.resource));
}

function total(breakdown: readonly ResourceCost[]): number {
  return breakdown.reduce((sum, line) => sum + line.cost, 0);
}

/** Dollars per resource of using `resources` for `durationMs`, sorted by resource. */
export function costBreakdown(
  resources: readonly QuantifiedResource[],
  card: RateCard,
  durationMs: number,
): ResourceCost[] {
  return usageCostBreakdown(resourceUsage(resources, durationMs), card);
}

/** Dollars for using `resources` for `durationMs`: the sum of costBreakdown, in its order. */
export function cost(resources: readonly QuantifiedResource[], card: RateCard, durationMs: number): number {
  return total(costBreakdown(resources, card, durationMs));
}

/** When an attempt ran. Times are ms since the epoch; null means it has not happened (yet). */
export type AttemptTimes = {
  /** The main container started. */
  mainStart: number | null;
  /** The main container ended. */
  mainEnd: number | null;
  /** The attempt ended: finished, failed, cancelled, or its worker was preempted or lost. */
  endTime: number | null;
};

/**
 * The part of an attempt that is billed: while its main container runs. Downloading inputs,
 * pulling images and uploading outputs are not billed. An attempt that ends before main does
 * (preemption, a lost worker, cancellation) is billed up to its end; one still running, up to
 * `now`. Null when nothing is billed. Worker and driver clocks may disagree, so an end before the
 * start bills nothing rather than a negative time.
 */
export function billedWindow(attempt: AttemptTimes & { now: number }): { startMs: number; endMs: number } | null {
  const { mainStart, mainEnd, endTime, now } = attempt;
  if (mainStart === null) return null;
  const ends = [mainEnd, endTime].filter((t): t is number => t !== null);
  const endMs = ends.length > 0 ? Math.min(...ends) : now;
  return endMs > mainStart ? { startMs: mainStart, endMs } : null;
}

/** Billed ms of an attempt (see billedWindow); 0 when nothing is billed. */
export function billedIntervalMs(attempt: AttemptTimes & { now: number }): number {
  const window = billedWindow(attempt);
  return window ? window.endMs - window.startMs : 0;
}

/** An attempt as billing sees it: the resources it recorded when it started, and its times. */
export type BilledAttempt = AttemptTimes & { resources: readonly QuantifiedResource[] };

/** An attempt's cost so far: final once it has ended, live (growing with `now`) while main runs. */
export function attemptCost(attempt: BilledAttempt, card: RateCard, now: number): number {
  return cost(attempt.resources, card, billedIntervalMs({ ...attempt, now }));
}

/** A job's cost so far: the sum over its attempts, each at its own resource versions. */
export function attemptsCost(attempts: readonly BilledAttempt[], card: RateCard, now: number): number {
  return attempts.reduce((sum, attempt) => sum + attemptCost(attempt, card, now), 0);
}

/** A job's cost so far per resource, over all its attempts, sorted by resource. */
export function attemptsCostBreakdown(attempts: readonly BilledAttempt[], card: RateCard, now: number): ResourceCost[] {
  const usage = attempts.flatMap((attempt) => resourceUsage(attempt.resources, billedIntervalMs({ ...attempt, now })));
  return usageCostBreakdown(usage, card);
}

/**
 * A billing project is over its limit once what it has accrued reaches the limit; then new
 * batches are refused and running ones cancelled. A null limit is no limit.
 */
export function overLimit(accrued: number, limit: number | null): boolean {
  return limit !== null && accrued >= limit;
}

/** A billing report's range, [startMs, endMsExclusive); a null end is open. */
export type BillingPeriod = { startMs: number; endMsExclusive: number | null };

const DAY_MS = 86_400_000;

/**
 * The range of a billing report from its `start` and `end` query parameters (MM/DD/YYYY, UTC).
 * Both days are included, so the range ends at midnight after `end`. As in Hail, a missing start
 * is the first of the current month (`nowMs` says which) and a missing or empty end is open.
 */
export function billingPeriod(start: string | null | undefined, end?: string | null, nowMs?: number): BillingPeriod {
  let startMs: number;
  if (start === null || start === undefined) {
    if (nowMs === undefined) throw new SpecError('start', 'missing start date; expected MM/DD/YYYY, e.g. 01/31/2026');
    const now = new Date(nowMs);
    startMs = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
  } else {
    startMs = parseBillingDate(start, 'start');
  }
  if (end === null || end === undefined || end === '') return { startMs, endMsExclusive: null };
  const endDay = parseBillingDate(end, 'end');
  if (endDay < startMs) {
    const from = start ?? billingDateText(startMs);
    throw new SpecError('end', `end ${showValue(end)} is before start ${showValue(from)}; start must not be after end`);
  }
  return { startMs, endMsExclusive: endDay + DAY_MS };
}

function billingDateText(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getUTCMonth() + 1)}/${two(d.getUTCDate())}/${d.getUTCFullYear()}`;
}

/** Ms of a billed window that fall in a report period, to split an attempt across periods. */
export function overlapMs(window: { startMs: number; endMs: number } | null, period: BillingPeriod): number {
  if (!window) return 0;
  const from = Math.max(window.startMs, period.startMs);
  const to = period.endMsExclusive === null ? window.endMs : Math.min(window.endMs, period.endMsExclusive);
  return Math.max(0, to - from);
}
