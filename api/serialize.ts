/** Rows to Hail's JSON shapes (hail-batch-api §3). */
import type { BatchRow } from '../db/queries/batches';
import type { JobRow } from '../db/queries/jobs';
import type { AttemptRow } from '../db/queries/attempts';
import type { JobGroupRow } from '../db/queries/job-groups';
import { deriveJobGroupState } from '../domain/job-group-tree';
import { deriveBatchState } from '../domain/states';
import { isoTime } from '../domain/time';
import { NO_COST, type CostSummary } from '../domain/billing-catalogue';

/**
 * start_job_group_id of a batch's first update, answered when a request reserved no update.
 * Hail's client takes the root group's id as start - 1 after create-fast, and asserts it is 1
 * after committing a batch's first update.
 */
export const START_JOB_GROUP_ID = 1;

/** A job group as Hail shows it (GetJobGroupResponseV1Alpha); group 0 is the batch itself. */
export function jobGroupJson(g: JobGroupRow, cost: CostSummary = NO_COST) {
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
    attributes: g.attributes,
    cancel_after_n_failures: g.cancelAfterNFailures,
  };
}

/** The root group 0 of a batch, in the job-group shape. */
export function rootJobGroupJson(b: BatchRow, cost: CostSummary = NO_COST) {
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
    attributes: j.attributes,
    cancel_after_n_failures: j.cancel_after_n_failures,
  };
}

export function batchJson(b: BatchRow, cost: CostSummary = NO_COST) {
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
    msec_mcpu: 0,
    cost: cost.cost,
    cost_breakdown: cost.cost_breakdown,
    attributes: b.attributes,
    cancel_after_n_failures: b.cancelAfterNFailures,
  };
}

export function jobEntryJson(j: JobRow, b: BatchRow, cost: CostSummary = NO_COST) {
  const duration = j.startTime !== null && j.endTime !== null ? j.endTime - j.startTime : null;
  return {
    batch_id: j.batchId,
    job_id: j.jobId,
    job_group_id: j.jobGroupId,
    name: j.name,
    user: b.user,
    billing_project: b.billingProject,
    state: j.state,
    exit_code: j.exitCode,
    start_time: isoTime(j.startTime),
    end_time: isoTime(j.endTime),
    duration,
    cost: cost.cost,
    msec_mcpu: 0,
    cost_breakdown: cost.cost_breakdown,
    always_run: j.alwaysRun,
    display_state: j.state === 'Running' && j.cancelled && !j.alwaysRun ? 'Cancelling' : j.state,
  };
}

export function jobDetailJson(j: JobRow, b: BatchRow, status: unknown, cost: CostSummary = NO_COST) {
  return {
    ...jobEntryJson(j, b, cost),
    status: status ?? null,
    spec: j.spec,
    inst_coll: j.pool,
    attributes: j.attributes,
    n_attempts: j.nAttempts,
  };
}

export function attemptJson(a: AttemptRow) {
  const duration = a.startTime !== null && a.endTime !== null ? a.endTime - a.startTime : null;
  return {
    attempt_id: a.attemptId,
    instance_name: a.instanceName,
    start_time: isoTime(a.startTime),
    start_time_ms: a.startTime,
    end_time: isoTime(a.endTime),
    end_time_ms: a.endTime,
    duration,
    duration_ms: duration,
    reason: a.reason ?? (a.outcome ? null : a.endTime !== null ? 'unknown' : null),
  };
}
