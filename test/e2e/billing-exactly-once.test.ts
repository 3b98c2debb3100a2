/**
 * Every attempt is billed exactly once: duplicated worker reports, retried activities and a
 * driver killed with kill -9 mid-batch leave each attempt's cost equal to the rate math over its
 * recorded window, and a project's accrued cost equal to the sum of its jobs' costs.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { job, startTestService, waitFor, waitForBatch, type TestService } from '../support/service';
import { startProcessService, type ProcessService } from '../support/processes';
import { closeTo, expectedJobCost } from '../support/billing';
import { billingProjects, instances } from '../../db/schema';
import { getAttempt, listAttempts } from '../../db/queries/attempts';
import { accruedCosts } from '../../db/queries/billing';
import { hashToken } from '../../db/queries/tokens';
import { createActivities } from '../../activities';
import { createLogger } from '../../cli/logger';

type JobJson = { job_id: number; state: string; cost: number; cost_breakdown: { resource: string; cost: number }[] };

describe('in one service', () => {
  let s: TestService;
  beforeAll(async () => {
    s = await startTestService({ name: 'e2e_billing_once', executor: 'process', pools: 'standard:1', coresPerAgent: 8 });
    await s.addUser('alice', { projects: ['dup'] });
  });
  afterAll(async () => {
    await s?.stop();
  });

  let seq = 0;
  async function createFast(bunch: unknown[], project = s.billingProject): Promise<number> {
    const res = await s.api('/api/v1alpha/batches/create-fast', {
      method: 'POST',
      json: { batch: { billing_project: project, n_jobs: bunch.length, token: `once${++seq}-${Date.now()}` }, bunch },
    });
    expect(res.status, await res.clone().text()).toBe(200);
    return ((await res.json()) as { id: number }).id;
  }
  const jobJson = async (b: number, j: number) => (await (await s.api(`/api/v1alpha/batches/${b}/jobs/${j}`)).json()) as JobJson;

  /**
   * Sends reports as the agent of `instance` would. The agent's token lives only in its memory,
   * so the instance's token is swapped for one the test knows and swapped back at once (the
   * agent's heartbeats in between are refused, which it shrugs off).
   */
  async function asAgent(instance: string, route: 'job_started' | 'job_complete', body: unknown): Promise<number> {
    const db = s.database.db;
    const [row] = await db.select({ tokenHash: instances.tokenHash }).from(instances).where(eq(instances.name, instance));
    const token = `dup-${Date.now()}`;
    await db.update(instances).set({ tokenHash: hashToken(token) }).where(eq(instances.name, instance));
    try {
      const res = await fetch(`${s.url}/api/v1alpha/instances/${route}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-hail-instance-name': instance, 'x-hail-instance-token': token },
        body: JSON.stringify(body),
      });
      return res.status;
    } finally {
      await db.update(instances).set({ tokenHash: row!.tokenHash }).where(eq(instances.name, instance));
    }
  }

  it('ignores duplicated job_started and job_complete reports', async () => {
    const id = await createFast([job(1, ['sh', '-c', 'sleep 4'], { resources: { cpu: '1', memory: 'standard' } })]);
    const running = await waitFor('main to start', async () => {
      const [a] = await listAttempts(s.database.db, id, 1);
      return a?.startTime ? a : null;
    }, 30_000, 100);
    const ref = { batch_id: id, job_id: 1, attempt_id: running.attemptId };
    // A late duplicate of job_started, with another start time: the first start stands.
    expect(await asAgent(running.instanceName, 'job_started', { status: { ...ref, start_time: running.startTime! - 5000, resources: [] } })).toBe(200);
    const after = (await getAttempt(s.database.db, { batchId: id, jobId: 1, attemptId: running.attemptId }))!;
    expect(after.startTime).toBe(running.startTime);
    expect(after.resources).toEqual(running.resources);

    await waitForBatch(s, id);
    const ended = (await getAttempt(s.database.db, { batchId: id, jobId: 1, attemptId: running.attemptId }))!;
    const cost = (await jobJson(id, 1)).cost;
    expect(closeTo(cost, (await expectedJobCost(s.database.db, id, 1)).cost)).toBe(true);

    // The agent's job_complete again, and once more with other times and another outcome.
    const doc = ended.status as { container_statuses: { main: { timing: { running: { finish_time: number } } } } };
    const later = structuredClone(doc);
    later.container_statuses.main.timing.running.finish_time += 60_000;
    const complete = (status: unknown, endTime: number, state: string, startTime: number) => ({
      status: { ...ref, job_group_id: 0, state, start_time: startTime, end_time: endTime, exit_code: 0, status },
      marked_job_started: true,
    });
    expect(await asAgent(ended.instanceName, 'job_complete', complete(doc, ended.endTime!, 'succeeded', ended.startTime!))).toBe(200);
    expect(await asAgent(ended.instanceName, 'job_complete', complete(later, ended.endTime! + 60_000, 'failed', ended.startTime! - 1000))).toBe(200);
    expect(await asAgent(ended.instanceName, 'job_started', { status: { ...ref, start_time: ended.startTime! - 1000, resources: [] } })).toBe(200);

    expect(await getAttempt(s.database.db, { batchId: id, jobId: 1, attemptId: running.attemptId })).toEqual(ended);
    const j = await jobJson(id, 1);
    expect(j.state).toBe('Success');
    expect(j.cost).toBe(cost);
    const b = (await (await s.api(`/api/v1alpha/batches/${id}`)).json()) as { n_completed: number; n_succeeded: number; cost: number };
    expect(b).toMatchObject({ n_completed: 1, n_succeeded: 1 });
    expect(b.cost).toBe(cost);
  });

  it('a retried activity changes nothing the first run did', async () => {
    const acts = createActivities({ db: s.database.db, config: s.config, log: createLogger('error') });
    const id = await createFast([1, 2].map((i) => job(i, ['sh', '-c', 'sleep 60'])), 'dup');
    await waitFor('jobs to cost something', async () => (await jobJson(id, 1)).cost > 0 && (await jobJson(id, 2)).cost > 0, 30_000, 200);
    await s.database.db.update(billingProjects).set({ limit: 1e-9 }).where(eq(billingProjects.name, 'dup'));

    // The enforcer's activity, run twice as a retry would (the driver's own pass may run too).
    const first = await acts.enforceBillingLimits();
    const second = await acts.enforceBillingLimits();
    expect(first.overLimit).toContain('dup');
    expect(second.overLimit).toContain('dup');
    expect(second.batchIds).toContain(id);

    const done = await waitFor('the batch to be cancelled', async () => {
      const b = (await (await s.api(`/api/v1alpha/batches/${id}`)).json()) as Record<string, number | boolean | string>;
      return b.complete ? b : null;
    }, 45_000, 250);
    expect(done).toMatchObject({ state: 'cancelled', n_jobs: 2, n_completed: 2, n_cancelled: 2 });

    // A job's reconcile, run twice more after the fact: the attempt and the cost stay put.
    const before = await Promise.all([1, 2].map((j) => listAttempts(s.database.db, id, j)));
    const costs = await Promise.all([1, 2].map((j) => jobJson(id, j)));
    for (const jobId of [1, 2]) {
      for (let i = 0; i < 2; i++) expect(await acts.reconcileJob({ batchId: id, jobId, cancel: true })).toEqual({ state: 'Cancelled', complete: true });
    }
    expect(await Promise.all([1, 2].map((j) => listAttempts(s.database.db, id, j)))).toEqual(before);
    for (const [i, j] of [1, 2].entries()) {
      const now = await jobJson(id, j);
      expect(now.cost).toBe(costs[i]!.cost);
      expect(closeTo(now.cost, (await expectedJobCost(s.database.db, id, j)).cost)).toBe(true);
    }
    const again = await acts.enforceBillingLimits();
    expect(again.batchIds).not.toContain(id); // complete now, nothing left to cancel
  });
});

describe('a driver killed mid-batch', () => {
  let p: ProcessService | undefined;
  afterEach(async () => {
    await p?.stop();
    p = undefined;
  });

  it('bills every attempt once, and the project accrues the sum of its jobs', async () => {
    p = await startProcessService({ name: 'bill_kill', executor: 'process', pools: 'standard:2' });
    await p.start('api');
    await p.start('driver');
    const bunch: unknown[] = [];
    for (let i = 1; i <= 8; i++) bunch.push(job(i, ['sh', '-c', 'sleep 2'], { resources: { cpu: '1', memory: 'standard' } }));
    for (let i = 9; i <= 10; i++) bunch.push(job(i, ['sh', '-c', 'sleep 2'], { resources: { cpu: '1', memory: '7Gi' } }));
    const res = await p.api('/api/v1alpha/batches/create-fast', {
      method: 'POST',
      json: { batch: { billing_project: 'test', n_jobs: bunch.length, token: `kill-${Date.now()}` }, bunch },
    });
    expect(res.status).toBe(200);
    const id = ((await res.json()) as { id: number }).id;
    const batchJson = async () => (await (await p!.api(`/api/v1alpha/batches/${id}`)).json()) as Record<string, any>;
    await waitFor('some jobs done and some running', async () => {
      const b = await batchJson();
      return b.n_completed >= 1 && b.n_completed < 8;
    }, 60_000, 50);
    p.kill9('driver');
    await new Promise((r) => setTimeout(r, 3000));
    await p.start('driver');
    const done = await waitFor('the batch to complete', async () => {
      const b = await batchJson().catch(() => null);
      return b?.complete ? b : null;
    }, 120_000, 250);
    expect(done).toMatchObject({ state: 'success', n_jobs: 10, n_succeeded: 10 });

    const db = p.database.db;
    const jobs = ((await (await p.api(`/api/v1alpha/batches/${id}/jobs`)).json()) as { jobs: JobJson[] }).jobs;
    expect(jobs).toHaveLength(10);
    let sum = 0;
    for (const j of jobs) {
      const { cost, attempts } = await expectedJobCost(db, id, j.job_id);
      expect(j.cost).toBeGreaterThan(0);
      expect(closeTo(j.cost, cost), `job ${j.job_id}: ${j.cost} vs ${cost}`).toBe(true);
      for (const a of attempts.filter((x) => x.startTime !== null)) {
        expect(a.resources.length).toBeGreaterThan(0);
        const q = Object.fromEntries(a.resources.map((r) => [r.name, r.quantity]));
        // 4-core workers: 1 core is a quarter of the machine; 1 cpu + 7 GiB takes 2 cores, half.
        expect(q['compute/n1-preemptible/local/1']).toBe(j.job_id >= 9 ? 2000 : 1000);
        expect(q['ip-fee/1024/1']).toBe(j.job_id >= 9 ? 512 : 256);
      }
      sum += j.cost;
    }
    expect(closeTo(done.cost, sum)).toBe(true);
    const accrued = (await accruedCosts(db, ['test'], Date.now())).get('test')!;
    expect(closeTo(accrued, sum)).toBe(true);
  });
});
