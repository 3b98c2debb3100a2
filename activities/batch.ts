import type { ActivityDeps } from './deps';
import { clock } from './deps';
import { cancelBatchJobs, claimReadyJobs, type ClaimResult } from '../db/queries/jobs';

export function createBatchActivities(deps: ActivityDeps) {
  const { db, log } = deps;
  return {
    async claimReadyJobs(input: { batchId: number; token: string; limit: number }): Promise<ClaimResult> {
      return claimReadyJobs(db, input.batchId, input.token, input.limit);
    },

    async cancelBatch(input: { batchId: number }): Promise<{ batchComplete: boolean }> {
      const r = await cancelBatchJobs(db, input.batchId, clock(deps));
      log.info('batch cancelled', { batch_id: input.batchId });
      return r;
    },
  };
}
