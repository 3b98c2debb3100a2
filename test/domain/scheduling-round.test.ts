import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { planPool, roundWantsMore, summarizeRound } from '../../domain/scheduling-round';
import { selectCandidates, type SchedulableInstance, type SchedulableJob } from '../../domain/fair-share';

const inst = (name: string, free: number, healthy = true): SchedulableInstance => ({
  name,
  pool: 'standard',
  region: 'local',
  healthy,
  freeCoresMcpu: free,
});
const jobOf = (user: string, jobId: number, cores = 1000): SchedulableJob & { user: string } => ({
  batchId: user === 'a' ? 1 : 2,
  jobId,
  coresMcpu: cores,
  pool: 'standard',
  regions: null,
  user,
});

describe('planPool', () => {
  it('shares only healthy free cores and serves the least running user first', () => {
    const plan = planPool(
      [
        { user: 'a', runningCoresMcpu: 7000, readyCoresMcpu: 190_000 },
        { user: 'b', runningCoresMcpu: 0, readyCoresMcpu: 20_000 },
      ],
      [inst('i1', 1000), inst('i2', 3000, false)],
    );
    expect(plan.freeCoresMcpu).toBe(1000);
    expect(Object.fromEntries(plan.allocation)).toEqual({ a: 0, b: 1000 });
    expect([...plan.budgets.keys()]).toEqual(['b']);
  });

  it('gives every user with a share at least 20 slots and the big share most of 300', () => {
    const plan = planPool(
      [
        { user: 'big', runningCoresMcpu: 0, readyCoresMcpu: 1_000_000 },
        { user: 'small', runningCoresMcpu: 0, readyCoresMcpu: 1000 },
      ],
      [inst('i1', 100_000)],
    );
    expect(plan.budgets.get('small')).toBe(20);
    expect(plan.budgets.get('big')).toBeGreaterThan(250);
    expect([...plan.budgets.keys()][0]).toBe('big'); // equal running: by name
  });

  it('never allocates more than the free cores, nor a user more than its ready cores', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ running: fc.nat(50_000), ready: fc.nat(50_000) }), { maxLength: 8 }),
        fc.array(fc.nat(16_000), { maxLength: 6 }),
        (users, frees) => {
          const demands = users.map((u, k) => ({ user: `u${k}`, runningCoresMcpu: u.running, readyCoresMcpu: u.ready }));
          const plan = planPool(demands, frees.map((f, k) => inst(`i${k}`, f)));
          let sum = 0;
          for (const [user, a] of plan.allocation) {
            sum += a;
            expect(a).toBeLessThanOrEqual(demands.find((d) => d.user === user)!.readyCoresMcpu);
          }
          expect(sum).toBeLessThanOrEqual(plan.freeCoresMcpu);
          for (const user of plan.budgets.keys()) expect(plan.allocation.get(user)).toBeGreaterThan(0);
        },
      ),
    );
  });
});

describe('summarizeRound and roundWantsMore', () => {
  it('counts what was reserved per user and asks for more when a budget was the limit', () => {
    const instances = [inst('i1', 4000), inst('i2', 4000)];
    const plan = planPool(
      [
        { user: 'a', runningCoresMcpu: 0, readyCoresMcpu: 30_000 },
        { user: 'b', runningCoresMcpu: 0, readyCoresMcpu: 2000 },
      ],
      instances,
    );
    const queues = new Map([
      ['a', Array.from({ length: plan.budgets.get('a')! }, (_, k) => jobOf('a', k + 1))],
      ['b', [jobOf('b', 1), jobOf('b', 2)]],
    ]);
    const round = selectCandidates({ queues, allocation: plan.allocation, instances });
    // One of a's reservations lost a race in the database.
    const reserved = round.placements.filter((p) => !(p.job.user === 'a' && p.job.jobId === 1));
    const decisions = summarizeRound('standard', plan, queues, reserved);
    const byUser = Object.fromEntries(decisions.map((d) => [d.user, d]));
    expect(byUser['b']).toMatchObject({ allocationMcpu: 2000, budget: 75, candidates: 2, placed: 2 });
    expect(byUser['a']).toMatchObject({ allocationMcpu: 6000, placed: 5 });
    expect(roundWantsMore(decisions)).toBe(true);
    expect(roundWantsMore(decisions.map((d) => ({ ...d, placed: 0 })))).toBe(false);
    expect(roundWantsMore(decisions.filter((d) => d.user === 'b'))).toBe(false);
  });
});
