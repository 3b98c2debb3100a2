/**
 * Cancelling a large batch under the fair-share round: 100 sleeping jobs on 2 agents x 4
 * cores (16 run at a time). After the cancel no waiting job gets an attempt, the running ones
 * are killed on their agents and their cores come back, and nothing ends in Success.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { and, eq, inArray, isNotNull, sql } from 'drizzle-orm';
import { attempts, instances, jobs } from '../../db/schema';
import { job, startTestService, waitFor, waitForBatch, type TestService } from '../support/service';

let s: TestService;

beforeAll(async () => {
  s = await startTestService({ name: 'e2e_cancel_scale', executor: 'process', pools: 'standard:2', coresPerAgent: 4 });
});
afterAll(async () => {
  await s?.stop();
});

describe('cancelling a batch of 100 running and waiting jobs', () => {
  it('starts none of the waiting jobs, kills the running ones and frees their cores', async () => {
    const n = 100;
    const bunch = Array.from({ length: n }, (_, k) =>
      job(k + 1, ['sleep', '300'], { resources: { cpu: '0.5', memory: 'standard' } }),
    );
    const res = await s.api('/api/v1alpha/batches/create-fast', {
      method: 'POST',
      json: { batch: { billing_project: s.billingProject, n_jobs: n, token: `cancel-${Date.now()}` }, bunch },
    });
    expect(res.status, await res.clone().text()).toBe(200);
    const id = ((await res.json()) as { id: number }).id;

    // Every slot busy with a job whose process the agent has started.
    await waitFor('16 jobs to start', async () => {
      const [row] = await s.database.db
        .select({ n: sql<string>`count(*)` })
        .from(jobs)
        .where(and(eq(jobs.batchId, id), eq(jobs.state, 'Running'), isNotNull(jobs.startTime)));
      return Number(row?.n) >= 16;
    }, 90_000);
    const running = await s.database.db
      .select({ jobId: jobs.jobId, attemptId: jobs.attemptId })
      .from(jobs)
      .where(and(eq(jobs.batchId, id), eq(jobs.state, 'Running')));
    expect(running).toHaveLength(16);

    const cancel = await s.api(`/api/v1alpha/batches/${id}/cancel`, { method: 'PATCH' });
    expect(cancel.status).toBe(200);
    const cancelledAt = Date.now();

    // Every agent back to all its cores, as the kills complete: ~5 s on a quiet machine. The
    // bound is only against a hang (the figure is printed, not asserted): under a full suite's
    // load the sixteen kills queue behind everything else.
    const live = await s.database.db.select().from(instances).where(eq(instances.state, 'active'));
    expect(live).toHaveLength(2);
    await waitFor('cores to return', async () => {
      const rows = await s.database.db
        .select({ free: instances.freeCoresMcpu, cores: instances.coresMcpu })
        .from(instances)
        .where(inArray(instances.name, live.map((i) => i.name)));
      return rows.every((r) => r.free === r.cores);
    }, 120_000, 100);
    const freedMs = Date.now() - cancelledAt;

    const batch = await waitForBatch(s, id, 60_000);
    expect(batch).toMatchObject({ state: 'cancelled', n_jobs: n, n_cancelled: n, n_succeeded: 0, n_failed: 0 });

    // No job got an attempt after the cancel: the 16 that ran are the only attempts.
    const all = await s.database.db.select().from(attempts).where(eq(attempts.batchId, id));
    expect(all.map((a) => a.jobId).sort((x, y) => x - y)).toEqual(running.map((r) => r.jobId).sort((x, y) => x - y));
    for (const a of all) {
      expect(a.timeScheduled).toBeLessThan(cancelledAt);
      expect(a.endTime).not.toBeNull();
      expect(a.outcome).toBeNull();
      expect(a.reason).toBe('cancelled');
    }
    const states = await s.database.db
      .select({ state: jobs.state, n: sql<string>`count(*)` })
      .from(jobs)
      .where(eq(jobs.batchId, id))
      .groupBy(jobs.state);
    expect(states.map((r) => [r.state, Number(r.n)])).toEqual([['Cancelled', n]]);

    // The agents agree: each killed job is over on its agent.
    for (const inst of live) {
      for (const r of all.filter((a) => a.instanceName === inst.name)) {
        const status = await fetch(`${inst.address}/api/v1alpha/batches/${id}/jobs/${r.jobId}/status`);
        if (status.status === 404) continue; // already cleaned up by the agent
        const doc = (await status.json()) as { state: string };
        expect(doc.state).not.toBe('running');
      }
    }
    console.info('cancellation', { freedMs });
  }, 200_000);
});
