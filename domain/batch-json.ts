/**
 * A batch as Hail's wire shows it (hail-batch-api §3): the body of GET batch and of the
 * completion callback, which Hail builds with the same `batch_record_to_dict`. Here, below the
 * API, so the callback delivery can build the very same JSON.
 */
import { deriveBatchState, type BatchStoredState } from './states';
import { isoTime } from './time';
import { NO_COST, type CostSummary } from './billing-catalogue';

/** What a batch and each of its job groups both record: state, counts, times, settings. */
export type ProgressFacts = {
  storedState: BatchStoredState;
  cancelled: boolean;
  nJobs: number;
  nCompleted: number;
  nSucceeded: number;
  nFailed: number;
  nCancelled: number;
  timeCreated: number;
  timeCompleted: number | null;
  attributes: Record<string, string>;
  cancelAfterNFailures: number | null;
};

/** The stored facts of a batch the JSON is made of (a `batches` row has them all). */
export type BatchFacts = ProgressFacts & {
  id: number;
  user: string;
  billingProject: string;
  token: string;
  timeClosed: number | null;
};

export function batchJson(b: BatchFacts, cost: CostSummary = NO_COST) {
  const durationMs = b.timeCompleted !== null && b.storedState === 'complete' ? b.timeCompleted - b.timeCreated : null;
  return {
    id: b.id,
    user: b.user,
    billing_project: b.billingProject,
    token: b.token,
    state: deriveBatchState({ stored: b.storedState, cancelled: b.cancelled, n_failed: b.nFailed, n_cancelled: b.nCancelled }),
    complete: b.storedState === 'complete',
    closed: b.storedState !== 'open',
    n_jobs: b.nJobs,
    n_completed: b.nCompleted,
    n_succeeded: b.nSucceeded,
    n_failed: b.nFailed,
    n_cancelled: b.nCancelled,
    time_created: isoTime(b.timeCreated),
    time_closed: isoTime(b.timeClosed),
    time_completed: b.storedState === 'complete' ? isoTime(b.timeCompleted) : null,
    duration_ms: durationMs,
    duration: durationMs,
    msec_mcpu: cost.msec_mcpu,
    cost: cost.cost,
    cost_breakdown: cost.cost_breakdown,
    attributes: b.attributes,
  };
}
