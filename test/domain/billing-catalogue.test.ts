import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LOCAL_RATE_CARD,
  isBillableProduct,
  isUsableRate,
  LOCAL_REGION,
  MAX_RATE_PER_UNIT_MS,
  MS_PER_HOUR,
  product,
  rateCardEntries,
  rateOf,
  withRate,
} from '../../domain/billing-rates';
import {
  costSummary,
  parseNewRate,
  rateCardFromRows,
  spendBreakdown,
  spendReport,
} from '../../domain/billing-catalogue';
import { billedPool, placementResources, type AttemptPlacement } from '../../domain/billing-attempt';
import { cost } from '../../domain/billing';
import { SpecError } from '../../domain/errors';
import { MIB } from '../../domain/resources';

const rows = (card = DEFAULT_LOCAL_RATE_CARD) =>
  rateCardEntries(card).map((e) => ({ name: e.resource, product: e.product, version: e.version, rate: e.rate }));

describe('rateCardFromRows', () => {
  it('rebuilds the card the rows came from, versions in order whatever the row order', () => {
    const card = withRate(DEFAULT_LOCAL_RATE_CARD, product.serviceFee, 1e-9);
    expect(rateCardFromRows(rows(card).reverse())).toEqual(card);
  });

  it('never fails on stored rows: a missing or unusable version prices at the last usable rate before it', () => {
    const card = withRate(withRate(DEFAULT_LOCAL_RATE_CARD, product.serviceFee, 1e-9), product.serviceFee, 2e-9);
    const gap = rows(card).filter((r) => r.name !== 'service-fee/2');
    expect(rateCardFromRows(gap)['service-fee']).toEqual([card['service-fee']![0], card['service-fee']![0], 2e-9]);
    const bad = [1e308, Number.POSITIVE_INFINITY, Number.NaN, 0, -1, MAX_RATE_PER_UNIT_MS * 2];
    const stored = [
      { name: 'service-fee/1', product: 'service-fee', version: 1, rate: 1e-12 },
      ...bad.map((rate, i) => ({ name: `service-fee/${i + 2}`, product: 'service-fee', version: i + 2, rate })),
      { name: 'service-fee/8', product: 'service-fee', version: 8, rate: 3e-12 },
    ];
    expect(rateCardFromRows(stored)['service-fee']).toEqual([1e-12, ...bad.map(() => 1e-12), 3e-12]);
    // No usable rate before: free, as the SQL prices it; a name that does not spell its row: skipped.
    expect(rateCardFromRows([{ name: 'x/1', product: 'x', version: 1, rate: 1e308 }])).toEqual({ x: [0] });
    expect(rateCardFromRows([{ name: 'service-fee/1', product: 'service-fee', version: 2, rate: 1e-12 }])).toEqual({});
  });

  it('prices a resource the card does not list, or a usage that is not a finite number, at nothing', () => {
    const usage = [
      { resource: 'no-such/1', usage: 1e9 },
      { resource: 'service-fee/99', usage: 1e9 },
      { resource: 'service-fee/1', usage: Number.POSITIVE_INFINITY },
    ];
    expect(costSummary(usage, DEFAULT_LOCAL_RATE_CARD)).toEqual({
      msec_mcpu: 0,
      cost: 0,
      cost_breakdown: [
        { resource: 'no-such/1', cost: 0 },
        { resource: 'service-fee/1', cost: 0 },
        { resource: 'service-fee/99', cost: 0 },
      ],
    });
  });
});

describe('billable products and usable rates', () => {
  it('knows every product the local card prices and the names billing builds', () => {
    for (const p of Object.keys(DEFAULT_LOCAL_RATE_CARD)) expect(isBillableProduct(p)).toBe(true);
    for (const p of [product.supportFee, product.accelerator('nvidia-t4', false, 'us-central1'), product.pdSsd('europe-west1')]) {
      expect(isBillableProduct(p)).toBe(true);
    }
    for (const p of ['no-such-product', 'compute', 'compute/n1-preemptible/', 'ip-fee', 'ip-fee/1024/1', 'service-fee ', 'disk/pd-ssd/Local']) {
      expect(isBillableProduct(p)).toBe(false);
    }
  });

  it('takes only finite, positive, bounded rates', () => {
    expect([1e-12, MAX_RATE_PER_UNIT_MS, Number.MIN_VALUE].map(isUsableRate)).toEqual([true, true, true]);
    expect([0, -1e-12, 1e308, MAX_RATE_PER_UNIT_MS * 1.01, Number.NaN, Number.POSITIVE_INFINITY].map(isUsableRate)).toEqual(
      [false, false, false, false, false, false],
    );
  });
});

describe('parseNewRate', () => {
  it('accepts a billable product and a usable rate', () => {
    expect(parseNewRate({ product: 'service-fee', rate: 1e-12 })).toEqual({ product: 'service-fee', rate: 1e-12 });
    expect(parseNewRate({ product: 'compute/n1-preemptible/local', rate: 2e-9 })).toEqual({ product: 'compute/n1-preemptible/local', rate: 2e-9 });
  });

  it.each([
    [null, 'body'],
    [[], 'body'],
    [{ rate: 1 }, 'product'],
    [{ product: '', rate: 1 }, 'product'],
    [{ product: 'service-fee/2', rate: 1 }, 'product'],
    [{ product: 'disk/', rate: 1 }, 'product'],
    [{ product: 'service-fee', rate: -1 }, 'rate'],
    [{ product: 'service-fee', rate: '1' }, 'rate'],
    [{ product: 'service-fee', rate: Number.POSITIVE_INFINITY }, 'rate'],
    [{ product: 'service-fee', rate: 1e308 }, 'rate'],
    [{ product: 'service-fee', rate: 0 }, 'rate'],
    [{ product: 'no-such-product', rate: 1e-12 }, 'product'],
    [{ product: 'service-fee', rate: 1, version: 3 }, 'version'],
    [{ product: 'fee\u0000', rate: 1 }, 'product'],
    [{ product: 'fee\uD800', rate: 1 }, 'product'],
  ])('refuses %j naming %s', (body, field) => {
    try {
      parseNewRate(body);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(SpecError);
      expect((e as SpecError).field).toBe(field);
    }
  });
});

describe('reports', () => {
  const card = DEFAULT_LOCAL_RATE_CARD;
  const fee = 'service-fee/1';
  const ip = 'ip-fee/1024/1';
  const groups = [
    { billing_project: 'b', user: 'x', usage: [{ resource: fee, usage: 1000 * MS_PER_HOUR }] },
    { billing_project: 'a', user: 'y', usage: [{ resource: ip, usage: 1024 * MS_PER_HOUR }, { resource: fee, usage: 2000 * MS_PER_HOUR }] },
  ];

  it('breaks spending down per resource, sorted by project, user and resource', () => {
    const lines = spendBreakdown(groups, card);
    expect(lines.map((l) => [l.billing_project, l.user, l.resource])).toEqual([
      ['a', 'y', ip],
      ['a', 'y', fee],
      ['b', 'x', fee],
    ]);
    expect(lines[1]!.cost).toBeCloseTo(0.02, 12);
    expect(lines[0]!.cost).toBeCloseTo(0.004, 12);
  });

  it('totals per project and user are the sums of their breakdown', () => {
    const report = spendReport(groups, card);
    expect(report.map((r) => [r.billing_project, r.user])).toEqual([['a', 'y'], ['b', 'x']]);
    expect(report[0]!.total_spent).toBeCloseTo(0.024, 12);
    expect(report[1]!.total_spent).toBeCloseTo(0.01, 12);
  });

  it('a cost summary is its breakdown and the breakdown sum', () => {
    const s = costSummary([{ resource: fee, usage: 500 * MS_PER_HOUR }, { resource: ip, usage: 10 }], card);
    expect(s.cost).toBe(s.cost_breakdown.reduce((a, l) => a + l.cost, 0));
    expect(s.cost_breakdown.map((l) => l.resource)).toEqual([ip, fee]);
  });
});

describe('the worker an attempt is billed on', () => {
  const base: AttemptPlacement = {
    job: { cores_mcpu: 1000, memory_bytes: 3840 * MIB, storage_gib: 0, preemptible: true, machine_type: null },
    poolName: 'standard',
    instanceCoresMcpu: 16_000,
    instancePreemptible: true,
    region: LOCAL_REGION,
    poolConfig: null,
    fallbackWorkerCores: 4,
  };

  it('takes the instance cores, the pool boot disk, and memory per core by worker type', () => {
    expect(billedPool(base)).toEqual({ worker_cores: 16, boot_disk_size_gb: 100, memory_per_core_mib: 3840 });
    expect(billedPool({ ...base, instanceCoresMcpu: null, poolConfig: { worker_cores: 8, boot_disk_size_gb: 20 } })).toEqual({
      worker_cores: 8,
      boot_disk_size_gb: 20,
      memory_per_core_mib: 3840,
    });
    expect(billedPool({ ...base, instanceCoresMcpu: null }).worker_cores).toBe(4);
    expect(billedPool({ ...base, poolName: 'job-private', job: { ...base.job, machine_type: 'n1-highmem-4' } }).memory_per_core_mib).toBe(6656);
  });

  it('prices the default job on a 16-core standard worker at $0.0217 an hour', () => {
    const resources = placementResources(base, DEFAULT_LOCAL_RATE_CARD);
    expect(cost(resources, DEFAULT_LOCAL_RATE_CARD, MS_PER_HOUR)).toBeCloseTo(0.0217, 12);
  });

  it('bills the non-preemptible products when the instance is not preemptible', () => {
    const names = placementResources({ ...base, instancePreemptible: false }, DEFAULT_LOCAL_RATE_CARD).map((r) => r.name);
    expect(names).toContain('compute/n1-nonpreemptible/local/1');
    expect(rateOf(DEFAULT_LOCAL_RATE_CARD, 'compute/n1-nonpreemptible/local/1')).toBeGreaterThan(0);
  });

  it('bills a 1 cpu + 7 GiB job on a 4-core standard worker for 2 cores', () => {
    const resources = placementResources(
      { ...base, instanceCoresMcpu: 4000, job: { ...base.job, cores_mcpu: 1000, memory_bytes: 7 * 1024 * MIB } },
      DEFAULT_LOCAL_RATE_CARD,
    );
    expect(resources.find((r) => r.name.startsWith('compute/'))?.quantity).toBe(2000);
    expect(resources.find((r) => r.name.startsWith('memory/'))?.quantity).toBe(2 * 3840);
  });
});
