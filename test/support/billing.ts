/** Cost as the rate math gives it, from the attempts rows and the catalogue, for e2e checks. */
import { listAttempts, type AttemptRow } from '../../db/queries/attempts';
import { loadRateCard } from '../../db/queries/resources';
import type { Queryable } from '../../db/client';
import { attemptCost, billedWindow } from '../../domain/billing';
import type { RateCard } from '../../domain/billing-rates';

/** Main's end as the agent reported it in the attempt's status document. */
export function mainEndOf(a: AttemptRow): number | null {
  const end = (a.status as { container_statuses?: { main?: { timing?: { running?: { finish_time?: unknown } } } } } | null)
    ?.container_statuses?.main?.timing?.running?.finish_time;
  return typeof end === 'number' ? end : null;
}

export function windowOf(a: AttemptRow, now = Date.now()): { startMs: number; endMs: number } | null {
  return billedWindow({ mainStart: a.startTime, mainEnd: mainEndOf(a), endTime: a.endTime, now });
}

/** Σ over the attempt's resources of quantity × rate × billed ms, via the domain's pure math. */
export function expectedAttemptCost(a: AttemptRow, card: RateCard, now = Date.now()): number {
  return attemptCost({ resources: a.resources, mainStart: a.startTime, mainEnd: mainEndOf(a), endTime: a.endTime }, card, now);
}

export async function expectedJobCost(q: Queryable, batchId: number, jobId: number): Promise<{ cost: number; attempts: AttemptRow[] }> {
  const card = await loadRateCard(q);
  const attempts = await listAttempts(q, batchId, jobId);
  return { cost: attempts.reduce((sum, a) => sum + expectedAttemptCost(a, card), 0), attempts };
}

/** Equal up to float rounding: costs are short sums of doubles summed in different orders. */
export function closeTo(actual: number, expected: number, rel = 1e-9): boolean {
  return Math.abs(actual - expected) <= rel * Math.max(Math.abs(expected), 1e-12);
}
