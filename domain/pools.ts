/**
 * Which instance collection a job runs in, and the cores and memory it is given there.
 * A job's slot is always a power-of-two multiple of a quarter core with memory in the
 * pool's fixed ratio, so any mix of jobs packs a worker without stranding cores.
 */
import { SpecError, UnsatisfiableError } from './errors';
import { MIB, MIN_CORES_MCPU, roundUpCoresMcpu, type MemoryKeyword, type MemoryRequest } from './resources';

export const WORKER_TYPES = ['highcpu', 'standard', 'highmem'] as const;
export type WorkerType = (typeof WORKER_TYPES)[number];

export const JOB_PRIVATE_POOL = 'job-private';

export type PoolDefinition = {
  name: string;
  worker_type: WorkerType;
  /** Cores of one worker VM in this pool; no job may be given more. */
  worker_cores: number;
  memory_per_core_mib: number;
};

/** GCP n1 memory per core; highcpu is 921.6 rounded up to a multiple of 4 as Hail does. */
export const MEMORY_PER_CORE_MIB: Record<WorkerType, number> = { highcpu: 924, standard: 3840, highmem: 6656 };

const KEYWORD_WORKER_TYPE: Record<MemoryKeyword, WorkerType> = {
  lowmem: 'highcpu',
  standard: 'standard',
  highmem: 'highmem',
};

/** The three shared pools, with workers of `workerCores` cores (Hail's default is 16). */
export function definePools(workerCores: number): PoolDefinition[] {
  return WORKER_TYPES.map((worker_type) => ({
    name: worker_type,
    worker_type,
    worker_cores: workerCores,
    memory_per_core_mib: MEMORY_PER_CORE_MIB[worker_type],
  }));
}

export const DEFAULT_POOLS: readonly PoolDefinition[] = definePools(16);

export type ResourceRequest =
  | { machine_type: string }
  | { machine_type?: null; cores_mcpu: number; memory: MemoryRequest };

export type PoolChoice = { pool: string; cores_mcpu: number; memory_bytes: number };

/**
 * Price of one GiB of memory relative to one core (GCP n1 spot: ~$0.00089 vs ~$0.0067 per
 * hour). It is what makes 1 core + 7Gi cheaper on 2 standard cores than on 8 highcpu ones.
 */
const MEMORY_GIB_PRICE_IN_CORES = 0.134;

function relativeCost(pool: PoolDefinition, coresMcpu: number): number {
  return (coresMcpu / 1000) * (1 + (pool.memory_per_core_mib / 1024) * MEMORY_GIB_PRICE_IN_CORES);
}

/** Hail's rounding: enough cores for the memory, rounded up to a slot; memory follows the cores. */
export function fitToPool(pool: PoolDefinition, coresMcpu: number, memoryBytes: number): PoolChoice | null {
  const perCoreBytes = pool.memory_per_core_mib * MIB;
  const forMemory = Math.ceil((memoryBytes / perCoreBytes) * 1000);
  const cores = roundUpCoresMcpu(Math.max(coresMcpu, forMemory, MIN_CORES_MCPU));
  if (cores > pool.worker_cores * 1000) return null;
  return { pool: pool.name, cores_mcpu: cores, memory_bytes: Math.floor((cores / 1000) * perCoreBytes) };
}

const MACHINE_TYPE_PATTERN = /^n1-(standard|highmem|highcpu)-(\d+)$/;
const MACHINE_TYPE_CORES = [1, 2, 4, 8, 16, 32, 64, 96];

/** A job-private VM's shape from its GCP n1 machine type name, e.g. n1-highmem-8. */
export function parseMachineType(machineType: string): { worker_type: WorkerType; cores: number } | null {
  const match = MACHINE_TYPE_PATTERN.exec(machineType);
  if (!match?.[1] || !match[2]) return null;
  const cores = Number(match[2]);
  if (!MACHINE_TYPE_CORES.includes(cores)) return null;
  return { worker_type: match[1] as WorkerType, cores };
}

function describeRequest(request: { cores_mcpu: number; memory: MemoryRequest }): string {
  const memory = request.memory.kind === 'keyword' ? request.memory.keyword : `${request.memory.bytes} bytes`;
  return `cpu=${request.cores_mcpu / 1000}, memory=${memory}`;
}

/**
 * The pool for a validated request. A memory keyword names the worker type; an explicit size
 * goes to the cheapest pool it fits; a machine type gets a VM of its own.
 * `field` is the path of the job's resources, for the error message.
 */
export function choosePool(
  request: ResourceRequest,
  pools: readonly PoolDefinition[],
  field = 'resources',
): PoolChoice {
  if (request.machine_type !== undefined && request.machine_type !== null) {
    const shape = parseMachineType(request.machine_type);
    if (!shape) {
      throw new SpecError(
        `${field}.machine_type`,
        `unknown machine type '${request.machine_type}'; expected one like n1-standard-8 or n1-highmem-4`,
      );
    }
    const perCoreMib = pools.find((p) => p.worker_type === shape.worker_type)?.memory_per_core_mib;
    return {
      pool: JOB_PRIVATE_POOL,
      cores_mcpu: shape.cores * 1000,
      memory_bytes: shape.cores * (perCoreMib ?? MEMORY_PER_CORE_MIB[shape.worker_type]) * MIB,
    };
  }
  const { cores_mcpu, memory } = request;
  if (memory.kind === 'keyword') {
    const workerType = KEYWORD_WORKER_TYPE[memory.keyword];
    const pool = pools.find((p) => p.worker_type === workerType);
    if (!pool) {
      throw new UnsatisfiableError(field, `${describeRequest(request)}: no ${workerType} pool`);
    }
    const choice = fitToPool(pool, cores_mcpu, 0);
    if (!choice) {
      throw new UnsatisfiableError(
        field,
        `${describeRequest(request)}: workers in pool ${pool.name} have ${pool.worker_cores} cores`,
      );
    }
    return choice;
  }
  let best: { choice: PoolChoice; cost: number } | null = null;
  for (const pool of pools) {
    const choice = fitToPool(pool, cores_mcpu, memory.bytes);
    if (!choice) continue;
    const cost = relativeCost(pool, choice.cores_mcpu);
    if (!best || cost < best.cost) best = { choice, cost };
  }
  if (!best) {
    const largest = Math.max(0, ...pools.map((p) => p.worker_cores));
    throw new UnsatisfiableError(
      field,
      `${describeRequest(request)} needs more than the ${largest} cores of the largest worker`,
    );
  }
  return best.choice;
}
