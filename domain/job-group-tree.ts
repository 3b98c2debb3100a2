/**
 * Rules of Hail's job-group tree: the batch is the root group 0, groups nest at most
 * MAX_JOB_GROUPS_DEPTH below it (hailtop.batch_client.globals), and a group's state is derived
 * from its counts exactly as a batch's is.
 */
import { deriveBatchState, type BatchState, type BatchStoredState } from './states';
import type { JobGroupSpec } from './spec-job-group';

import { ROOT_JOB_GROUP_ID } from './callbacks';

export { ROOT_JOB_GROUP_ID };
export const MAX_JOB_GROUPS_DEPTH = 2;

export const NESTING_EXCEEDED = `job group exceeded the maximum level of nesting (${MAX_JOB_GROUPS_DEPTH})`;

/**
 * Depth of each group of a bunch (root = 0), given the depths already known for parents
 * outside it. A parent neither in the bunch nor known is left for the commit to check (bunches
 * may arrive out of order), so its child is absent from the answer.
 */
export function bunchDepths(specs: readonly JobGroupSpec[], known: ReadonlyMap<number, number>): Map<number, number> {
  const depths = new Map<number, number>();
  // In-update parents have smaller ids, so one pass in id order sees every parent first.
  for (const g of [...specs].sort((a, b) => a.job_group_id - b.job_group_id)) {
    const parent = g.parent_id === ROOT_JOB_GROUP_ID ? 0 : (depths.get(g.parent_id) ?? known.get(g.parent_id));
    if (parent !== undefined) depths.set(g.job_group_id, parent + 1);
  }
  return depths;
}

/** The index of the first group deeper than allowed, or -1. */
export function firstTooDeep(specs: readonly JobGroupSpec[], depths: ReadonlyMap<number, number>): number {
  return specs.findIndex((g) => (depths.get(g.job_group_id) ?? 0) > MAX_JOB_GROUPS_DEPTH);
}

export type JobGroupCounts = {
  stored: BatchStoredState;
  cancelled: boolean;
  n_failed: number;
  n_cancelled: number;
};

export function deriveJobGroupState(g: JobGroupCounts): BatchState {
  return deriveBatchState(g);
}
