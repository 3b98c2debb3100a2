/**
 * Why an instance must be deleted now, if it must (hail-batch-api §6 "Health"): it was
 * deactivated (by its agent, the idle rule or a preemption), its machine vanished, it never
 * activated within 5 minutes, or it failed more than 5 requests in a row. Pure.
 */
import { STUCK_PENDING_MS } from './autoscaler';
import type { InstanceState } from './instances';

/** The reasons instances end with; `preempted` is also what their open attempts end with. */
export const RETIREMENT_REASONS = {
  idle: 'idle',
  preempted: 'preempted',
  deactivated: 'deactivated',
  vanished: 'machine vanished',
  stuck: 'stuck pending',
  failedRequests: 'failed requests',
  jobComplete: 'job complete',
  orphan: 'no database row',
} as const;

/** Hail deletes an instance after more than this many failed requests. */
export const MAX_FAILED_REQUESTS = 5;

export type InstanceHealth = {
  state: InstanceState;
  /** The reason recorded when it was deactivated, if it was. */
  reason: string | null;
  createdAtMs: number;
  failedRequests: number;
  /** Whether the cloud still lists its machine. */
  machineExists: boolean;
};

export function retirementReason(i: InstanceHealth, nowMs: number, stuckMs = STUCK_PENDING_MS): string | null {
  if (i.state === 'deleted') return null;
  if (i.state === 'inactive') return i.reason ?? RETIREMENT_REASONS.deactivated;
  if (!i.machineExists) return RETIREMENT_REASONS.vanished;
  if (i.state === 'pending' && nowMs - i.createdAtMs >= stuckMs) return RETIREMENT_REASONS.stuck;
  if (i.failedRequests > MAX_FAILED_REQUESTS) return RETIREMENT_REASONS.failedRequests;
  return null;
}

/** Hail calls an instance it has not heard from (heartbeat or report) for this long. */
export const UNHEARD_MS = 60_000;
/** Instances called per check, the longest unheard first (Hail: 50 a second). */
export const PROBES_PER_CHECK = 50;

export type Hearing = { name: string; state: InstanceState; lastHeardMs: number | null };

/**
 * Active instances to call this check: unheard for `unheardMs` or more, the longest unheard
 * first, at most `max`. A call that fails counts as a failed request, so a machine that still
 * exists but no longer answers (hung, cut off) reaches the failed-request rule and is deleted.
 */
export function instancesToProbe<T extends Hearing>(instances: readonly T[], nowMs: number, unheardMs = UNHEARD_MS, max = PROBES_PER_CHECK): T[] {
  return instances
    .filter((i) => i.state === 'active' && i.lastHeardMs !== null && nowMs - i.lastHeardMs >= unheardMs)
    .sort((a, b) => (a.lastHeardMs ?? 0) - (b.lastHeardMs ?? 0))
    .slice(0, max);
}
