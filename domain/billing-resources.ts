/**
 * What one attempt of a job uses, per resource, for as long as it is billed. Shares of the worker
 * (disks, IP address, accelerators) are counted in 1024ths of the worker: the job's cores over the
 * worker's cores, as Hail counts them, so a worker's fixed costs are split between its jobs by cores.
 */
import {
  compareNames,
  latestResourceName,
  product,
  type RateCard,
} from './billing-rates';
import { fitToPool } from './pools';
import { MIB } from './resources';

export type QuantifiedResource = { name: string; quantity: number };

/** The job's share of the machine as the spec normalized it. */
export type BilledJob = { cores_mcpu: number; memory_bytes: number; storage_gib: number; preemptible: boolean };

/** The worker the attempt ran on. */
export type BilledPool = {
  worker_cores: number;
  boot_disk_size_gb: number;
  /**
   * Memory the pool gives per core. With it, a job is billed for the cores its memory needs
   * (1 cpu + 7 GiB at 3840 MiB per core is 2 cores), as the pool would have given it.
   */
  memory_per_core_mib?: number;
  /** A disk beside the boot disk shared by the worker's jobs, e.g. Hail's 375 GB local SSD. */
  data_disk?: { kind: 'local-ssd' | 'pd-ssd'; size_gb: number } | null;
  accelerators?: { family: string; count: number } | null;
};

/** Hail's default worker boot disk when its docs priced the $0.0217 job: 100 GB of SSD persistent disk. */
export const DEFAULT_BOOT_DISK_SIZE_GB = 100;

/** The job's share of the worker in 1024ths, rounded down as Hail does (quantities are integers). */
export function workerFraction1024ths(coresMcpu: number, workerCores: number): number {
  return Math.floor((1024 * coresMcpu) / (workerCores * 1000));
}

/**
 * Cores and memory the pool gives the job. A normalized spec already holds them and passes
 * through unchanged; a raw request is rounded as the pool would round it, so billing never
 * depends on the caller having normalized.
 */
export function givenSlot(job: BilledJob, pool: BilledPool): { cores_mcpu: number; memory_bytes: number } {
  const perCore = pool.memory_per_core_mib;
  if (perCore === undefined) return { cores_mcpu: job.cores_mcpu, memory_bytes: job.memory_bytes };
  const coresForMemory = Math.ceil((job.memory_bytes / (perCore * MIB)) * 1000);
  // A job with cores enough for its memory already holds its slot (a job-private n1-standard-96
  // holds 96 cores, not a power-of-two slot); only a job short of cores is rounded up as the pool
  // would round it. fitToPool reads only the pool's size and memory ratio.
  if (coresForMemory <= job.cores_mcpu) {
    return { cores_mcpu: job.cores_mcpu, memory_bytes: Math.floor((job.cores_mcpu / 1000) * (perCore * MIB)) };
  }
  const fit = fitToPool(
    { name: 'billed', worker_type: 'standard', worker_cores: pool.worker_cores, memory_per_core_mib: perCore },
    job.cores_mcpu,
    job.memory_bytes,
  );
  if (!fit) throw new RangeError(`a job of ${job.memory_bytes} bytes does not fit a ${pool.worker_cores}-core worker`);
  return { cores_mcpu: fit.cores_mcpu, memory_bytes: fit.memory_bytes };
}

function requireResource(card: RateCard, productName: string): string {
  const name = latestResourceName(card, productName);
  if (name === null) throw new RangeError(`the rate card has no price for ${productName}`);
  return name;
}

/**
 * The resources an attempt starting now is billed for, at the card's latest versions, merged by
 * name (boot disk, data disk and extra storage can all be pd-ssd) and sorted by name. Quantities:
 * compute and service fee in mcpu, memory in MiB, boot and data disk GiB × fraction, extra
 * storage GiB × 1024, IP fee the fraction, accelerators count × fraction. Zero quantities are left
 * out. Every product used must be priced, except the support fee, which a card may omit.
 */
export function attemptResources(
  job: BilledJob,
  pool: BilledPool,
  region: string,
  card: RateCard,
): QuantifiedResource[] {
  if (!(pool.worker_cores > 0)) throw new RangeError(`worker_cores must be positive, got ${pool.worker_cores}`);
  const { cores_mcpu, memory_bytes } = givenSlot(job, pool);
  if (cores_mcpu > pool.worker_cores * 1000) {
    throw new RangeError(`a job of ${cores_mcpu} mcpu does not fit a ${pool.worker_cores}-core worker`);
  }
  const fraction = workerFraction1024ths(cores_mcpu, pool.worker_cores);
  const { preemptible } = job;
  const lines: [productName: string, quantity: number][] = [
    [product.compute(preemptible, region), cores_mcpu],
    [product.memory(preemptible, region), Math.floor(memory_bytes / MIB)],
    [product.pdSsd(region), pool.boot_disk_size_gb * fraction],
    [product.pdSsd(region), job.storage_gib * 1024],
    [product.ipFee, fraction],
    [product.serviceFee, cores_mcpu],
  ];
  const disk = pool.data_disk;
  if (disk) {
    const diskProduct = disk.kind === 'local-ssd' ? product.localSsd(preemptible, region) : product.pdSsd(region);
    lines.push([diskProduct, disk.size_gb * fraction]);
  }
  const gpus = pool.accelerators;
  if (gpus) lines.push([product.accelerator(gpus.family, preemptible, region), gpus.count * fraction]);

  const quantities = new Map<string, number>();
  for (const [productName, quantity] of lines) {
    if (quantity === 0) continue;
    const name = requireResource(card, productName);
    quantities.set(name, (quantities.get(name) ?? 0) + quantity);
  }
  const supportFee = latestResourceName(card, product.supportFee);
  if (supportFee !== null && cores_mcpu > 0) quantities.set(supportFee, cores_mcpu);

  return [...quantities]
    .map(([name, quantity]) => ({ name, quantity }))
    .sort((a, b) => compareNames(a.name, b.name));
}
