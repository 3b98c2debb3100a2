import type { ActivityDeps } from './deps';
import { clock } from './deps';
import { accruedCosts } from '../db/queries/billing';
import { limitedProjects, runningBatchesOf } from '../db/queries/billing-limits';
import { cancelBatchJobs } from '../db/queries/jobs';
import { overLimit } from '../domain/billing';
import type { Db } from '../db/client';
import type { Logger } from '../cli/logger';

/** Batches looked at per pass; the next pass, 10 s later, takes the rest. */
const PASS_BATCHES = 1000;

/** `unreadable`: projects whose cost could not be read this pass (logged; the next pass tries again). */
export type LimitPass = { overLimit: string[]; batchIds: number[]; unreadable: string[] };

/**
 * Accrued cost of each project: one statement for all, and only if that fails one per project,
 * so a row that breaks one project's sum leaves every other project's limit enforced.
 */
async function accruedPerProject(db: Db, log: Logger, projects: readonly string[], now: number) {
  try {
    return { accrued: await accruedCosts(db, projects, now), unreadable: [] as string[] };
  } catch (e) {
    log.error('accrued costs failed for all projects at once; reading them one by one', { error: String(e) });
  }
  const accrued = new Map<string, number>();
  const unreadable: string[] = [];
  for (const p of projects) {
    try {
      accrued.set(p, (await accruedCosts(db, [p], now)).get(p) ?? 0);
    } catch (e) {
      unreadable.push(p);
      log.error('accrued cost of a billing project cannot be read; its limit is not enforced this pass', { billing_project: p, error: String(e) });
    }
  }
  return { accrued, unreadable };
}

export function createBillingActivities(deps: ActivityDeps) {
  const { db, log } = deps;
  return {
    /**
     * Cancels, in the database, every running batch of each project whose accrued cost has
     * reached its limit, and returns those batches (already cancelled ones too) so the workflow
     * can tell their batch workflows, which kill the running jobs. Idempotent: a repeat finds
     * the batches cancelled and only returns them again. Never fails as a whole on one project
     * or one batch: those are logged and left to the next pass, the others are enforced.
     */
    async enforceBillingLimits(): Promise<LimitPass> {
      const projects = await limitedProjects(db);
      const now = clock(deps);
      const { accrued, unreadable } = await accruedPerProject(db, log, projects.map((p) => p.name), now);
      const over = projects.filter((p) => accrued.has(p.name) && overLimit(accrued.get(p.name)!, p.limit)).map((p) => p.name);
      const running = await runningBatchesOf(db, over, PASS_BATCHES);
      const batchIds: number[] = [];
      for (const b of running) {
        try {
          if (!b.cancelled) {
            await cancelBatchJobs(db, b.id, clock(deps));
            log.warn('batch cancelled: billing project over its limit', { batch_id: b.id });
          }
          batchIds.push(b.id);
        } catch (e) {
          log.error('cancelling a batch over its billing limit failed; the next pass retries', { batch_id: b.id, error: String(e) });
        }
      }
      return { overLimit: over, batchIds, unreadable };
    },
  };
}
