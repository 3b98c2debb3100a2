/**
 * Hail's fair share between users of one pool (hail-batch-api §6) and one scheduling round:
 * water-filling allocation, per-user slot budgets, and best-fit placement that honours pool,
 * region and instance health. Pure and deterministic; randomness comes in as a parameter.
 */
/** What placement needs of a job and of an instance. */
export type PlaceableJob = { batchId: number; jobId: number; coresMcpu: number; pool: string };
export type PlaceableInstance = { name: string; pool: string; freeCoresMcpu: number };

export type UserDemand = { user: string; runningCoresMcpu: number; readyCoresMcpu: number };

/**
 * Water-filling: a mark rises from 0; each user is filled from the moment the mark passes its
 * running cores until the mark reaches running + ready. Users already far above the others
 * get nothing until the rest catch up, which is the point: allocation = mark − running,
 * clamped to [0, ready]. Free cores left at the last step are split evenly, rounded down so
 * the sum never exceeds the free cores (Hail rounds to nearest and may overshoot by < 1 mcpu
 * per user). O(users · log users).
 */
export function fairShare(users: readonly UserDemand[], freeCoresMcpu: number): Map<string, number> {
  // A user listed twice (e.g. once per batch) is one user with the summed demand.
  const merged = new Map<string, { running: number; ready: number }>();
  for (const u of users) {
    const m = merged.get(u.user) ?? { running: 0, ready: 0 };
    m.running += Math.max(0, u.runningCoresMcpu);
    m.ready += Math.max(0, u.readyCoresMcpu);
    merged.set(u.user, m);
  }
  const demand = [...merged.values()].filter((d) => d.ready > 0);
  const starts = demand.map((d) => d.running).sort((a, b) => a - b);
  const ends = demand.map((d) => d.running + d.ready).sort((a, b) => a - b);
  let free = Math.max(0, freeCoresMcpu);
  let mark = 0;
  let filling = 0;
  let i = 0;
  let j = 0;
  while (free > 0 && j < ends.length) {
    // Starts before ends at the same mark, so a user's end is never seen before its start.
    if (i < starts.length && starts[i]! <= mark) {
      filling++;
      i++;
      continue;
    }
    if (ends[j]! <= mark) {
      filling--;
      j++;
      continue;
    }
    const next = Math.min(i < starts.length ? starts[i]! : Infinity, ends[j]!);
    const cost = filling * (next - mark);
    if (cost > free) {
      mark += Math.floor(free / filling);
      break;
    }
    mark = next;
    free -= cost;
  }
  const out = new Map<string, number>();
  for (const [user, d] of merged) out.set(user, Math.min(d.ready, Math.max(0, mark - d.running)));
  return out;
}

/** Jobs a scheduling round tries for all users together, and the least any user is given. */
export const SLOTS_PER_ROUND = 300;
export const MIN_SLOTS_PER_USER = 20;

/** Hail's per-user slots in a round: its share of 300, at least 20 so small users still move. */
export function schedulingBudget(allocatedMcpu: number, totalAllocatedMcpu: number): number {
  if (totalAllocatedMcpu <= 0) return MIN_SLOTS_PER_USER;
  return Math.max(Math.round((SLOTS_PER_ROUND * allocatedMcpu) / totalAllocatedMcpu), MIN_SLOTS_PER_USER);
}

/** A job with its allowed regions; null means any region. */
export type SchedulableJob = PlaceableJob & { regions: readonly string[] | null };
/** Only healthy instances (active, at most one failed request) receive new jobs. */
export type SchedulableInstance = PlaceableInstance & { region: string; healthy: boolean };
/** Generic so callers get back their own job records (user, attempt, spec...). */
export type Placement<J extends SchedulableJob = SchedulableJob> = { job: J; instance: string };

/**
 * Instances of one pool (or one pool and region) by exact free mcpu: a segment tree of
 * counts finds the fewest free cores ≥ a job's in O(log max free), and a linked list per free
 * value keeps ties in input order. This replaces a scan of every instance per job.
 */
class FreeCoresIndex {
  private readonly size: number;
  private readonly counts: Int32Array;
  private readonly head: Int32Array;
  private readonly tail: Int32Array;
  private readonly next: Int32Array;
  private readonly prev: Int32Array;

  constructor(maxFree: number, nInstances: number) {
    let size = 1;
    while (size <= maxFree) size *= 2;
    this.size = size;
    this.counts = new Int32Array(2 * size);
    this.head = new Int32Array(size).fill(-1);
    this.tail = new Int32Array(size).fill(-1);
    this.next = new Int32Array(nInstances).fill(-1);
    this.prev = new Int32Array(nInstances).fill(-1);
  }

  insert(id: number, free: number): void {
    const last = this.tail[free]!;
    this.prev[id] = last;
    this.next[id] = -1;
    if (last === -1) this.head[free] = id;
    else this.next[last] = id;
    this.tail[free] = id;
    this.bump(free, 1);
  }

  remove(id: number, free: number): void {
    const p = this.prev[id]!;
    const n = this.next[id]!;
    if (p === -1) this.head[free] = n;
    else this.next[p] = n;
    if (n === -1) this.tail[free] = p;
    else this.prev[n] = p;
    this.bump(free, -1);
  }

  /** The smallest free value ≥ need that some instance has, or -1. */
  smallestFit(need: number): number {
    if (need >= this.size || this.counts[1] === 0) return -1;
    // Climb from the leaf of `need` until a right sibling holds something, then descend left.
    let node = this.size + need;
    if (this.counts[node] === 0) {
      for (;;) {
        if (node === 1) return -1;
        if ((node & 1) === 0 && this.counts[node + 1]! > 0) {
          node += 1;
          break;
        }
        node >>= 1;
      }
      while (node < this.size) node = this.counts[2 * node]! > 0 ? 2 * node : 2 * node + 1;
    }
    return node - this.size;
  }

  first(free: number): number {
    return this.head[free]!;
  }

  private bump(free: number, delta: number): void {
    for (let node = this.size + free; node >= 1; node >>= 1) this.counts[node]! += delta;
  }
}

/**
 * Best fit over healthy instances: per pool one index over all regions (for jobs that accept
 * any region) and one per (pool, region); a placement updates both.
 */
export class Placer {
  private readonly free: number[] = [];
  private readonly names: string[] = [];
  private readonly anyRegion = new Map<string, FreeCoresIndex>();
  private readonly byRegion = new Map<string, FreeCoresIndex>();
  private readonly homes: [FreeCoresIndex, FreeCoresIndex][] = [];

  constructor(instances: readonly SchedulableInstance[]) {
    const healthy = instances.filter((i) => i.healthy && i.freeCoresMcpu > 0);
    const maxFree = new Map<string, number>();
    for (const i of healthy) {
      maxFree.set(i.pool, Math.max(maxFree.get(i.pool) ?? 0, Math.floor(i.freeCoresMcpu)));
    }
    const indexFor = (map: Map<string, FreeCoresIndex>, key: string, pool: string) => {
      let index = map.get(key);
      if (!index) map.set(key, (index = new FreeCoresIndex(maxFree.get(pool) ?? 0, healthy.length)));
      return index;
    };
    healthy.forEach((inst, id) => {
      const free = Math.floor(inst.freeCoresMcpu);
      const home: [FreeCoresIndex, FreeCoresIndex] = [
        indexFor(this.anyRegion, inst.pool, inst.pool),
        indexFor(this.byRegion, `${inst.pool}\u0000${inst.region}`, inst.pool),
      ];
      this.free.push(free);
      this.names.push(inst.name);
      this.homes.push(home);
      for (const index of home) index.insert(id, free);
    });
  }

  /** Reserves the best-fitting instance for `job` and returns its name, or null if none fits. */
  place(job: SchedulableJob): string | null {
    const need = Math.max(0, Math.ceil(job.coresMcpu));
    let best: { index: FreeCoresIndex; free: number } | null = null;
    const candidates =
      job.regions === null
        ? [this.anyRegion.get(job.pool)]
        : job.regions.map((r) => this.byRegion.get(`${job.pool}\u0000${r}`));
    for (const index of candidates) {
      if (!index) continue;
      const free = index.smallestFit(need);
      if (free !== -1 && (!best || free < best.free)) best = { index, free };
    }
    if (!best) return null;
    const id = best.index.first(best.free);
    const after = best.free - need;
    for (const index of this.homes[id]!) {
      index.remove(id, best.free);
      index.insert(id, after);
    }
    this.free[id] = after;
    return this.names[id]!;
  }
}

/** Places jobs in the given order, each on the healthy allowed instance with the fewest free cores. */
export function placeRound<J extends SchedulableJob>(
  jobs: readonly J[],
  instances: readonly SchedulableInstance[],
): Placement<J>[] {
  const placer = new Placer(instances);
  const out: Placement<J>[] = [];
  for (const job of jobs) {
    const instance = placer.place(job);
    if (instance !== null) out.push({ job, instance });
  }
  return out;
}

/** Over-allocation decisions remembered for the bypass (Hail keeps the last 10). */
export const BYPASS_WINDOW = 10;

export type RoundInput<J extends SchedulableJob> = {
  /** Ready jobs per user, each queue already in scheduling order; users are served in map order. */
  queues: ReadonlyMap<string, readonly J[]>;
  allocation: ReadonlyMap<string, number>;
  instances: readonly SchedulableInstance[];
  /**
   * Hail lets a user past its allocation with probability equal to the fraction of recent
   * over-allocation decisions that stopped a user, so cores idle for want of fitting jobs
   * still get used. Without it, a user at its allocation always stops.
   */
  bypass?: { random: () => number; recentStops: readonly boolean[] };
};

export type RoundPlan<J extends SchedulableJob> = {
  /** In scheduling order: user by user, each user's jobs in queue order. */
  placements: Placement<J>[];
  /** Jobs looked at, placed or not; each spends one of its user's slots. */
  attempted: number;
  /** The bypass window after this round, to pass to the next one. */
  recentStops: boolean[];
};

/**
 * One scheduling round: each user with an allocation tries up to its budget of jobs in queue
 * order, stopping once the next job would take it past its allocation.
 */
export function selectCandidates<J extends SchedulableJob>(input: RoundInput<J>): RoundPlan<J> {
  const placer = new Placer(input.instances);
  let total = 0;
  for (const a of input.allocation.values()) total += Math.max(0, a);
  const recentStops = [...(input.bypass?.recentStops ?? [])].slice(-BYPASS_WINDOW);
  const decide = (stop: boolean) => {
    recentStops.push(stop);
    if (recentStops.length > BYPASS_WINDOW) recentStops.shift();
  };
  const placements: Placement<J>[] = [];
  let attempted = 0;
  if (total === 0) return { placements, attempted, recentStops };
  for (const [user, jobs] of input.queues) {
    const allocated = input.allocation.get(user) ?? 0;
    if (allocated <= 0) continue;
    let remaining = schedulingBudget(allocated, total);
    let scheduled = 0;
    for (const job of jobs) {
      if (scheduled + job.coresMcpu > allocated) {
        if (!input.bypass) break;
        const rate = recentStops.length === 0 ? 0 : recentStops.filter(Boolean).length / recentStops.length;
        const stop = input.bypass.random() > rate;
        decide(stop);
        if (stop) break;
      }
      attempted++;
      const instance = placer.place(job);
      if (instance !== null) {
        scheduled += job.coresMcpu;
        placements.push({ job, instance });
      }
      if (--remaining <= 0) break;
    }
  }
  return { placements, attempted, recentStops };
}

/** mulberry32: a small seeded generator, for the bypass in tests, benchmarks and workflows. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
