import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { SpecError } from '../../domain/errors';
import { DEFAULT_POOLS, MEMORY_PER_CORE_MIB, choosePool } from '../../domain/pools';
import { GIB, MIB } from '../../domain/resources';
import {
  DEFAULT_LOCAL_RATE_CARD,
  MS_PER_HOUR,
  latestResourceName,
  parseResourceName,
  product,
  rateCard,
  rateCardEntries,
  rateOf,
  ratePerCoreHour,
  ratePerGiBMonth,
  withRate,
} from '../../domain/billing-rates';
import {
  DEFAULT_BOOT_DISK_SIZE_GB,
  attemptResources,
  workerFraction1024ths,
  type BilledJob,
  type BilledPool,
} from '../../domain/billing-resources';
import {
  attemptCost,
  attemptsCost,
  attemptsCostBreakdown,
  billedIntervalMs,
  billedWindow,
  billingPeriod,
  cost,
  costBreakdown,
  overLimit,
  overlapMs,
  type BilledAttempt,
} from '../../domain/billing';

const card = DEFAULT_LOCAL_RATE_CARD;
const MINUTE = 60_000;
const T0 = Date.UTC(2026, 0, 15, 12);

const standardWorker: BilledPool = {
  worker_cores: 16,
  boot_disk_size_gb: DEFAULT_BOOT_DISK_SIZE_GB,
  memory_per_core_mib: MEMORY_PER_CORE_MIB.standard,
};
/** cpu 1, memory standard, storage 0, preemptible: the job a Hail client submits by default. */
const defaultJob: BilledJob = { cores_mcpu: 1000, memory_bytes: 3840 * MIB, storage_gib: 0, preemptible: true };
const defaultResources = attemptResources(defaultJob, standardWorker, 'local', card);

/** Relative agreement to 1e-12: what sums of doubles in a different order can promise. */
function near(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-12 * Math.max(Math.abs(a), Math.abs(b));
}

/** Doubles: equal to well under a billionth of a cent. */
function expectDollars(actual: number, expected: number): void {
  expect(Math.abs(actual - expected)).toBeLessThan(1e-15 * Math.max(1, Math.abs(expected)));
}

describe('the local rate card', () => {
  it('bills the default job as Hail names and counts it', () => {
    expect(defaultResources).toEqual([
      { name: 'compute/n1-preemptible/local/1', quantity: 1000 },
      { name: 'disk/pd-ssd/local/1', quantity: 100 * 64 },
      { name: 'ip-fee/1024/1', quantity: 64 },
      { name: 'memory/n1-preemptible/local/1', quantity: 3840 },
      { name: 'service-fee/1', quantity: 1000 },
    ]);
  });

  it('charges exactly $0.0217 for the default job running one hour', () => {
    const dollars = cost(defaultResources, card, MS_PER_HOUR);
    expectDollars(dollars, 0.0217);
    expect(dollars.toFixed(5)).toBe('0.02170');
  });

  it('splits the hour as Hail documents it: compute $0.01, disk, IP $0.00025, service $0.01', () => {
    const breakdown = costBreakdown(defaultResources, card, MS_PER_HOUR);
    const lines = Object.fromEntries(breakdown.map((l) => [l.resource, l.cost]));
    expectDollars((lines['compute/n1-preemptible/local/1'] ?? 0) + (lines['memory/n1-preemptible/local/1'] ?? 0), 0.01);
    expectDollars(lines['disk/pd-ssd/local/1'] ?? 0, 0.00145);
    expectDollars(lines['ip-fee/1024/1'] ?? 0, 0.00025);
    expectDollars(lines['service-fee/1'] ?? 0, 0.01);
  });

  it('bills 1 cpu + 7Gi as the 2 cores the pool gives it: $0.0434 an hour', () => {
    const raw = attemptResources({ ...defaultJob, memory_bytes: 7 * GIB }, standardWorker, 'local', card);
    const given = choosePool({ cores_mcpu: 1000, memory: { kind: 'bytes', bytes: 7 * GIB } }, DEFAULT_POOLS);
    expect(given).toEqual({ pool: 'standard', cores_mcpu: 2000, memory_bytes: 7680 * MIB });
    const normalized = attemptResources({ ...defaultJob, ...given }, standardWorker, 'local', card);
    expect(raw).toEqual(normalized);
    expect(raw.find((r) => r.name.startsWith('compute/'))?.quantity).toBe(2000);
    expect(raw.find((r) => r.name.startsWith('memory/'))?.quantity).toBe(7680);
    expectDollars(cost(raw, card, MS_PER_HOUR), 0.0434);
  });

  it('prices non-preemptible workers higher, and every product of the card at version 1', () => {
    const onDemand = attemptResources({ ...defaultJob, preemptible: false }, standardWorker, 'local', card);
    expect(onDemand.map((r) => r.name)).toContain('compute/n1-nonpreemptible/local/1');
    expect(cost(onDemand, card, MS_PER_HOUR)).toBeGreaterThan(cost(defaultResources, card, MS_PER_HOUR));
    expect(rateCardEntries(card).every((e) => e.version === 1 && e.rate > 0)).toBe(true);
  });
});

describe('attemptResources', () => {
  it('counts extra storage as GiB × 1024 on the same pd-ssd resource as the boot disk', () => {
    const withStorage = attemptResources({ ...defaultJob, storage_gib: 10 }, standardWorker, 'local', card);
    expect(withStorage.find((r) => r.name === 'disk/pd-ssd/local/1')?.quantity).toBe(100 * 64 + 10 * 1024);
  });

  it('shares a local SSD data disk by cores, priced by preemptibility', () => {
    const pool = { ...standardWorker, data_disk: { kind: 'local-ssd', size_gb: 375 } } as const;
    const resources = attemptResources(defaultJob, pool, 'local', card);
    expect(resources).toContainEqual({ name: 'disk/local-ssd/preemptible/local/1', quantity: 375 * 64 });
    // Hail's docs: $0.048 × 375 / 30.4375 / 24 / 16 per core-hour.
    const line = costBreakdown(resources, card, MS_PER_HOUR).find((l) => l.resource.startsWith('disk/local-ssd/'));
    expectDollars(line?.cost ?? 0, (0.048 * 375) / 30.4375 / 24 / 16);
  });

  it('gives a quarter core a sixty-fourth of a 16-core worker', () => {
    const quarterJob = { ...defaultJob, cores_mcpu: 250, memory_bytes: 960 * MIB };
    const quarter = attemptResources(quarterJob, standardWorker, 'local', card);
    expect(quarter.find((r) => r.name.startsWith('ip-fee/'))?.quantity).toBe(16);
    expect(workerFraction1024ths(1000, 3)).toBe(341);
  });

  it('gives a job-private machine the whole worker, even when its cores are not a power of two', () => {
    const vm: BilledPool = { worker_cores: 96, boot_disk_size_gb: 100, memory_per_core_mib: 3840 };
    const job = { cores_mcpu: 96_000, memory_bytes: 96 * 3840 * MIB, storage_gib: 0, preemptible: true };
    const resources = attemptResources(job, vm, 'local', card);
    expect(resources.find((r) => r.name.startsWith('ip-fee/'))?.quantity).toBe(1024);
    expect(resources.find((r) => r.name.startsWith('compute/'))?.quantity).toBe(96_000);
  });

  it('bills the support fee and accelerators only where priced, and refuses an unpriced product', () => {
    const withFee = withRate(card, product.supportFee, ratePerCoreHour(0.005));
    const gcp = withRate(withFee, 'accelerator/t4-preemptible/local', 1e-9);
    const pool = { ...standardWorker, accelerators: { family: 't4', count: 2 } };
    const resources = attemptResources(defaultJob, pool, 'local', gcp);
    expect(resources).toContainEqual({ name: 'gcp-support-logs-specs-and-firewall-fees/1', quantity: 1000 });
    expect(resources).toContainEqual({ name: 'accelerator/t4-preemptible/local/1', quantity: 128 });
    expect(() => attemptResources(defaultJob, pool, 'local', card)).toThrow(/accelerator\/t4-preemptible\/local/);
    expect(() => attemptResources(defaultJob, standardWorker, 'us-central1', card)).toThrow(
      /compute\/n1-preemptible\/us-central1/,
    );
  });

  it('refuses a job larger than its worker', () => {
    const tooBig = { ...defaultJob, cores_mcpu: 32_000 };
    expect(() => attemptResources(tooBig, standardWorker, 'local', card)).toThrow(RangeError);
  });
});

describe('billed time', () => {
  it('is the main container only: inputs and outputs are free', () => {
    const finished = { mainStart: T0, mainEnd: T0 + 5 * MINUTE, endTime: T0 + 9 * MINUTE, now: T0 + 60 * MINUTE };
    expect(billedIntervalMs(finished)).toBe(5 * MINUTE);
    // Main done, outputs still uploading.
    expect(billedIntervalMs({ mainStart: T0, mainEnd: T0 + MINUTE, endTime: null, now: T0 + 3 * MINUTE })).toBe(MINUTE);
    // Failed while downloading inputs.
    expect(billedWindow({ mainStart: null, mainEnd: null, endTime: T0, now: T0 + MINUTE })).toBeNull();
  });

  it('runs to the preemption when the attempt ends before main does, and to now while it runs', () => {
    const preempted = { mainStart: T0, mainEnd: null, endTime: T0 + 2 * MINUTE, now: T0 + 60 * MINUTE };
    expect(billedIntervalMs(preempted)).toBe(2 * MINUTE);
    expect(billedWindow({ mainStart: T0, mainEnd: null, endTime: null, now: T0 + 3 * MINUTE })).toEqual({
      startMs: T0,
      endMs: T0 + 3 * MINUTE,
    });
  });

  it('is never negative when clocks disagree', () => {
    expect(billedIntervalMs({ mainStart: T0, mainEnd: T0 - 5, endTime: null, now: T0 })).toBe(0);
    expect(billedIntervalMs({ mainStart: T0, mainEnd: null, endTime: null, now: T0 - MINUTE })).toBe(0);
  });

  it('bills a 5-minute job preempted after 2 minutes for 7 minutes', () => {
    const preempted: BilledAttempt = {
      resources: defaultResources,
      mainStart: T0,
      mainEnd: null,
      endTime: T0 + 2 * MINUTE,
    };
    const retry: BilledAttempt = {
      resources: defaultResources,
      mainStart: T0 + 10 * MINUTE,
      mainEnd: T0 + 15 * MINUTE,
      endTime: T0 + 16 * MINUTE,
    };
    const total = attemptsCost([preempted, retry], card, T0 + 60 * MINUTE);
    expectDollars(total, cost(defaultResources, card, 7 * MINUTE));
    expectDollars(total, (0.0217 * 7) / 60);
  });
});

describe('live and final cost', () => {
  const running: BilledAttempt = { resources: defaultResources, mainStart: T0, mainEnd: null, endTime: null };

  it('grows with now while main runs', () => {
    expect(attemptCost(running, card, T0)).toBe(0);
    expectDollars(attemptCost(running, card, T0 + 30 * MINUTE), 0.0217 / 2);
    expect(attemptCost(running, card, T0 + 31 * MINUTE)).toBeGreaterThan(attemptCost(running, card, T0 + 30 * MINUTE));
  });

  it('stops at the end and then no longer depends on now; the last live figure is the final one', () => {
    const done = { ...running, mainEnd: T0 + 30 * MINUTE, endTime: T0 + 31 * MINUTE };
    const final = attemptCost(done, card, T0 + 31 * MINUTE);
    expect(attemptCost(done, card, T0 + 1000 * MINUTE)).toBe(final);
    expect(attemptCost(running, card, T0 + 30 * MINUTE)).toBe(final);
  });
});

describe('cost breakdown', () => {
  it('is sorted by resource and sums to the total', () => {
    const resources = attemptResources({ ...defaultJob, storage_gib: 5 }, standardWorker, 'local', card);
    const lines = costBreakdown(resources, card, 17 * MINUTE);
    expect(lines.map((l) => l.resource)).toEqual([...lines.map((l) => l.resource)].sort());
    expect(lines.reduce((sum, l) => sum + l.cost, 0)).toBe(cost(resources, card, 17 * MINUTE));
  });

  it('merges lines across attempts and still sums to the job total', () => {
    const attempts: BilledAttempt[] = [
      { resources: defaultResources, mainStart: T0, mainEnd: null, endTime: T0 + 2 * MINUTE },
      { resources: defaultResources, mainStart: T0 + 5 * MINUTE, mainEnd: null, endTime: null },
    ];
    const now = T0 + 10 * MINUTE;
    const lines = attemptsCostBreakdown(attempts, card, now);
    expect(lines).toHaveLength(defaultResources.length);
    expectDollars(
      lines.reduce((sum, l) => sum + l.cost, 0),
      attemptsCost(attempts, card, now),
    );
  });
});

describe('versioned rates', () => {
  const compute = product.compute(true, 'local');
  const raised = withRate(card, compute, ratePerCoreHour(0.02));

  it('adds a version and leaves the old one, and the old card, as they were', () => {
    expect(latestResourceName(raised, compute)).toBe('compute/n1-preemptible/local/2');
    expect(rateOf(raised, 'compute/n1-preemptible/local/1')).toBe(rateOf(card, 'compute/n1-preemptible/local/1'));
    expect(latestResourceName(card, compute)).toBe('compute/n1-preemptible/local/1');
    expect(() => rateOf(card, 'compute/n1-preemptible/local/2')).toThrow(/no rate/);
  });

  it('keeps old attempts at old rates; new attempts take the new one', () => {
    const end = T0 + MS_PER_HOUR;
    const old: BilledAttempt = { resources: defaultResources, mainStart: T0, mainEnd: end, endTime: end };
    expectDollars(attemptCost(old, raised, T0 + 2 * MS_PER_HOUR), 0.0217);
    const fresh = attemptResources(defaultJob, standardWorker, 'local', raised);
    expect(fresh).toContainEqual({ name: 'compute/n1-preemptible/local/2', quantity: 1000 });
    expectDollars(cost(fresh, raised, MS_PER_HOUR), 0.0217 - 0.006655 + 0.02);
  });

  it('names resources product/version, the product possibly ending in a number', () => {
    expect(parseResourceName('ip-fee/1024/1')).toEqual({ product: 'ip-fee/1024', version: 1 });
    expect(parseResourceName('service-fee')).toBeNull();
    expect(() => withRate(card, compute, -1)).toThrow(RangeError);
    // Per MiB-ms from per GiB-month over Hail's 730.5-hour month.
    const perMonth = rateOf(rateCard({ 'disk/x': ratePerGiBMonth(0.17) }), 'disk/x/1');
    expect(near(perMonth, 0.17 / 730.5 / 1024 / MS_PER_HOUR)).toBe(true);
  });
});

const jobArb: fc.Arbitrary<BilledJob> = fc.record({
  cores_mcpu: fc.constantFrom(250, 500, 1000, 2000, 4000, 8000, 16000),
  memory_bytes: fc.integer({ min: 0, max: 60 * GIB }),
  storage_gib: fc.integer({ min: 0, max: 64 * 1024 }),
  preemptible: fc.boolean(),
});
const poolArb: fc.Arbitrary<BilledPool> = fc.record({
  worker_cores: fc.constant(16),
  boot_disk_size_gb: fc.integer({ min: 0, max: 500 }),
  memory_per_core_mib: fc.constantFrom(924, 3840, 6656),
  data_disk: fc.option(
    fc.record({
      kind: fc.constantFrom('local-ssd' as const, 'pd-ssd' as const),
      size_gb: fc.integer({ min: 0, max: 3000 }),
    }),
  ),
});
const resourcesArb = fc
  .tuple(jobArb, poolArb)
  .filter(([job, pool]) => job.memory_bytes <= 16 * (pool.memory_per_core_mib ?? 0) * MIB)
  .map(([job, pool]) => attemptResources(job, pool, 'local', card));
const durationArb = fc.integer({ min: 0, max: 30 * 24 * MS_PER_HOUR });
const timeArb = fc.option(fc.integer({ min: T0 - MS_PER_HOUR, max: T0 + 48 * MS_PER_HOUR }));
const nowArb = fc.integer({ min: T0 - MS_PER_HOUR, max: T0 + 72 * MS_PER_HOUR });
const attemptArb: fc.Arbitrary<BilledAttempt> = fc.record({
  resources: resourcesArb,
  mainStart: timeArb,
  mainEnd: timeArb,
  endTime: timeArb,
});


describe('cost properties', () => {
  it('is linear in duration', () => {
    fc.assert(
      fc.property(resourcesArb, durationArb, durationArb, fc.integer({ min: 0, max: 1000 }), (resources, d1, d2, k) => {
        expect(near(cost(resources, card, d1 + d2), cost(resources, card, d1) + cost(resources, card, d2))).toBe(true);
        expect(near(cost(resources, card, k * d1), k * cost(resources, card, d1))).toBe(true);
      }),
    );
  });

  it('adds up across attempts, in total and per resource', () => {
    fc.assert(
      fc.property(fc.array(attemptArb, { maxLength: 5 }), nowArb, (attempts, now) => {
        const each = attempts.map((a) => attemptCost(a, card, now));
        const sum = attemptsCost(attempts, card, now);
        expect(near(sum, each.reduce((s, c) => s + c, 0))).toBe(true);
        const lines = attemptsCostBreakdown(attempts, card, now);
        expect(near(sum, lines.reduce((s, l) => s + l.cost, 0))).toBe(true);
      }),
    );
  });

  it('is never negative, and never shrinks as now advances', () => {
    fc.assert(
      fc.property(attemptArb, nowArb, durationArb, (attempt, now, later) => {
        const c = attemptCost(attempt, card, now);
        expect(c).toBeGreaterThanOrEqual(0);
        expect(attemptCost(attempt, card, now + later)).toBeGreaterThanOrEqual(c);
      }),
    );
  });
});

describe('overLimit', () => {
  it('is over once accrued reaches the limit, and never without one', () => {
    expect(overLimit(9.99, 10)).toBe(false);
    expect(overLimit(10, 10)).toBe(true);
    expect(overLimit(10.01, 10)).toBe(true);
    expect(overLimit(0, 0)).toBe(true);
    expect(overLimit(1e9, null)).toBe(false);
  });
});

describe('billingPeriod', () => {
  it('includes both days: from midnight UTC of start to midnight after end', () => {
    expect(billingPeriod('01/01/2026', '01/31/2026')).toEqual({
      startMs: Date.UTC(2026, 0, 1),
      endMsExclusive: Date.UTC(2026, 1, 1),
    });
    expect(billingPeriod('02/28/2026', '02/28/2026')).toEqual({
      startMs: Date.UTC(2026, 1, 28),
      endMsExclusive: Date.UTC(2026, 2, 1),
    });
  });

  it('is open without an end and starts on the first of the month without a start', () => {
    expect(billingPeriod('03/05/2026', '')).toEqual({ startMs: Date.UTC(2026, 2, 5), endMsExclusive: null });
    expect(billingPeriod(undefined, undefined, Date.UTC(2026, 6, 19, 15))).toEqual({
      startMs: Date.UTC(2026, 6, 1),
      endMsExclusive: null,
    });
  });

  it('rejects bad dates and an end before the start as the field at fault', () => {
    const fieldOf = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(SpecError);
        return [(e as SpecError).field, (e as SpecError).message];
      }
      return null;
    };
    expect(fieldOf(() => billingPeriod('2026-01-01', '01/31/2026'))?.[0]).toBe('start');
    expect(fieldOf(() => billingPeriod('01/01/2026', '02/30/2026'))?.[0]).toBe('end');
    expect(fieldOf(() => billingPeriod('', undefined))?.[0]).toBe('start');
    expect(fieldOf(() => billingPeriod(undefined, '01/31/2026'))?.[0]).toBe('start');
    const [field, message] = fieldOf(() => billingPeriod('02/01/2026', '01/31/2026')) ?? [];
    expect(field).toBe('end');
    expect(message).toMatch(/^end: end '01\/31\/2026' is before start '02\/01\/2026'/);
    const defaulted = fieldOf(() => billingPeriod(null, '06/30/2026', Date.UTC(2026, 6, 19)));
    expect(defaulted?.[1]).toMatch(/is before start '07\/01\/2026'/);
  });

  it('splits an attempt between periods by overlap', () => {
    const jan = billingPeriod('01/01/2026', '01/31/2026');
    const window = { startMs: Date.UTC(2026, 0, 31, 23), endMs: Date.UTC(2026, 1, 1, 1) };
    expect(overlapMs(window, jan)).toBe(MS_PER_HOUR);
    expect(overlapMs(window, billingPeriod('02/01/2026', ''))).toBe(MS_PER_HOUR);
    expect(overlapMs(null, jan)).toBe(0);
  });
});
