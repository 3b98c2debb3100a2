/**
 * Cost and cost_breakdown of the jobs and batches a response shows: one usage aggregate per
 * page (db/queries/billing.ts), priced with the catalogue read once per request.
 */
import type { Services } from './context';
import { batchesUsage, jobGroupsUsage, jobsUsage } from '../db/queries/billing';
import { loadRateCard } from '../db/queries/resources';
import { costSummary, NO_COST, type CostSummary } from '../domain/billing-catalogue';
import type { ResourceUsage } from '../domain/billing';

export async function jobCosts(s: Services, batchId: number, jobIds: readonly number[]): Promise<Map<number, CostSummary>> {
  return priced(s, await jobsUsage(s.db, batchId, jobIds, Date.now()));
}

export async function batchCosts(s: Services, batchIds: readonly number[]): Promise<Map<number, CostSummary>> {
  return priced(s, await batchesUsage(s.db, batchIds, Date.now()));
}

export async function jobGroupCosts(s: Services, batchId: number, jobGroupIds: readonly number[]): Promise<Map<number, CostSummary>> {
  return priced(s, await jobGroupsUsage(s.db, batchId, jobGroupIds, Date.now()));
}

export async function jobGroupCost(s: Services, batchId: number, jobGroupId: number): Promise<CostSummary> {
  return costOf(await jobGroupCosts(s, batchId, [jobGroupId]), jobGroupId);
}

/** The cost of one id from a priced map: nothing billed yet is 0 with an empty breakdown. */
export function costOf(costs: Map<number, CostSummary>, id: number): CostSummary {
  return costs.get(id) ?? NO_COST;
}

async function priced(s: Services, usage: Map<number, ResourceUsage[]>): Promise<Map<number, CostSummary>> {
  if (usage.size === 0) return new Map();
  const card = await loadRateCard(s.db);
  return new Map([...usage].map(([id, u]) => [id, costSummary(u, card)]));
}
