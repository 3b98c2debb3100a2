/**
 * Pool configurations as stored in the pools table: the rows seeded from the local settings,
 * an admin's partial update merged and validated, and the pool definition submission rounds
 * jobs against. Pure.
 */
import {
  DEFAULT_POOL_CONFIG,
  validatePoolConfig,
  type PoolConfig,
  type PoolConfigError,
} from './autoscaler';
import { MEMORY_PER_CORE_MIB, WORKER_TYPES, type PoolDefinition, type WorkerType } from './pools';

export type LocalPoolSize = { pool: string; count: number; max: number };
export type PoolSeed = { name: string; config: PoolConfig };

const workerTypeOf = (name: string): WorkerType =>
  (WORKER_TYPES as readonly string[]).includes(name) ? (name as WorkerType) : 'standard';

/**
 * One row per shared pool (the three worker types, plus any other pool the settings name).
 * A listed pool keeps `count` standing workers and may grow to `max`; an unlisted worker type
 * gets min 0 / max 0, so it exists for an admin to open up (PATCH) but never starts a VM by
 * itself, which is what the settings asked for. Every worker has the local agent's cores.
 */
export function localPoolSeeds(sizes: readonly LocalPoolSize[], workerCores: number): PoolSeed[] {
  const listed = new Map(sizes.map((s) => [s.pool, s]));
  const names = [...new Set([...WORKER_TYPES, ...sizes.map((s) => s.pool)])];
  return names.map((name) => {
    const size = listed.get(name);
    const min = size?.count ?? 0;
    const max = Math.max(min, size?.max ?? 0);
    return {
      name,
      config: {
        ...DEFAULT_POOL_CONFIG,
        worker_type: workerTypeOf(name),
        worker_cores: workerCores,
        standing_worker_cores: workerCores,
        boot_disk_size_gb: localBootDiskGb(workerCores),
        min_instances: min,
        max_live_instances: max,
        max_instances: max,
      },
    };
  });
}

/**
 * Hail's published price of a core-hour ($0.0217 for a standard preemptible core) is for a
 * 16-core worker with a 100 GB boot disk. Local workers get the same disk per core, so a job's
 * share of the disk, and hence that price, does not depend on the agents' size.
 */
export function localBootDiskGb(workerCores: number): number {
  return Math.max(1, Math.round((workerCores * 100) / 16));
}

const FIELDS = Object.keys(DEFAULT_POOL_CONFIG) as (keyof PoolConfig)[];

export type PoolPatchError = { field: string; message: string };

/**
 * Applies a partial update to a pool's config. Every problem is reported with its field:
 * a body that is not an object, fields a pool does not have, and whatever the merged config
 * breaks (`validatePoolConfig`), so `{"min_instances": 5}` over a max of 2 names min_instances.
 */
export function mergePoolConfig(
  current: PoolConfig,
  patch: unknown,
): { ok: true; config: PoolConfig } | { ok: false; errors: PoolPatchError[] } {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
    return { ok: false, errors: [{ field: '', message: 'request body must be a JSON object of pool config fields' }] };
  }
  const unknown = Object.keys(patch).filter((k) => !(FIELDS as string[]).includes(k));
  if (unknown.length > 0) {
    return {
      ok: false,
      errors: unknown.map((field) => ({ field, message: `unknown pool config field; expected one of ${FIELDS.join(', ')}` })),
    };
  }
  const merged = { ...current, ...(patch as Partial<Record<keyof PoolConfig, unknown>>) };
  // Errors on fields the patch touched come first: they are what the caller got wrong.
  const touched = new Set(Object.keys(patch));
  const errors: PoolConfigError[] = validatePoolConfig(merged).sort(
    (a, b) => Number(touched.has(b.field)) - Number(touched.has(a.field)),
  );
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, config: merged as PoolConfig };
}

/** What submission needs of a stored pool: its worker shape, for choosing and rounding. */
export function poolDefinition(name: string, config: PoolConfig): PoolDefinition {
  return {
    name,
    worker_type: config.worker_type,
    worker_cores: config.worker_cores,
    memory_per_core_mib: MEMORY_PER_CORE_MIB[config.worker_type],
  };
}
