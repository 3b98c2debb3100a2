import type { ActivityDeps } from './deps';
import { clock } from './deps';
import { accruedCosts } from '../db/queries/billing';
import { limitedProjects, runningBatchesOf } from '../db/queries/billing-limits';
import { cancelBatchJobs } from '../db/queries/jobs';
import { overLimit } from '../domain/billing';

/** Batches looked at per pass; the next pass, 10 s later, takes the rest. */
const PASS_BATCHES = 1000;

export type LimitPass = { overLimit: string[]; batchIds: number[] };

export function createBillingActivities(deps: ActivityDeps) {
  const { db, log } = deps;
  return {
    /**
     * Cancels, in the database, every running batch of each project whose accrued cost has
     * reached its limit, and returns those batches (already cancelled ones too) so the workflow
     * can tell their batch workflows, which kill the running jobs. Idempotent: a repeat finds
     * the batches cancelled and only returns them again.
     */
    async enforceBillingLimits(): Promise<LimitPass> {
      const projects = await limitedProjects(db);
      const now = clock(deps);
      const accrued = await accruedCosts(db, projects.map((p) => p.name), now);
      const over = projects.filter((p) => overLimit(accrued.get(p.name) ?? 0, p.limit)).map((p) => p.name);
      const running = await runningBatchesOf(db, over, PASS_BATCHES);
      for (const b of running) {
        if (b.cancelled) continue;
        await cancelBatchJobs(db, b.id, clock(deps));
        log.warn('batch cancelled: billing project over its limit', { batch_id: b.id });
      }
      return { overLimit: over, batchIds: running.map((b) => b.id) };
    },
  };
}
