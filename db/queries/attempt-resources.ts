/**
 * Gathers what billing needs to know about an attempt (its job's resources, its instance, its
 * pool's config, the catalogue) and works out the resources it is billed for.
 */
import type { AttemptRow } from './attempts';
import { getJob } from './jobs';
import { getInstance } from './instances';
import { getPool } from './pools';
import { loadRateCard } from './resources';
import type { Queryable } from '../client';
import { placementResources } from '../../domain/billing-attempt';
import type { QuantifiedResource } from '../../domain/billing-resources';

/**
 * The attempt's resources at the catalogue's latest versions, or null when there is nothing to
 * fix: billing already started (a repeated report) or its job is gone.
 */
export async function resourcesForAttempt(
  q: Queryable,
  attempt: AttemptRow,
  opts: { fallbackWorkerCores: number; region: string },
): Promise<QuantifiedResource[] | null> {
  if (attempt.startTime !== null) return null;
  const job = await getJob(q, attempt.batchId, attempt.jobId);
  if (!job) return null;
  const instance = await getInstance(q, attempt.instanceName);
  const pool = await getPool(q, job.pool);
  return placementResources(
    {
      job: job.spec.resources,
      poolName: job.pool,
      instanceCoresMcpu: instance?.coresMcpu ?? null,
      instancePreemptible: instance?.preemptible ?? null,
      region: instance?.region ?? opts.region,
      poolConfig: pool?.config ?? null,
      fallbackWorkerCores: opts.fallbackWorkerCores,
    },
    await loadRateCard(q),
  );
}
