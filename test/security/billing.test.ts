/**
 * One admin write must not disable billing for everyone. The attack: `POST resources` with
 * `{"product": "service-fee", "rate": 1e308}` and with an unknown product. Both are refused;
 * and rows like them stored before the rules held (inserted here straight into the database)
 * make no read route answer 500, keep every cost a finite number, and leave the limit
 * enforcer cancelling over-limit projects. The repair migration turns such rows back into the
 * product's previous rate.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq, sql } from 'drizzle-orm';
import { job, startTestService, waitFor, waitForBatch, type TestService } from '../support/service';
import { billingProjects } from '../../db/schema';
import { listAttempts } from '../../db/queries/attempts';
import { rawRows } from '../../db/client';
import { MAX_RATE_PER_UNIT_MS } from '../../domain/billing-rates';

let s: TestService;
let admin: string;
const SERVICE_FEE_V1 = 0.01 / 1000 / 3_600_000;

beforeAll(async () => {
  s = await startTestService({
    name: 'security_billing',
    executor: 'process',
    pools: 'standard:1',
    coresPerAgent: 8,
    env: { HB_BILLING_LIMITS_INTERVAL_MS: '500' },
  });
  admin = await s.addUser('root', { admin: true });
  await s.addUser('alice', { projects: ['capped'] });
});
afterAll(async () => {
  await s?.stop();
});

const postRate = (json: unknown) => s.api('/api/v1alpha/resources', { method: 'POST', token: admin, json });

async function expect400(res: Response, field: string): Promise<void> {
  expect(res.status, await res.clone().text()).toBe(400);
  expect(((await res.json()) as { error: { field: string } }).error.field).toBe(field);
}

let seq = 0;
async function createFast(project: string, bunch: unknown[]): Promise<Response> {
  return s.api('/api/v1alpha/batches/create-fast', {
    method: 'POST',
    json: { batch: { billing_project: project, n_jobs: bunch.length, token: `sec-bill-${++seq}-${Date.now()}` }, bunch },
  });
}
async function created(res: Response): Promise<number> {
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { id: number }).id;
}

async function getOk<T>(pathname: string, token?: string): Promise<T> {
  const res = await s.api(pathname, token === undefined ? {} : { token });
  expect(res.status, `${pathname}: ${await res.clone().text()}`).toBe(200);
  return (await res.json()) as T;
}

/** Stores a catalogue row as a service without the bounds would have. */
async function storeRow(name: string, product: string, version: number, rate: string): Promise<void> {
  await s.database.db.execute(
    sql`INSERT INTO resources (name, product, version, rate, time_created) VALUES (${name}, ${product}, ${version}, ${rate}::float8, ${Date.now()})`,
  );
}

type Batch = { id: number; state: string; complete: boolean; cost: unknown; cost_breakdown: { resource: string; cost: unknown }[] };

describe('rates an admin may set', () => {
  it('refuses the attack rate and an unknown product, naming the field', async () => {
    await expect400(await postRate({ product: 'service-fee', rate: 1e308 }), 'rate');
    await expect400(await postRate({ product: 'no-such-product', rate: SERVICE_FEE_V1 }), 'product');
  });

  it('refuses every rate that is not finite, positive and bounded', async () => {
    for (const rate of [0, -1e-12, MAX_RATE_PER_UNIT_MS * 2, 1, '1e-12', null]) {
      await expect400(await postRate({ product: 'service-fee', rate }), 'rate');
    }
    // Infinity and NaN cannot be written in JSON; a literal that overflows a double parses as Infinity.
    const overflow = await s.api('/api/v1alpha/resources', {
      method: 'POST',
      token: admin,
      headers: { 'content-type': 'application/json' },
      body: '{"product": "service-fee", "rate": 1e999}',
    });
    await expect400(overflow, 'rate');
    for (const product of ['compute', 'compute/n1-preemptible/', 'disk/pd-ssd/Local', 'ip-fee', 'service-fee/x']) {
      await expect400(await postRate({ product, rate: SERVICE_FEE_V1 }), 'product');
    }
    // Nothing was stored.
    const list = await getOk<{ name: string }[]>('/api/v1alpha/resources');
    expect(list.map((r) => r.name).filter((n) => n.startsWith('service-fee/'))).toEqual(['service-fee/1']);
  });

  it('accepts a sane rate for a known product, including one not seeded yet', async () => {
    const res = await postRate({ product: 'gcp-support-logs-specs-and-firewall-fees', rate: 1e-13 });
    expect(res.status, await res.clone().text()).toBe(201);
    expect(await res.json()).toMatchObject({ name: 'gcp-support-logs-specs-and-firewall-fees/1', rate: 1e-13 });
  });
});

describe('rows stored before the rules held', () => {
  let batchId = 0;

  beforeAll(async () => {
    // The attack's rows, as stored by a service that accepted them: new attempts take service-fee/2.
    await storeRow('service-fee/2', 'service-fee', 2, '1e308');
    await storeRow('no-such-product/1', 'no-such-product', 1, '1e308');
    await storeRow('ip-fee/1024/2', 'ip-fee/1024', 2, 'NaN');
    await storeRow('ip-fee/1024/3', 'ip-fee/1024', 3, 'Infinity');
    batchId = await created(await createFast('test', [job(1, ['sh', '-c', 'sleep 1'])]));
    await waitForBatch(s, batchId);
  });

  it('an attempt billed under the bad version costs the previous rate, as a finite number', async () => {
    const [a] = await listAttempts(s.database.db, batchId, 1);
    expect(a!.resources.map((r) => r.name)).toContain('service-fee/2');
    const b = await getOk<Batch>(`/api/v1alpha/batches/${batchId}`);
    expect(typeof b.cost).toBe('number');
    expect(Number.isFinite(b.cost)).toBe(true);
    expect(b.cost as number).toBeGreaterThan(0);
    const fee = b.cost_breakdown.find((l) => l.resource === 'service-fee/2');
    const serviceQuantity = a!.resources.find((r) => r.name === 'service-fee/2')!.quantity;
    expect(serviceQuantity).toBe(250);
    expect(typeof fee?.cost).toBe('number');
    // Billed at version 1's rate: under $0.01 per core-hour for a job of a few seconds.
    expect(fee!.cost as number).toBeGreaterThan(0);
    expect(fee!.cost as number).toBeLessThan(1e-5);
    const job1 = await getOk<{ cost: unknown }>(`/api/v1alpha/batches/${batchId}/jobs/1`);
    expect(Number.isFinite(job1.cost)).toBe(true);
  });

  it('no read route answers 500', async () => {
    const list = await getOk<{ batches: Batch[] }>('/api/v1alpha/batches');
    expect(list.batches.every((b) => typeof b.cost === 'number' && Number.isFinite(b.cost))).toBe(true);
    await getOk('/api/v2alpha/batches');
    await getOk(`/api/v2alpha/batches?q=${encodeURIComponent('cost >= 0')}`);
    await getOk(`/api/v1alpha/batches/${batchId}/jobs`);
    await getOk(`/api/v2alpha/batches/${batchId}/jobs?q=${encodeURIComponent('cost > 0')}`);
    for (const token of [admin, s.token]) {
      const projects = await getOk<{ billing_project: string; accrued_cost: unknown }[]>('/api/v1alpha/billing_projects', token);
      expect(projects.length).toBeGreaterThan(0);
      expect(projects.every((p) => typeof p.accrued_cost === 'number' && Number.isFinite(p.accrued_cost))).toBe(true);
      const period = 'start=01/01/2020';
      const spend = await getOk<{ total_spent: unknown }[]>(`/api/v1alpha/billing?${period}`, token);
      expect(spend.length).toBeGreaterThan(0);
      expect(spend.every((r) => Number.isFinite(r.total_spent))).toBe(true);
      const lines = await getOk<{ cost: unknown }[]>(`/api/v1alpha/billing_breakdown?${period}`, token);
      expect(lines.every((r) => Number.isFinite(r.cost))).toBe(true);
    }
    const catalogue = await getOk<{ name: string; rate: unknown }[]>('/api/v1alpha/resources');
    expect(catalogue.every((r) => typeof r.rate === 'number' && r.rate >= 0 && r.rate <= MAX_RATE_PER_UNIT_MS)).toBe(true);
    expect(catalogue.find((r) => r.name === 'service-fee/2')?.rate).toBe(SERVICE_FEE_V1);
  });

  it('a batch in a limited project is created, or refused for its budget, never a 500', async () => {
    // `test` holds the attempt billed under the bad row; its accrued cost is read to decide.
    await s.database.db.update(billingProjects).set({ limit: 1000 }).where(eq(billingProjects.name, 'test'));
    const id = await created(await createFast('test', [job(1, ['true'])]));
    await waitForBatch(s, id);
    await s.database.db.update(billingProjects).set({ limit: null }).where(eq(billingProjects.name, 'test'));
  });

  it('the enforcer still cancels the batches of a project over its limit', async () => {
    const capped = await created(await createFast('capped', [job(1, ['sh', '-c', 'sleep 120'], { resources: { cpu: '1', memory: 'standard' } })]));
    await waitFor('the capped batch to cost something', async () => ((await getOk<Batch>(`/api/v1alpha/batches/${capped}`)).cost as number) > 0, 30_000, 200);
    await s.database.db.update(billingProjects).set({ limit: 1e-9 }).where(eq(billingProjects.name, 'capped'));
    const done = await waitForBatch(s, capped, 30_000);
    expect(done['state']).toBe('cancelled');
    const refused = await createFast('capped', [job(1, ['true'])]);
    expect(refused.status).toBe(403);
  });

  it('a sane rate posted afterwards is the one new attempts take', async () => {
    const res = await postRate({ product: 'service-fee', rate: SERVICE_FEE_V1 * 2 });
    expect(res.status, await res.clone().text()).toBe(201);
    expect(await res.json()).toMatchObject({ name: 'service-fee/3', version: 3 });
    const id = await created(await createFast('test', [job(1, ['true'])]));
    await waitForBatch(s, id);
    const [a] = await listAttempts(s.database.db, id, 1);
    expect(a!.resources.map((r) => r.name)).toContain('service-fee/3');
  });

  it('the repair migration rewrites stored bad rates to the previous rate and drops unused unknown rows', async () => {
    const file = path.join(import.meta.dirname, '../../db/migrations/0002_bounded_rates.sql');
    for (const statement of (await readFile(file, 'utf8')).split('--> statement-breakpoint')) {
      await s.database.db.execute(sql.raw(statement));
    }
    const rows = await rawRows<{ name: string; rate: number }>(s.database.db, sql`SELECT name, rate FROM resources ORDER BY name`);
    const rate = new Map(rows.map((r) => [r.name, Number(r.rate)]));
    expect(rate.get('service-fee/2')).toBe(SERVICE_FEE_V1);
    expect(rate.get('ip-fee/1024/2')).toBe(rate.get('ip-fee/1024/1'));
    expect(rate.get('ip-fee/1024/3')).toBe(rate.get('ip-fee/1024/1'));
    expect(rate.has('no-such-product/1')).toBe(false);
    expect([...rate.values()].every((r) => r > 0 && r <= MAX_RATE_PER_UNIT_MS)).toBe(true);
  });
});
