/**
 * The autoscaler's decisions for one pool (hail-batch-api §6, §8): how many worker VMs to
 * create this loop, which idle or stuck ones to delete, and the job-private rule of one VM
 * per job. Pure: counts and timestamps come in, the caller creates and deletes.
 */
import type { InstanceState } from './instances';
import { WORKER_TYPES, type WorkerType } from './pools';
import { INT4_MAX } from './limits';
import { isComplete, type JobState } from './states';

/** A pool's configuration, with Hail's field names. */
export type PoolConfig = {
  worker_type: WorkerType;
  /** Cores of each worker VM the autoscaler creates for the queue. */
  worker_cores: number;
  /** Cores of the standing workers kept up to `min_instances` while the queue is empty. */
  standing_worker_cores: number;
  boot_disk_size_gb: number;
  preemptible: boolean;
  min_instances: number;
  max_live_instances: number;
  max_instances: number;
  worker_max_idle_time_secs: number;
  autoscaler_loop_period_secs: number;
  max_new_instances_per_autoscaler_loop: number;
};

/** Hail's defaults (16-core preemptible workers, a 15 s loop creating at most 10 VMs). */
export const DEFAULT_POOL_CONFIG: Readonly<PoolConfig> = {
  worker_type: 'standard',
  worker_cores: 16,
  standing_worker_cores: 4,
  boot_disk_size_gb: 20,
  preemptible: true,
  min_instances: 0,
  max_live_instances: 100,
  max_instances: 100,
  worker_max_idle_time_secs: 30,
  autoscaler_loop_period_secs: 15,
  max_new_instances_per_autoscaler_loop: 10,
};

export type PoolConfigError = { field: keyof PoolConfig; message: string };

/** An instance's cores are stored in mcpu in an int4 column; every other field fits an int4 too. */
export const MAX_WORKER_CORES = Math.floor(INT4_MAX / 1000);

const POSITIVE_INTEGERS = [
  'worker_cores',
  'standing_worker_cores',
  'boot_disk_size_gb',
  'worker_max_idle_time_secs',
  'autoscaler_loop_period_secs',
  'max_new_instances_per_autoscaler_loop',
] as const satisfies readonly (keyof PoolConfig)[];
const COUNTS = ['min_instances', 'max_live_instances', 'max_instances'] as const satisfies readonly (keyof PoolConfig)[];

/**
 * Every problem with a pool configuration, each naming its field, so an operator fixes them
 * all at once. Takes unknown values because configurations arrive as JSON.
 */
export function validatePoolConfig(config: { readonly [K in keyof PoolConfig]?: unknown }): PoolConfigError[] {
  const errors: PoolConfigError[] = [];
  const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
  if (!(WORKER_TYPES as readonly unknown[]).includes(config.worker_type)) {
    errors.push({ field: 'worker_type', message: `must be one of ${WORKER_TYPES.join(', ')}` });
  }
  const tooLarge = (field: keyof PoolConfig, v: number) => {
    const max = field === 'worker_cores' || field === 'standing_worker_cores' ? MAX_WORKER_CORES : INT4_MAX;
    if (v > max) errors.push({ field, message: `must be at most ${max}` });
  };
  for (const field of POSITIVE_INTEGERS) {
    const v = config[field];
    if (!isInt(v) || v <= 0) errors.push({ field, message: 'must be a positive integer' });
    else tooLarge(field, v);
  }
  for (const field of COUNTS) {
    const v = config[field];
    if (!isInt(v) || v < 0) errors.push({ field, message: 'must be a non-negative integer' });
    else tooLarge(field, v);
  }
  if (typeof config.preemptible !== 'boolean') errors.push({ field: 'preemptible', message: 'must be true or false' });
  const { min_instances: min, max_live_instances: live, max_instances: max } = config;
  if (isInt(min) && isInt(live) && min > live) {
    errors.push({ field: 'min_instances', message: `must be at most max_live_instances (${live})` });
  }
  if (isInt(live) && isInt(max) && live > max) {
    errors.push({ field: 'max_live_instances', message: `must be at most max_instances (${max})` });
  }
  const { standing_worker_cores: standing, worker_cores: cores } = config;
  if (isInt(standing) && isInt(cores) && standing > cores) {
    // A job sized for a pool worker must fit any worker of the pool, standing ones included.
    errors.push({ field: 'standing_worker_cores', message: `must be at most worker_cores (${cores})` });
  }
  return errors;
}

/** Creates per loop regardless of configuration: the cloud API's long-run quota (20 requests/s). */
export const MAX_CREATES_PER_LOOP = 300;
/** Hail only grows a pool once fewer than 500 cores are free. */
export const DEFAULT_FREE_CORES_THRESHOLD_MCPU = 500_000;

export type InstanceCounts = { pending: number; active: number; inactive: number };

export type AutoscalerInput = {
  pool: PoolConfig;
  counts: InstanceCounts;
  /** Free cores on healthy active instances. */
  freeCoresMcpu: number;
  /**
   * Free cores on live instances, a pending one counting all its cores; they will take part
   * of the queue, so only the rest needs new VMs. Defaults to `freeCoresMcpu`.
   */
  liveFreeCoresMcpu?: number;
  /** Cores of the head of the ready queue (what the scheduler would place in ~150 s). */
  readyCoresMcpu: number;
  freeCoresThresholdMcpu?: number;
};

/** VMs to create: `forQueue` of `worker_cores`, then `standing` of `standing_worker_cores`. */
export type AutoscalerEstimate = { forQueue: number; standing: number };

/**
 * Hail's estimate: while fewer free cores than the threshold remain, enough workers for the
 * queue head, capped by live and total instance limits and the per-loop limits; then standing
 * workers up to `min_instances`. Every create counts against the per-loop limits.
 */
export function estimateInstancesToCreate(input: AutoscalerInput): AutoscalerEstimate {
  const { pool, counts } = input;
  const live = counts.pending + counts.active;
  const room = creationRoom(counts, pool);
  let forQueue = 0;
  const threshold = input.freeCoresThresholdMcpu ?? DEFAULT_FREE_CORES_THRESHOLD_MCPU;
  if (input.freeCoresMcpu < threshold && input.readyCoresMcpu > 0) {
    const uncovered = input.readyCoresMcpu - (input.liveFreeCoresMcpu ?? input.freeCoresMcpu);
    forQueue = Math.min(Math.max(0, Math.ceil(uncovered / (pool.worker_cores * 1000))), room);
  }
  const standing = Math.min(Math.max(0, pool.min_instances - live - forQueue), room - forQueue);
  return { forQueue, standing };
}

/** What the autoscaler needs to know of a pool instance. */
export type PoolInstance = {
  name: string;
  state: InstanceState;
  createdAtMs: number;
  /** When it last became idle (no jobs), or null while it runs jobs. */
  idleSinceMs: number | null;
};

const byAgeThenName = (key: (i: PoolInstance) => number) => (a: PoolInstance, b: PoolInstance) =>
  key(a) - key(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * Active instances idle for at least `idleSecs`, longest idle first, keeping `minInstances`
 * live: deleting below the minimum would only make the next loop create them again.
 */
export function idleInstancesToDelete(
  instances: readonly PoolInstance[],
  nowMs: number,
  idleSecs: number,
  minInstances = 0,
): string[] {
  const live = instances.filter((i) => i.state === 'pending' || i.state === 'active').length;
  const idle = instances.filter(
    (i) => i.state === 'active' && i.idleSinceMs !== null && nowMs - i.idleSinceMs >= idleSecs * 1000,
  );
  idle.sort(byAgeThenName((i) => i.idleSinceMs ?? 0));
  return idle.slice(0, Math.max(0, live - minInstances)).map((i) => i.name);
}

/** A VM that never activated is broken or lost; Hail gives up on it after 5 minutes. */
export const STUCK_PENDING_MS = 5 * 60_000;

export function stuckPendingToDelete(
  instances: readonly PoolInstance[],
  nowMs: number,
  timeoutMs = STUCK_PENDING_MS,
): string[] {
  return instances
    .filter((i) => i.state === 'pending' && nowMs - i.createdAtMs >= timeoutMs)
    .sort(byAgeThenName((i) => i.createdAtMs))
    .map((i) => i.name);
}

/**
 * How many VMs one loop may create: within max_live_instances (pending and active count),
 * max_instances (inactive ones too, until deleted), and the per-loop limits. Never negative.
 */
function creationRoom(counts: InstanceCounts, limits: JobPrivateLimits): number {
  const live = counts.pending + counts.active;
  return Math.max(
    0,
    Math.min(
      limits.max_live_instances - live,
      limits.max_instances - live - counts.inactive,
      limits.max_new_instances_per_autoscaler_loop,
      MAX_CREATES_PER_LOOP,
    ),
  );
}

/** A Ready job that asked for a machine type, in scheduling order. */
export type JobPrivateRequest = { batchId: number; jobId: number; machineType: string };
export type JobPrivateLimits = Pick<
  PoolConfig,
  'max_instances' | 'max_live_instances' | 'max_new_instances_per_autoscaler_loop'
>;

/**
 * Job-private VMs to create this loop: one per job (a job listed twice still gets one), in
 * queue order, within the collection's limits. The caller moves each job Ready → Creating.
 */
export function jobPrivateInstancesToCreate(
  ready: readonly JobPrivateRequest[],
  counts: InstanceCounts,
  limits: JobPrivateLimits,
): JobPrivateRequest[] {
  const room = creationRoom(counts, limits);
  const seen = new Set<string>();
  const out: JobPrivateRequest[] = [];
  for (const job of ready) {
    if (out.length >= room) break;
    const key = `${job.batchId}:${job.jobId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(job);
  }
  return out;
}

/** A job-private VM exists for its one job; once that job is complete the VM is deleted. */
export function jobPrivateInstancesToDelete(
  instances: readonly { name: string; state: InstanceState; jobState: JobState }[],
): string[] {
  return instances.filter((i) => i.state !== 'deleted' && isComplete(i.jobState)).map((i) => i.name);
}
