/** Rows to Hail's JSON shapes (hail-batch-api §3). */
import type { BatchRow } from '../db/queries/batches';
import type { JobRow } from '../db/queries/jobs';
import type { AttemptRow } from '../db/queries/attempts';
import { isoTime } from '../domain/time';
import { NO_COST, type CostSummary } from '../domain/billing-catalogue';

/**
 * start_job_group_id of a batch's first update, answered when a request reserved no update.
 * Hail's client takes the root group's id as start - 1 after create-fast, and asserts it is 1
 * after committing a batch's first update.
 */
export const START_JOB_GROUP_ID = 1;

/** The batch JSON lives below the API, so the callback delivery builds the same body. */
export { batchJson } from '../domain/batch-json';

/** Job groups, likewise, for GET job group and a group's completion callback. */
export { jobGroupJson, rootJobGroupJson } from '../domain/job-group-json';

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
    msec_mcpu: cost.msec_mcpu,
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
    // As Hail: a job without attributes has no `attributes` key (its clients test for the key).
    ...(Object.keys(j.attributes).length > 0 ? { attributes: j.attributes } : {}),
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
