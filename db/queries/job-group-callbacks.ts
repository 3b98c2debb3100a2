/**
 * Completion callbacks of job groups other than the root: written in the transaction that
 * completes the group, with the group's JSON as GET job group shows it at that moment.
 */
import { and, eq, sql } from 'drizzle-orm';
import { batches, jobGroups } from '../schema';
import type { Tx } from '../client';
import { enqueueCallback } from './callbacks';
import { jobGroupUsage } from './billing';
import { loadRateCard } from './resources';
import { intArray } from './sql-util';
import { jobGroupJson } from '../../domain/job-group-json';
import { costSummary, NO_COST } from '../../domain/billing-catalogue';

export async function enqueueJobGroupCallbacks(tx: Tx, batchId: number, jobGroupIds: readonly number[], now: number): Promise<void> {
  if (jobGroupIds.length === 0) return;
  const [b] = await tx.select({ deleted: batches.deleted }).from(batches).where(eq(batches.id, batchId));
  // As for the batch: Hail calls back only for a batch that is not deleted.
  if (!b || b.deleted) return;
  const groups = await tx
    .select()
    .from(jobGroups)
    .where(and(eq(jobGroups.batchId, batchId), sql`${jobGroups.jobGroupId} = ANY(${intArray([...jobGroupIds])})`, sql`${jobGroups.callback} IS NOT NULL`));
  for (const g of groups) {
    const usage = (await jobGroupUsage(tx, batchId, g.jobGroupId, now)).get(g.jobGroupId);
    const cost = usage && usage.length > 0 ? costSummary(usage, await loadRateCard(tx)) : NO_COST;
    const body = jobGroupJson(g, cost) as unknown as Record<string, unknown>;
    await enqueueCallback(tx, { batchId, jobGroupId: g.jobGroupId, now, url: g.callback, body });
  }
}
