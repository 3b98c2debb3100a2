/**
 * The billing SQL against a real PostgreSQL: the billed window in SQL agrees with the domain's
 * billedWindow on every edge (main end, attempt end, running, clock skew, no start), and the
 * catalogue is seeded idempotently and versioned in order.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBillingProject } from '../../db/queries/users';
import { useTestDatabase } from '../support/db-url';
import { attempts } from '../../db/schema';
import { createBatch } from '../../db/queries/batches';
import { accruedCosts, batchesUsage, jobsUsage, periodUsage } from '../../db/queries/billing';
import { addResourceVersion, listResources, loadRateCard, seedResources } from '../../db/queries/resources';
import { DEFAULT_LOCAL_RATE_CARD } from '../../domain/billing-rates';
import { attemptCost, billedWindow, overlapMs, resourceUsage } from '../../domain/billing';
import { ensureCluster, endNode, recordNode, setClusterProject } from '../../db/queries/clusters';
import { nodeResources, nodesCost } from '../../domain/clusters/costs';

const database = useTestDatabase('db_billing', async (db) => {
  // Batches belong to an open billing project.
  await ensureBillingProject(db, 'p');
});

const resources = [
  { name: 'ip-fee/1024/1', quantity: 64 },
  { name: 'service-fee/1', quantity: 1000 },
];
const mainEnd = (finish: unknown) => ({ container_statuses: { main: { timing: { running: { start_time: 0, finish_time: finish } } } } });

/** [jobId, start, end, status] — each an edge of the billed window. */
const cases: [number, number | null, number | null, unknown][] = [
  [1, 1000, 5000, mainEnd(3000)], // billed to main's end, not through output upload
  [2, 1000, 2500, mainEnd(9000)], // attempt ended first: billed to its end
  [3, 1000, null, null], // running: billed to now
  [4, 5000, 4000, null], // clocks disagree: nothing
  [5, null, 4000, null], // main never started: nothing
  [6, 1000, 4000, mainEnd('soon')], // a main end that is not a number is ignored
];
const NOW = 11_000;

describe('billed windows in SQL', () => {
  let batchId = 0;
  beforeAll(async () => {
    const db = database.db;
    await seedResources(db, DEFAULT_LOCAL_RATE_CARD, 1);
    batchId = (await createBatch(db, { user: 'u', billingProject: 'p', token: 't', attributes: {}, callback: null, cancelAfterNFailures: null }, 1)).batch.id;
    for (const [jobId, startTime, endTime, status] of cases) {
      await db.insert(attempts).values({
        batchId, jobId, attemptId: 'a', instanceName: 'i', coresMcpu: 1000, timeScheduled: 0, startTime, endTime, status, resources,
      });
    }
  });

  const domainOf = ([, start, end, status]: (typeof cases)[number]) => {
    const finish = (status as ReturnType<typeof mainEnd> | null)?.container_statuses.main.timing.running.finish_time;
    return { mainStart: start, mainEnd: typeof finish === 'number' ? finish : null, endTime: end, now: NOW };
  };

  it('sums the same usage per job as the domain', async () => {
    const usage = await jobsUsage(database.db, batchId, cases.map((c) => c[0]), NOW);
    for (const c of cases) {
      const w = billedWindow(domainOf(c));
      const expected = w ? resourceUsage(resources, w.endMs - w.startMs) : [];
      if (w) expect(usage.get(c[0]), `job ${c[0]}`).toEqual(expected);
      else expect((usage.get(c[0]) ?? []).every((u) => u.usage === 0)).toBe(true);
    }
  });

  it('the batch and the project accrue the domain cost of all attempts', async () => {
    const card = await loadRateCard(database.db);
    const expected = cases.reduce((sum, c) => sum + attemptCost({ ...domainOf(c), resources }, card, NOW), 0);
    expect(expected).toBeGreaterThan(0);
    const accrued = (await accruedCosts(database.db, ['p', 'nobody'], NOW));
    expect(accrued.get('p')).toBeCloseTo(expected, 15);
    expect(accrued.get('nobody')).toBe(0);
    const batch = (await batchesUsage(database.db, [batchId], NOW)).get(batchId)!;
    expect(cases.filter((c) => billedWindow(domainOf(c)) !== null)).toHaveLength(4);
    const fee = batch.find((u) => u.resource === 'service-fee/1')!.usage;
    expect(fee).toBe(1000 * (2000 + 1500 + 10_000 + 3000));
  });

  it('reports the part of each window inside a period', async () => {
    const period = { startMs: 2000, endMsExclusive: 4000 };
    const [group] = await periodUsage(database.db, period, NOW, null);
    expect(group).toMatchObject({ billing_project: 'p', user: 'u' });
    const ms = cases.reduce((sum, c) => sum + overlapMs(billedWindow(domainOf(c)), period), 0);
    expect(ms).toBe(1000 + 500 + 2000 + 0 + 0 + 2000);
    expect(group!.usage).toEqual(resourceUsage(resources, ms));
    expect(await periodUsage(database.db, period, NOW, 'someone-else')).toEqual([]);
    expect(await periodUsage(database.db, { startMs: 20_000, endMsExclusive: null }, NOW, null)).toEqual([]);
  });
});

describe('cluster nodes', () => {
  it('count in the accrued cost and the report of the project they were made for', async () => {
    const db = database.db;
    await seedResources(db, DEFAULT_LOCAL_RATE_CARD, 1);
    const card = await loadRateCard(db);
    await ensureBillingProject(db, 'lab');
    await ensureBillingProject(db, 'lab2');
    await ensureCluster(db, { name: 'c1', billingProject: 'lab', createdBy: 'zoe', jupyterToken: 'j' }, 1);
    const shape = { name: 'c1-master', role: 'master', cores: 2, memory_gib: 4 } as never;
    const res = nodeResources({ cores: 2, memory_gib: 4 }, card, 'local');
    await recordNode(db, { cluster: 'c1', node: 'c1-master', generation: 1, role: 'master', shape, resources: res, handle: 'h1', jupyterUrl: null, timeStarted: 1000 }, 1000);
    await endNode(db, 'c1', 'c1-master', 4000);
    // Moved to another project afterwards: the ended node stays billed to the first.
    await setClusterProject(db, 'c1', 'lab2');
    await recordNode(db, { cluster: 'c1', node: 'c1-master', generation: 2, role: 'master', shape, resources: res, handle: 'h2', jupyterUrl: null, timeStarted: 6000 }, 6000);

    const before = await accruedCosts(db, ['lab', 'lab2'], NOW);
    const first = nodesCost([{ resources: res, timeStarted: 1000, timeRemoved: 4000 }], card, NOW);
    const second = nodesCost([{ resources: res, timeStarted: 6000, timeRemoved: null }], card, NOW);
    expect(first).toBeGreaterThan(0);
    expect(before.get('lab')).toBeCloseTo(first, 12);
    expect(before.get('lab2')).toBeCloseTo(second, 12);

    const report = await periodUsage(db, { startMs: 3000, endMsExclusive: 7000 }, NOW, 'zoe');
    const byProject = new Map(report.map((g) => [g.billing_project, g.usage]));
    expect(byProject.get('lab')).toEqual(resourceUsage(res, 1000));
    expect(byProject.get('lab2')).toEqual(resourceUsage(res, 1000));
  });
});

describe('the catalogue', () => {
  it('is seeded once, whatever the number of starts, and versions go up one at a time', async () => {
    const db = database.db;
    await seedResources(db, DEFAULT_LOCAL_RATE_CARD, 2);
    await seedResources(db, DEFAULT_LOCAL_RATE_CARD, 3);
    expect(await loadRateCard(db)).toEqual(DEFAULT_LOCAL_RATE_CARD);
    const added = await Promise.all([addResourceVersion(db, 'service-fee', 1e-9, 4), addResourceVersion(db, 'service-fee', 2e-9, 4)]);
    expect(added.map((r) => r.version).sort()).toEqual([2, 3]);
    const fees = (await listResources(db)).filter((r) => r.product === 'service-fee');
    expect(fees.map((r) => r.name)).toEqual(['service-fee/1', 'service-fee/2', 'service-fee/3']);
    await seedResources(db, DEFAULT_LOCAL_RATE_CARD, 5);
    expect((await loadRateCard(db))['service-fee']).toHaveLength(3);
    const fresh = await addResourceVersion(db, 'gcp-support-logs-specs-and-firewall-fees', 0, 6);
    expect(fresh).toMatchObject({ name: 'gcp-support-logs-specs-and-firewall-fees/1', version: 1, rate: 0 });
  });
});
