/**
 * Which worker an attempt is billed as running on, from what the database knows of it: the
 * instance it was placed on, its pool's configuration and the job's normalized resources. Pure.
 */
import { attemptResources, DEFAULT_BOOT_DISK_SIZE_GB, type BilledPool, type QuantifiedResource } from './billing-resources';
import type { RateCard } from './billing-rates';
import type { NormalizedResources } from './job-spec';
import { MEMORY_PER_CORE_MIB, parseMachineType, WORKER_TYPES, type WorkerType } from './pools';

export type AttemptPlacement = {
  job: NormalizedResources;
  /** The job's pool (standard, highmem, highcpu, job-private). */
  poolName: string;
  /** Cores of the instance the attempt runs on, when it is still known. */
  instanceCoresMcpu: number | null;
  instancePreemptible: boolean | null;
  region: string;
  /** The pool's row, when the pools table has one. */
  poolConfig: { worker_type?: WorkerType; worker_cores?: number; boot_disk_size_gb?: number } | null;
  /** Cores of a worker when neither the instance nor the pool says (the configured agent size). */
  fallbackWorkerCores: number;
};

function workerTypeOf(p: AttemptPlacement): WorkerType | null {
  if (p.poolConfig?.worker_type) return p.poolConfig.worker_type;
  if ((WORKER_TYPES as readonly string[]).includes(p.poolName)) return p.poolName as WorkerType;
  return p.job.machine_type ? (parseMachineType(p.job.machine_type)?.worker_type ?? null) : null;
}

/**
 * The worker as billing sees it. Its cores are the instance's, not the pool's `worker_cores`:
 * a standing worker is smaller than the ones the autoscaler adds, and a job's share of the disk
 * and IP address is a share of the machine it actually shares.
 */
export function billedPool(p: AttemptPlacement): BilledPool {
  const workerCores =
    p.instanceCoresMcpu !== null && p.instanceCoresMcpu > 0
      ? p.instanceCoresMcpu / 1000
      : (p.poolConfig?.worker_cores ?? p.fallbackWorkerCores);
  const workerType = workerTypeOf(p);
  return {
    worker_cores: workerCores,
    boot_disk_size_gb: p.poolConfig?.boot_disk_size_gb ?? DEFAULT_BOOT_DISK_SIZE_GB,
    ...(workerType ? { memory_per_core_mib: MEMORY_PER_CORE_MIB[workerType] } : {}),
  };
}

/** The resources an attempt placed so is billed for, at the card's latest versions. */
export function placementResources(p: AttemptPlacement, card: RateCard): QuantifiedResource[] {
  const preemptible = p.instancePreemptible ?? p.job.preemptible;
  return attemptResources(
    { cores_mcpu: p.job.cores_mcpu, memory_bytes: p.job.memory_bytes, storage_gib: p.job.storage_gib, preemptible },
    billedPool(p),
    p.region,
    card,
  );
}
