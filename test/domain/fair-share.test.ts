import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  fairShare,
  placeRound,
  schedulingBudget,
  seededRandom,
  selectCandidates,
  type SchedulableInstance,
  type PlaceableInstance,
  type PlaceableJob,
  type SchedulableJob,
  type UserDemand,
} from '../../domain/fair-share';

/**
 * The plain best fit (the fewest free cores that still fit, per job in order) as an oracle:
 * with every instance healthy and no region constraint, the indexed Placer must agree with it.
 */
function bestFit(jobs: readonly PlaceableJob[], instances: readonly PlaceableInstance[]): { job: PlaceableJob; instance: string }[] {
  const free = instances.map((i) => ({ ...i }));
  const out: { job: PlaceableJob; instance: string }[] = [];
  for (const job of jobs) {
    let best: (typeof free)[number] | undefined;
    for (const inst of free) {
      if (inst.pool !== job.pool || inst.freeCoresMcpu < job.coresMcpu) continue;
      if (!best || inst.freeCoresMcpu < best.freeCoresMcpu) best = inst;
    }
    if (!best) continue;
    best.freeCoresMcpu -= job.coresMcpu;
    out.push({ job, instance: best.name });
  }
  return out;
}

const demand = (user: string, running: number, ready: number): UserDemand => ({
  user,
  runningCoresMcpu: running,
  readyCoresMcpu: ready,
});
const asObject = (m: Map<string, number>) => Object.fromEntries(m);

describe('fairShare examples', () => {
  it('splits free cores evenly between idle users with equal demand', () => {
    expect(asObject(fairShare([demand('a', 0, 10_000), demand('b', 0, 10_000)], 8000))).toEqual({ a: 4000, b: 4000 });
  });

  it('fills the user with less running first, then raises both together', () => {
    // b is filled 0 → 4000 alone (4000 cores), then both rise by 1000 each.
    expect(asObject(fairShare([demand('a', 4000, 10_000), demand('b', 0, 10_000)], 6000))).toEqual({ a: 1000, b: 5000 });
  });

  it('gives a satisfied user only its ready cores and the rest to the others', () => {
    expect(asObject(fairShare([demand('a', 0, 1000), demand('b', 0, 100_000)], 10_000))).toEqual({ a: 1000, b: 9000 });
  });

  it('gives nothing to a user already above the water level (Hail water-filling)', () => {
    expect(asObject(fairShare([demand('big', 100_000, 5000), demand('small', 0, 50_000)], 20_000))).toEqual({
      big: 0,
      small: 20_000,
    });
  });

  it('gives everyone everything when free cores cover all demand, and nothing when none are free', () => {
    const users = [demand('a', 3000, 2000), demand('b', 0, 500), demand('c', 9000, 0)];
    expect(asObject(fairShare(users, 1_000_000))).toEqual({ a: 2000, b: 500, c: 0 });
    expect(asObject(fairShare(users, 0))).toEqual({ a: 0, b: 0, c: 0 });
  });

  it('rounds the last split down so the sum never exceeds free cores', () => {
    const m = fairShare([demand('a', 0, 5000), demand('b', 0, 5000), demand('c', 0, 5000)], 1000);
    expect(asObject(m)).toEqual({ a: 333, b: 333, c: 333 });
  });

  it('merges a user listed twice', () => {
    expect(asObject(fairShare([demand('a', 0, 1000), demand('a', 0, 1000), demand('b', 0, 9000)], 4000))).toEqual({
      a: 2000,
      b: 2000,
    });
  });
});

describe('schedulingBudget', () => {
  it('is the share of 300 slots, at least 20', () => {
    expect(schedulingBudget(500, 1000)).toBe(150);
    expect(schedulingBudget(1000, 1000)).toBe(300);
    expect(schedulingBudget(1, 1000)).toBe(20);
    expect(schedulingBudget(0, 0)).toBe(20);
  });
});

const demandsArb = fc.uniqueArray(
  fc.record({
    user: fc.string({ minLength: 1, maxLength: 4 }),
    runningCoresMcpu: fc.integer({ min: 0, max: 200_000 }),
    readyCoresMcpu: fc.integer({ min: 0, max: 200_000 }),
  }),
  { selector: (d) => d.user, maxLength: 12 },
);
const freeArb = fc.integer({ min: 0, max: 1_000_000 });

describe('fairShare properties', () => {
  it('never hands out more than the free cores, nor more than a user is ready for', () => {
    fc.assert(
      fc.property(demandsArb, freeArb, (users, free) => {
        const m = fairShare(users, free);
        let sum = 0;
        for (const u of users) {
          const a = m.get(u.user)!;
          expect(a).toBeGreaterThanOrEqual(0);
          expect(a).toBeLessThanOrEqual(u.readyCoresMcpu);
          sum += a;
        }
        expect(sum).toBeLessThanOrEqual(free);
      }),
    );
  });

  it('never gives a user with less running and at least as much ready less than another', () => {
    fc.assert(
      fc.property(demandsArb, freeArb, (users, free) => {
        const m = fairShare(users, free);
        for (const a of users) {
          for (const b of users) {
            if (a.runningCoresMcpu <= b.runningCoresMcpu && a.readyCoresMcpu >= b.readyCoresMcpu) {
              expect(m.get(a.user)!).toBeGreaterThanOrEqual(m.get(b.user)!);
            }
          }
        }
      }),
    );
  });

  it('leaves cores free only when every user has all its ready cores (work-conserving)', () => {
    fc.assert(
      fc.property(demandsArb, freeArb, (users, free) => {
        const m = fairShare(users, free);
        const sum = [...m.values()].reduce((s, a) => s + a, 0);
        // The last even split rounds down: at most one mcpu per user stays behind.
        if (sum < free - users.length) {
          for (const u of users) expect(m.get(u.user)).toBe(u.readyCoresMcpu);
        }
      }),
    );
  });

  it('starves no one at or below the water level: with free ≥ users × smallest job, each gets a job', () => {
    const smallest = 250;
    fc.assert(
      fc.property(demandsArb, freeArb, (users, free) => {
        const waiting = users.filter((u) => u.readyCoresMcpu > 0);
        fc.pre(waiting.length > 0 && free >= waiting.length * smallest);
        const m = fairShare(users, free);
        const level = Math.floor(free / waiting.length);
        const lowest = Math.min(...waiting.map((u) => u.runningCoresMcpu));
        for (const u of waiting) {
          const enough = Math.min(u.readyCoresMcpu, smallest);
          // Idle users and the least-served user always get at least a smallest job.
          if (u.runningCoresMcpu === lowest || u.runningCoresMcpu <= level - smallest) {
            expect(m.get(u.user)!).toBeGreaterThanOrEqual(enough);
          }
        }
      }),
    );
  });

  it('is deterministic and independent of the order users are listed in', () => {
    fc.assert(
      fc.property(demandsArb, freeArb, fc.integer(), (users, free, seed) => {
        const random = seededRandom(seed);
        const shuffled = [...users];
        for (let k = shuffled.length - 1; k > 0; k--) {
          const r = Math.floor(random() * (k + 1));
          [shuffled[k], shuffled[r]] = [shuffled[r]!, shuffled[k]!];
        }
        const a = asObject(fairShare(users, free));
        expect(asObject(fairShare(users, free))).toEqual(a);
        expect(asObject(fairShare(shuffled, free))).toEqual(a);
      }),
    );
  });
});

const job = (jobId: number, coresMcpu: number, regions: string[] | null = null, pool = 'standard'): SchedulableJob => ({
  batchId: 1,
  jobId,
  coresMcpu,
  pool,
  regions,
});
const inst = (name: string, free: number, region = 'us-central1', healthy = true, pool = 'standard'): SchedulableInstance => ({
  name,
  pool,
  freeCoresMcpu: free,
  region,
  healthy,
});

describe('placeRound', () => {
  it('puts each job on the instance with the fewest free cores that fit', () => {
    const placed = placeRound([job(1, 1000), job(2, 4000), job(3, 500)], [inst('a', 8000), inst('b', 1500), inst('c', 4000)]);
    expect(placed.map((p) => p.instance)).toEqual(['b', 'c', 'b']);
  });

  it('only uses healthy instances of the job’s pool in an allowed region', () => {
    const instances = [
      inst('sick', 1000, 'us-central1', false),
      inst('east', 1000, 'us-east1'),
      inst('highmem', 1000, 'us-central1', true, 'highmem'),
      inst('west', 8000, 'us-west1'),
    ];
    const placed = placeRound([job(1, 1000, ['us-central1']), job(2, 1000, ['us-central1', 'us-west1']), job(3, 500)], instances);
    expect(placed.map((p) => [p.job.jobId, p.instance])).toEqual([
      [2, 'west'],
      [3, 'east'],
    ]);
  });

  const poolArb = fc.constantFrom('standard', 'highmem');
  const regionArb = fc.constantFrom('r1', 'r2', 'r3');
  const jobsArb = fc.array(
    fc.record({
      coresMcpu: fc.constantFrom(250, 500, 1000, 2000, 4000, 8000),
      pool: poolArb,
      regions: fc.option(fc.uniqueArray(regionArb, { minLength: 1 }), { nil: null }),
    }),
    { maxLength: 60 },
  );
  const instancesArb = fc.array(
    fc.record({ freeCoresMcpu: fc.integer({ min: 0, max: 16_000 }), pool: poolArb, region: regionArb, healthy: fc.boolean() }),
    { maxLength: 15 },
  );

  it('always chooses the best fit among eligible instances and never overfills one', () => {
    fc.assert(
      fc.property(jobsArb, instancesArb, (js, is) => {
        const jobs = js.map((j, k) => ({ ...j, batchId: 1, jobId: k }));
        const instances = is.map((i, k) => ({ ...i, name: `i${k}` }));
        const free = new Map(instances.map((i) => [i.name, i.freeCoresMcpu]));
        const placed = new Map(placeRound(jobs, instances).map((p) => [p.job.jobId, p.instance]));
        for (const j of jobs) {
          const eligible = instances.filter(
            (i) => i.healthy && i.pool === j.pool && (j.regions === null || j.regions.includes(i.region)) && free.get(i.name)! >= j.coresMcpu,
          );
          const chosen = placed.get(j.jobId);
          if (eligible.length === 0) {
            expect(chosen).toBeUndefined();
            continue;
          }
          const least = Math.min(...eligible.map((i) => free.get(i.name)!));
          expect(chosen).toBeDefined();
          expect(free.get(chosen!)).toBe(least);
          free.set(chosen!, least - j.coresMcpu);
        }
      }),
    );
  });

  it('places the same jobs as the plain best fit when regions and health play no part', () => {
    fc.assert(
      fc.property(jobsArb, instancesArb, (js, is) => {
        const jobs = js.map((j, k) => ({ ...j, regions: null, batchId: 1, jobId: k }));
        const instances = is.map((i, k) => ({ ...i, healthy: true, name: `i${k}` }));
        const ours = placeRound(jobs, instances).map((p) => p.job.jobId);
        expect(ours).toEqual(bestFit(jobs, instances.filter((i) => i.freeCoresMcpu > 0)).map((p) => p.job.jobId));
      }),
    );
  });
});

describe('selectCandidates', () => {
  const queues = new Map([
    ['alice', [job(1, 1000), job(2, 1000), job(3, 1000)]],
    ['bob', [job(4, 1000), job(5, 1000)]],
    ['carol', [job(6, 1000)]],
  ]);
  const instances = [inst('a', 16_000)];

  it('stops a user at its allocation and skips users with none', () => {
    const allocation = new Map([
      ['alice', 2000],
      ['bob', 1500],
      ['carol', 0],
    ]);
    const plan = selectCandidates({ queues, allocation, instances });
    expect(plan.placements.map((p) => p.job.jobId)).toEqual([1, 2, 4]);
  });

  it('spends at most the user’s budget of slots', () => {
    const many = new Map([['alice', Array.from({ length: 500 }, (_, k) => job(k, 250))]]);
    const plan = selectCandidates({ queues: many, allocation: new Map([['alice', 1_000_000]]), instances: [inst('a', 100_000)] });
    expect(plan.attempted).toBe(300);
  });

  it('lets a user past its allocation as often as recent decisions stopped users', () => {
    const allocation = new Map([['alice', 1000]]);
    const one = new Map([['alice', [job(1, 1000), job(2, 1000)]]]);
    const stopped = selectCandidates({ queues: one, allocation, instances, bypass: { random: () => 0.5, recentStops: [] } });
    expect(stopped.placements).toHaveLength(1);
    expect(stopped.recentStops).toEqual([true]);
    const bypassed = selectCandidates({
      queues: one,
      allocation,
      instances,
      bypass: { random: () => 0.5, recentStops: Array(10).fill(true) },
    });
    expect(bypassed.placements).toHaveLength(2);
    expect(bypassed.recentStops).toHaveLength(10);
  });

  it('keeps every user within its allocation and is deterministic for a seed', () => {
    const arb = fc.record({
      queues: fc.array(fc.array(fc.constantFrom(250, 500, 1000, 2000), { maxLength: 40 }), { minLength: 1, maxLength: 6 }),
      frees: fc.array(fc.integer({ min: 0, max: 16_000 }), { maxLength: 10 }),
      free: freeArb,
      seed: fc.integer(),
    });
    fc.assert(
      fc.property(arb, ({ queues: qs, frees, free, seed }) => {
        let id = 0;
        const queues = new Map(qs.map((q, u) => [`u${u}`, q.map((c) => job(id++, c))]));
        const demands = [...queues].map(([user, jobs]) => demand(user, 0, jobs.reduce((s, j) => s + j.coresMcpu, 0)));
        const allocation = fairShare(demands, free);
        const instances = frees.map((f, k) => inst(`i${k}`, f));
        const plan = selectCandidates({ queues, allocation, instances });
        const byUser = new Map<number, string>([...queues].flatMap(([u, js]) => js.map((j) => [j.jobId, u] as const)));
        const used = new Map<string, number>();
        for (const p of plan.placements) {
          const u = byUser.get(p.job.jobId)!;
          used.set(u, (used.get(u) ?? 0) + p.job.coresMcpu);
          used.set(p.instance, (used.get(p.instance) ?? 0) + p.job.coresMcpu);
        }
        for (const [u, a] of allocation) expect(used.get(u) ?? 0).toBeLessThanOrEqual(a);
        for (const i of instances) expect(used.get(i.name) ?? 0).toBeLessThanOrEqual(i.freeCoresMcpu);
        const withBypass = () =>
          selectCandidates({ queues, allocation, instances, bypass: { random: seededRandom(seed), recentStops: [true, false] } });
        expect(withBypass()).toEqual(withBypass());
      }),
    );
  });
});
