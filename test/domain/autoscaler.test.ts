import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  DEFAULT_POOL_CONFIG,
  MAX_CREATES_PER_LOOP,
  STUCK_PENDING_MS,
  estimateInstancesToCreate,
  idleInstancesToDelete,
  jobPrivateInstancesToCreate,
  jobPrivateInstancesToDelete,
  stuckPendingToDelete,
  validatePoolConfig,
  type PoolConfig,
  type PoolInstance,
} from '../../domain/autoscaler';

const pool = (over: Partial<PoolConfig> = {}): PoolConfig => ({ ...DEFAULT_POOL_CONFIG, ...over });
const counts = (pending: number, active: number, inactive = 0) => ({ pending, active, inactive });
const CORE = 1000;

describe('estimateInstancesToCreate examples', () => {
  it('creates enough 16-core workers for the head of the queue', () => {
    const est = estimateInstancesToCreate({ pool: pool(), counts: counts(0, 2), freeCoresMcpu: 0, readyCoresMcpu: 100 * CORE });
    expect(est).toEqual({ forQueue: 7, standing: 0 });
  });

  it('creates at most max_new_instances_per_autoscaler_loop', () => {
    const est = estimateInstancesToCreate({ pool: pool(), counts: counts(0, 0), freeCoresMcpu: 0, readyCoresMcpu: 10_000 * CORE });
    expect(est.forQueue).toBe(10);
  });

  it('waits while 500 or more cores are free, with the threshold adjustable', () => {
    const input = { pool: pool(), counts: counts(0, 40), freeCoresMcpu: 500 * CORE, readyCoresMcpu: 5000 * CORE };
    expect(estimateInstancesToCreate(input).forQueue).toBe(0);
    expect(estimateInstancesToCreate({ ...input, freeCoresThresholdMcpu: 600 * CORE }).forQueue).toBe(10);
  });

  it('counts cores already free on live instances, pending ones included', () => {
    const est = estimateInstancesToCreate({
      pool: pool(),
      counts: counts(3, 1),
      freeCoresMcpu: 4 * CORE,
      liveFreeCoresMcpu: 52 * CORE,
      readyCoresMcpu: 60 * CORE,
    });
    expect(est.forQueue).toBe(1);
  });

  it('stays within max_live_instances and max_instances (inactive instances count toward the latter)', () => {
    const big = { freeCoresMcpu: 0, readyCoresMcpu: 10_000 * CORE };
    expect(estimateInstancesToCreate({ ...big, pool: pool({ max_live_instances: 12 }), counts: counts(5, 5) }).forQueue).toBe(2);
    expect(estimateInstancesToCreate({ ...big, pool: pool({ max_instances: 20, max_live_instances: 20 }), counts: counts(0, 10, 7) }).forQueue).toBe(3);
  });

  it('tops up to min_instances with standing workers, counting workers created for the queue', () => {
    const p = pool({ min_instances: 5 });
    expect(estimateInstancesToCreate({ pool: p, counts: counts(0, 1), freeCoresMcpu: 0, readyCoresMcpu: 0 })).toEqual({ forQueue: 0, standing: 4 });
    expect(estimateInstancesToCreate({ pool: p, counts: counts(0, 1), freeCoresMcpu: 0, readyCoresMcpu: 32 * CORE })).toEqual({ forQueue: 2, standing: 2 });
  });
});

const configArb = fc
  .record({
    worker_cores: fc.constantFrom(1, 2, 4, 8, 16, 32),
    a: fc.nat(400),
    b: fc.nat(400),
    c: fc.nat(400),
    max_new_instances_per_autoscaler_loop: fc.integer({ min: 1, max: 500 }),
  })
  .map(({ worker_cores, a, b, c, max_new_instances_per_autoscaler_loop }) => {
    const [min_instances, max_live_instances, max_instances] = [a, b, c].sort((x, y) => x - y) as [number, number, number];
    return pool({ worker_cores, standing_worker_cores: Math.min(4, worker_cores), min_instances, max_live_instances, max_instances, max_new_instances_per_autoscaler_loop });
  });
const stateArb = fc.record({
  pending: fc.nat(300),
  active: fc.nat(300),
  inactive: fc.nat(100),
  freeCoresMcpu: fc.nat(2_000_000),
  readyCoresMcpu: fc.nat(20_000_000),
});

describe('estimateInstancesToCreate properties', () => {
  it('never exceeds any cap and never goes negative', () => {
    fc.assert(
      fc.property(configArb, stateArb, (p, s) => {
        const c = counts(s.pending, s.active, s.inactive);
        const { forQueue, standing } = estimateInstancesToCreate({ pool: p, counts: c, ...s });
        const total = forQueue + standing;
        const live = s.pending + s.active;
        expect(forQueue).toBeGreaterThanOrEqual(0);
        expect(standing).toBeGreaterThanOrEqual(0);
        expect(total).toBeLessThanOrEqual(p.max_new_instances_per_autoscaler_loop);
        expect(total).toBeLessThanOrEqual(MAX_CREATES_PER_LOOP);
        expect(total).toBeLessThanOrEqual(Math.max(0, p.max_live_instances - live));
        expect(total).toBeLessThanOrEqual(Math.max(0, p.max_instances - live - s.inactive));
        expect(forQueue).toBeLessThanOrEqual(Math.ceil(s.readyCoresMcpu / (p.worker_cores * CORE)));
      }),
    );
  });

  it('tops up to min_instances whenever the caps leave room', () => {
    fc.assert(
      fc.property(configArb, stateArb, (p, s) => {
        const c = counts(s.pending, s.active, s.inactive);
        const { forQueue, standing } = estimateInstancesToCreate({ pool: p, counts: c, ...s });
        const live = s.pending + s.active;
        const room = Math.min(
          p.max_live_instances - live,
          p.max_instances - live - s.inactive,
          p.max_new_instances_per_autoscaler_loop,
          MAX_CREATES_PER_LOOP,
        );
        if (room >= p.min_instances - live) expect(live + forQueue + standing).toBeGreaterThanOrEqual(p.min_instances);
      }),
    );
  });

  it('creates nothing beyond standing workers when nothing is ready', () => {
    fc.assert(
      fc.property(configArb, stateArb, (p, s) => {
        const c = counts(s.pending, s.active, s.inactive);
        const est = estimateInstancesToCreate({ pool: p, counts: c, ...s, readyCoresMcpu: 0 });
        expect(est.forQueue).toBe(0);
        expect(est.standing).toBeLessThanOrEqual(Math.max(0, p.min_instances - s.pending - s.active));
      }),
    );
  });

  it('is deterministic', () => {
    fc.assert(
      fc.property(configArb, stateArb, (p, s) => {
        const input = { pool: p, counts: counts(s.pending, s.active, s.inactive), ...s };
        expect(estimateInstancesToCreate(input)).toEqual(estimateInstancesToCreate(input));
      }),
    );
  });
});

describe('validatePoolConfig', () => {
  it('accepts the defaults and any ordered limits', () => {
    expect(validatePoolConfig(DEFAULT_POOL_CONFIG)).toEqual([]);
    fc.assert(
      fc.property(configArb, (p) => {
        expect(validatePoolConfig(p)).toEqual([]);
      }),
    );
  });

  it('names each field that is wrong', () => {
    const errors = validatePoolConfig({
      ...DEFAULT_POOL_CONFIG,
      worker_type: 'gpu',
      worker_cores: 0,
      standing_worker_cores: 1.5,
      min_instances: 50,
      max_live_instances: 20,
      max_instances: 10,
      preemptible: 'yes',
      autoscaler_loop_period_secs: -1,
    });
    expect(errors.map((e) => e.field).sort()).toEqual([
      'autoscaler_loop_period_secs',
      'max_live_instances',
      'min_instances',
      'preemptible',
      'standing_worker_cores',
      'worker_cores',
      'worker_type',
    ]);
    expect(errors.find((e) => e.field === 'min_instances')?.message).toBe('must be at most max_live_instances (20)');
  });

  it('bounds every field by what its columns hold: cores in int4 mcpu, the rest in int4', () => {
    expect(validatePoolConfig({ ...DEFAULT_POOL_CONFIG, worker_cores: 2147483, standing_worker_cores: 4 })).toEqual([]);
    expect(validatePoolConfig({ ...DEFAULT_POOL_CONFIG, worker_cores: 2147484, standing_worker_cores: 4 })).toEqual([
      { field: 'worker_cores', message: 'must be at most 2147483' },
    ]);
    const huge = validatePoolConfig({
      ...DEFAULT_POOL_CONFIG,
      worker_cores: 2 ** 53 - 1,
      standing_worker_cores: 2 ** 40,
      max_live_instances: 2 ** 31,
      max_instances: 2 ** 31,
      autoscaler_loop_period_secs: 2 ** 31,
    });
    expect(huge.map((e) => e.field).sort()).toEqual([
      'autoscaler_loop_period_secs',
      'max_instances',
      'max_live_instances',
      'standing_worker_cores',
      'worker_cores',
    ]);
  });

  it('reports missing fields and standing workers larger than pool workers', () => {
    expect(validatePoolConfig({}).length).toBe(11);
    expect(validatePoolConfig({ ...DEFAULT_POOL_CONFIG, standing_worker_cores: 32 })).toEqual([
      { field: 'standing_worker_cores', message: 'must be at most worker_cores (16)' },
    ]);
  });
});

const instance = (name: string, state: PoolInstance['state'], createdAtMs: number, idleSinceMs: number | null): PoolInstance => ({
  name,
  state,
  createdAtMs,
  idleSinceMs,
});

describe('instance deletion', () => {
  const now = 1_000_000;
  const instances = [
    instance('busy', 'active', 0, null),
    instance('idle-long', 'active', 0, now - 120_000),
    instance('idle-short', 'active', 0, now - 10_000),
    instance('idle-mid', 'active', 0, now - 60_000),
    instance('pending-new', 'pending', now - 60_000, null),
    instance('pending-old', 'pending', now - STUCK_PENDING_MS, null),
    instance('gone', 'inactive', 0, now - 500_000),
  ];

  it('deletes active workers idle for worker_max_idle_time_secs, longest idle first', () => {
    expect(idleInstancesToDelete(instances, now, 30)).toEqual(['idle-long', 'idle-mid']);
  });

  it('keeps min_instances live', () => {
    // 6 live (4 active + 2 pending); keeping 5 leaves room to delete one.
    expect(idleInstancesToDelete(instances, now, 30, 5)).toEqual(['idle-long']);
    expect(idleInstancesToDelete(instances, now, 30, 6)).toEqual([]);
  });

  it('deletes instances pending for 5 minutes', () => {
    expect(stuckPendingToDelete(instances, now)).toEqual(['pending-old']);
    expect(stuckPendingToDelete(instances, now, 30_000)).toEqual(['pending-old', 'pending-new']);
  });
});

describe('job-private instances', () => {
  const limits = { max_instances: 10, max_live_instances: 8, max_new_instances_per_autoscaler_loop: 3 };
  const req = (jobId: number) => ({ batchId: 1, jobId, machineType: 'n1-highmem-8' });

  it('creates one VM per job, in queue order, within the limits', () => {
    expect(jobPrivateInstancesToCreate([req(1), req(1), req(2)], counts(0, 0), limits)).toEqual([req(1), req(2)]);
    expect(jobPrivateInstancesToCreate([1, 2, 3, 4, 5].map(req), counts(0, 0), limits)).toHaveLength(3);
    expect(jobPrivateInstancesToCreate([1, 2, 3].map(req), counts(2, 5), limits)).toEqual([req(1)]);
    expect(jobPrivateInstancesToCreate([1, 2].map(req), counts(0, 5, 5), limits)).toEqual([]);
  });

  it('deletes the VM once its job is complete', () => {
    const vms = [
      { name: 'a', state: 'active' as const, jobState: 'Running' as const },
      { name: 'b', state: 'active' as const, jobState: 'Success' as const },
      { name: 'c', state: 'pending' as const, jobState: 'Cancelled' as const },
      { name: 'd', state: 'deleted' as const, jobState: 'Failed' as const },
    ];
    expect(jobPrivateInstancesToDelete(vms)).toEqual(['b', 'c']);
  });
});
