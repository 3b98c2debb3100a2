/**
 * Billing end to end: what attempts record when main starts, the cost of jobs and batches as
 * the rate math gives it, live cost, the catalogue routes and billing reports. Real agents
 * (process executor, one 16-core standard worker), real PostgreSQL and Temporal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chown, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { job, startTestService, waitFor, waitForBatch, type TestService } from '../support/service';
import { closeTo, expectedJobCost, mainEndOf, windowOf } from '../support/billing';
import { listAttempts } from '../../db/queries/attempts';
import { getPool } from '../../db/queries/pools';
import { accruedCosts } from '../../db/queries/billing';

let s: TestService;
let admin: string;
let bob: string;

beforeAll(async () => {
  s = await startTestService({ name: 'e2e_billing', executor: 'process', pools: 'standard:1', coresPerAgent: 16 });
  admin = await s.addUser('root', { admin: true });
  bob = await s.addUser('bob', { projects: ['bobs'] });
});
afterAll(async () => {
  await s?.stop();
});

type Cost = { cost: number; cost_breakdown: { resource: string; cost: number }[] };
type JobJson = Cost & { job_id: number; state: string; msec_mcpu: number };

let seq = 0;
async function createFast(bunch: unknown[], token = s.token, project = s.billingProject): Promise<number> {
  const res = await s.api('/api/v1alpha/batches/create-fast', {
    method: 'POST',
    token,
    json: { batch: { billing_project: project, n_jobs: bunch.length, token: `bill${++seq}-${Date.now()}` }, bunch },
  });
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { id: number }).id;
}

async function getJson<T>(pathname: string, token = s.token): Promise<T> {
  const res = await s.api(pathname, { token });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as T;
}

const oneCore = { resources: { cpu: '1', memory: 'standard' } };

function sumOf(lines: { cost: number }[]): number {
  return lines.reduce((a, l) => a + l.cost, 0);
}

describe('the cost of a job', () => {
  it('is quantity × rate × main run time, and $0.0217 an hour for 1 core on a 16-core worker', async () => {
    const id = await createFast([job(1, ['sh', '-c', 'sleep 3'], oneCore)]);
    await waitForBatch(s, id);
    const j = await getJson<JobJson>(`/api/v1alpha/batches/${id}/jobs/1`);
    const { cost, attempts } = await expectedJobCost(s.database.db, id, 1);
    expect(attempts).toHaveLength(1);
    const a = attempts[0]!;
    const window = windowOf(a)!;
    const ms = window.endMs - window.startMs;
    expect(ms).toBeGreaterThanOrEqual(3000);
    expect(ms).toBeLessThan(6000);
    expect(closeTo(j.cost, cost), `${j.cost} vs ${cost}`).toBe(true);

    // The local card's default job: compute and memory $0.01, boot disk ÷ 16 cores, IP fee ÷ 16,
    // service fee $0.01 an hour; $0.0217 with the 100 GB boot disk.
    const pool = await getPool(s.database.db, 'standard');
    expect(pool?.config.boot_disk_size_gb).toBe(100);
    const perHour = 0.006655 + 3.75 * 0.000892 + (100 / 16) * 0.000232 + 0.004 / 16 + 0.01;
    expect(perHour).toBeCloseTo(0.0217, 12);
    expect(closeTo(j.cost, (perHour * ms) / 3_600_000, 1e-6), `${j.cost} vs ${(perHour * ms) / 3_600_000}`).toBe(true);

    expect(a.resources.map((r) => r.name)).toEqual([
      'compute/n1-preemptible/local/1',
      'disk/pd-ssd/local/1',
      'ip-fee/1024/1',
      'memory/n1-preemptible/local/1',
      'service-fee/1',
    ]);
    expect(a.resources.find((r) => r.name === 'compute/n1-preemptible/local/1')?.quantity).toBe(1000);
    expect(closeTo(sumOf(j.cost_breakdown), j.cost, 1e-12)).toBe(true);
    // Hail's msec_mcpu: the job's 1,000 mcpu for the milliseconds main ran, here and on its batch.
    expect(j.msec_mcpu).toBe(1000 * ms);
    expect((await getJson<{ msec_mcpu: number }>(`/api/v1alpha/batches/${id}`)).msec_mcpu).toBe(1000 * ms);
  });

  it('starts when main starts, after inputs, and ends when main ends, before outputs', async () => {
    // Jobs may use only their billing project's storage root.
    const storageRoot = path.join(s.config.dataDir, 'storage', s.billingProject);
    await mkdir(storageRoot, { recursive: true });
    const dir = await mkdtemp(path.join(storageRoot, 'hb-billing-io-'));
    // The copier runs as the storage owner, so the directory it writes into must be its own.
    await chown(dir, s.config.storage.owner.uid, s.config.storage.owner.gid);
    await writeFile(path.join(dir, 'in.txt'), 'x'.repeat(1000));
    const id = await createFast([
      job(1, ['sh', '-c', 'sleep 1; cp /io/in.txt /io/out.txt'], {
        ...oneCore,
        input_files: [{ from: `file://${dir}/in.txt`, to: '/io/in.txt' }],
        output_files: [{ from: '/io/out.txt', to: `file://${dir}/out.txt` }],
      }),
    ]);
    await waitForBatch(s, id);
    const [a] = await listAttempts(s.database.db, id, 1);
    const doc = a!.status as { container_statuses: Record<string, { timing: { running: { start_time: number; finish_time: number } } }> };
    const input = doc.container_statuses.input!.timing.running;
    const main = doc.container_statuses.main!.timing.running;
    const output = doc.container_statuses.output!.timing.running;
    expect(a!.startTime).toBe(main.start_time);
    expect(a!.startTime!).toBeGreaterThanOrEqual(input.finish_time);
    expect(mainEndOf(a!)).toBe(main.finish_time);
    expect(output.start_time).toBeGreaterThanOrEqual(main.finish_time);
    expect(windowOf(a!)).toEqual({ startMs: main.start_time, endMs: main.finish_time });
    const j = await getJson<JobJson>(`/api/v1alpha/batches/${id}/jobs/1`);
    expect(closeTo(j.cost, (await expectedJobCost(s.database.db, id, 1)).cost)).toBe(true);
  });

  it('bills a 1 cpu + 7 GiB job for the 2 cores its memory needs', async () => {
    const id = await createFast([job(1, ['true'], { resources: { cpu: '1', memory: '7Gi' } })]);
    await waitForBatch(s, id);
    const [a] = await listAttempts(s.database.db, id, 1);
    const q = Object.fromEntries(a!.resources.map((r) => [r.name, r.quantity]));
    expect(q['compute/n1-preemptible/local/1']).toBe(2000);
    expect(q['memory/n1-preemptible/local/1']).toBe(2 * 3840);
    expect(q['ip-fee/1024/1']).toBe(128); // 2 of 16 cores
  });

  it('grows while main runs', async () => {
    const id = await createFast([job(1, ['sh', '-c', 'sleep 6'], oneCore)]);
    const first = await waitFor('a live cost', async () => {
      const j = await getJson<JobJson>(`/api/v1alpha/batches/${id}/jobs/1`);
      return j.state === 'Running' && j.cost > 0 ? j : null;
    }, 30_000, 200);
    await new Promise((r) => setTimeout(r, 1000));
    const second = await getJson<JobJson>(`/api/v1alpha/batches/${id}/jobs/1`);
    expect(second.cost).toBeGreaterThan(first.cost);
    const batch = await getJson<Cost & { complete: boolean }>(`/api/v1alpha/batches/${id}`);
    expect(batch.cost).toBeGreaterThan(0);
    await waitForBatch(s, id);
  });
});

describe('the cost of a batch', () => {
  it('is the sum of its jobs, in GET, listings and the v2 cost filter', async () => {
    const id = await createFast([
      job(1, ['sh', '-c', 'sleep 1'], oneCore),
      job(2, ['sh', '-c', 'sleep 2'], { resources: { cpu: '2', memory: 'standard' } }),
      job(3, ['sh', '-c', 'sleep 1'], { resources: { cpu: '0.5', memory: '1Gi' } }),
    ]);
    await waitForBatch(s, id);
    const jobs = (await getJson<{ jobs: JobJson[] }>(`/api/v1alpha/batches/${id}/jobs`)).jobs;
    expect(jobs).toHaveLength(3);
    for (const j of jobs) {
      const one = await getJson<JobJson>(`/api/v1alpha/batches/${id}/jobs/${j.job_id}`);
      expect(one.cost).toBe(j.cost);
      expect(one.cost_breakdown).toEqual(j.cost_breakdown);
      expect(j.cost).toBeGreaterThan(0);
      expect(closeTo(sumOf(j.cost_breakdown), j.cost, 1e-12)).toBe(true);
      expect(closeTo(j.cost, (await expectedJobCost(s.database.db, id, j.job_id)).cost)).toBe(true);
    }
    const total = jobs.reduce((a, j) => a + j.cost, 0);
    const batch = await getJson<Cost>(`/api/v1alpha/batches/${id}`);
    expect(closeTo(batch.cost, total)).toBe(true);
    expect(closeTo(sumOf(batch.cost_breakdown), batch.cost, 1e-12)).toBe(true);

    const listed = (await getJson<{ batches: (Cost & { id: number })[] }>('/api/v1alpha/batches')).batches.find((b) => b.id === id);
    expect(listed?.cost).toBe(batch.cost);
    expect(listed?.cost_breakdown).toEqual(batch.cost_breakdown);

    const v2 = async (q: string) =>
      (await getJson<{ batches: { id: number }[] }>(`/api/v2alpha/batches?q=${encodeURIComponent(q)}`)).batches.map((b) => b.id);
    expect(await v2(`batch_id = ${id}\ncost > ${batch.cost / 2}`)).toEqual([id]);
    expect(await v2(`batch_id = ${id}\ncost > ${batch.cost * 2}`)).toEqual([]);
    const cheapest = Math.min(...jobs.map((j) => j.cost));
    const cheap = (await getJson<{ jobs: JobJson[] }>(`/api/v2alpha/batches/${id}/jobs?q=${encodeURIComponent(`cost <= ${cheapest}`)}`)).jobs;
    expect(cheap.map((j) => j.cost)).toEqual([cheapest]);
  });

  it('adds up to what the project has accrued', async () => {
    const all = (await getJson<{ batches: Cost[] }>('/api/v1alpha/batches')).batches;
    const accrued = (await accruedCosts(s.database.db, [s.billingProject], Date.now())).get(s.billingProject)!;
    expect(closeTo(accrued, all.reduce((a, b) => a + b.cost, 0))).toBe(true);
  });
});

describe('billing reports', () => {
  const today = () => {
    const d = new Date();
    return `${String(d.getUTCMonth() + 1).padStart(2, '0')}/${String(d.getUTCDate()).padStart(2, '0')}/${d.getUTCFullYear()}`;
  };
  type Spend = { billing_project: string; user: string; total_spent: number };
  type Line = { billing_project: string; user: string; resource: string; cost: number };

  it('report what each project and user spent in a date range, and per resource', async () => {
    // Bob spends a little in his own project, so the report has two users.
    const bobs = await createFast([job(1, ['sh', '-c', 'sleep 1'])], bob, 'bobs');
    await waitFor('bob\'s batch', async () => (await getJson<{ complete: boolean }>(`/api/v1alpha/batches/${bobs}`, bob)).complete, 60_000, 200);
    const q = `start=${today()}&end=${today()}`;
    const all = await getJson<Spend[]>(`/api/v1alpha/billing?${q}`, admin);
    expect(all.map((r) => [r.billing_project, r.user])).toEqual([['bobs', 'bob'], ['test', 'alice']]);
    const accrued = await accruedCosts(s.database.db, ['test', 'bobs'], Date.now());
    expect(closeTo(all[1]!.total_spent, accrued.get('test')!)).toBe(true);
    expect(closeTo(all[0]!.total_spent, accrued.get('bobs')!)).toBe(true);

    const lines = await getJson<Line[]>(`/api/v1alpha/billing_breakdown?${q}`, admin);
    for (const r of all) {
      const mine = lines.filter((l) => l.billing_project === r.billing_project && l.user === r.user);
      expect(mine.length).toBeGreaterThan(0);
      expect(closeTo(sumOf(mine), r.total_spent)).toBe(true);
    }
    expect(lines.some((l) => l.resource === 'service-fee/1')).toBe(true);

    // Others see only their own spending.
    expect((await getJson<Spend[]>(`/api/v1alpha/billing?${q}`, bob)).map((r) => r.user)).toEqual(['bob']);
    expect((await getJson<Spend[]>(`/api/v1alpha/billing?${q}`)).map((r) => r.user)).toEqual(['alice']);
    // A range before anything ran is empty.
    expect(await getJson<Spend[]>('/api/v1alpha/billing?start=01/01/2020&end=01/31/2020', admin)).toEqual([]);
  });

  it('refuses bad dates naming the parameter', async () => {
    for (const [q, field] of [
      ['start=2026-01-01', 'start'],
      ['start=02/01/2026&end=01/01/2026', 'end'],
      ['start=01/01/2026&end=13/01/2026', 'end'],
    ] as const) {
      const res = await s.api(`/api/v1alpha/billing?${q}`);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { field: string } }).error.field).toBe(field);
    }
  });
});

describe('the resource catalogue', () => {
  type Resource = { name: string; product: string; version: number; rate: number };

  it('lists the local rate card to anyone and only admins may change it', async () => {
    const list = await getJson<Resource[]>('/api/v1alpha/resources', bob);
    expect(list.find((r) => r.name === 'service-fee/1')?.rate).toBeCloseTo(0.01 / 1000 / 3_600_000, 20);
    expect(list.map((r) => r.product)).toContain('compute/n1-preemptible/local');

    const post = (json: unknown, token = admin) => s.api('/api/v1alpha/resources', { method: 'POST', token, json });
    expect((await post({ product: 'service-fee', rate: 1e-9 }, bob)).status).toBe(403);
    for (const [body, field] of [
      [{ product: 'service-fee' }, 'rate'],
      [{ product: 'service-fee', rate: -1 }, 'rate'],
      [{ product: 'service-fee/2', rate: 1e-9 }, 'product'],
      [{ rate: 1e-9 }, 'product'],
    ] as const) {
      const res = await post(body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { field: string } }).error.field).toBe(field);
    }
  });

  it('a new rate is a new version: new attempts take it, old ones keep theirs', async () => {
    const before = await createFast([job(1, ['sh', '-c', 'sleep 1'], oneCore)]);
    await waitForBatch(s, before);
    const oldCost = (await getJson<JobJson>(`/api/v1alpha/batches/${before}/jobs/1`)).cost;

    const res = await s.api('/api/v1alpha/resources', { method: 'POST', token: admin, json: { product: 'service-fee', rate: 0.05 / 1000 / 3_600_000 } });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ name: 'service-fee/2', product: 'service-fee', version: 2 });

    const after = await createFast([job(1, ['sh', '-c', 'sleep 1'], oneCore)]);
    await waitForBatch(s, after);
    const [a] = await listAttempts(s.database.db, after, 1);
    expect(a!.resources.map((r) => r.name)).toContain('service-fee/2');
    expect(a!.resources.map((r) => r.name)).not.toContain('service-fee/1');
    const j = await getJson<JobJson>(`/api/v1alpha/batches/${after}/jobs/1`);
    expect(closeTo(j.cost, (await expectedJobCost(s.database.db, after, 1)).cost)).toBe(true);
    expect(j.cost_breakdown.map((l) => l.resource)).toContain('service-fee/2');
    // The earlier job still costs what it did.
    expect((await getJson<JobJson>(`/api/v1alpha/batches/${before}/jobs/1`)).cost).toBe(oldCost);
  });
});
