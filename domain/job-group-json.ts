/**
 * A job group as Hail's wire shows it (GetJobGroupResponseV1Alpha): the body of GET job group,
 * of the child-group listing and of a group's completion callback. Group 0 is the batch.
 */
import { batchJson, type BatchFacts, type ProgressFacts } from './batch-json';
import { deriveJobGroupState } from './job-group-tree';
import { isoTime } from './time';
import { NO_COST, type CostSummary } from './billing-catalogue';

/**
 * Hail's group body has `attributes` only when there are some, and no
 * cancel_after_n_failures; its clients and callback receivers compare the body key for key.
 */
function withAttributes(attributes: Record<string, string>): { attributes?: Record<string, string> } {
  return Object.keys(attributes).length > 0 ? { attributes } : {};
}

/** The stored facts of a job group the JSON is made of (a `job_groups` row has them all). */
export type JobGroupFacts = ProgressFacts & { batchId: number; jobGroupId: number };

export function jobGroupJson(g: JobGroupFacts, cost: CostSummary = NO_COST) {
  const complete = g.storedState === 'complete';
  return {
    batch_id: g.batchId,
    job_group_id: g.jobGroupId,
    state: deriveJobGroupState({ stored: g.storedState, cancelled: g.cancelled, n_failed: g.nFailed, n_cancelled: g.nCancelled }),
    complete,
    n_jobs: g.nJobs,
    n_completed: g.nCompleted,
    n_succeeded: g.nSucceeded,
    n_failed: g.nFailed,
    n_cancelled: g.nCancelled,
    time_created: isoTime(g.timeCreated),
    time_completed: complete ? isoTime(g.timeCompleted) : null,
    duration: complete && g.timeCompleted !== null ? g.timeCompleted - g.timeCreated : null,
    cost: cost.cost,
    cost_breakdown: cost.cost_breakdown,
    ...withAttributes(g.attributes),
  };
}

/** The root group 0 of a batch, in the job-group shape. */
export function rootJobGroupJson(b: BatchFacts, cost: CostSummary = NO_COST) {
  const j = batchJson(b, cost);
  return {
    batch_id: b.id,
    job_group_id: 0,
    state: j.state,
    complete: j.complete,
    n_jobs: j.n_jobs,
    n_completed: j.n_completed,
    n_succeeded: j.n_succeeded,
    n_failed: j.n_failed,
    n_cancelled: j.n_cancelled,
    time_created: j.time_created,
    time_completed: j.time_completed,
    duration: j.duration,
    cost: j.cost,
    cost_breakdown: j.cost_breakdown,
    ...withAttributes(j.attributes),
  };
}
