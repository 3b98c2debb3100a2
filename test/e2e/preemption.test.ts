/**
 * Preemption: an admin preempts the instance running a job; the machine dies abruptly, the
 * instance is deleted with reason `preempted`, and the job runs again elsewhere — or, with no
 * attempts left, ends in Error. Only admins may list or preempt instances.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { job, startTestService, waitFor, waitForBatch, type TestService } from '../support/service';
import { agentProcesses } from '../support/agents';
import { getInstance } from '../../db/queries/instances';

let svc: TestService | undefined;
afterEach(async () => {
  await svc?.stop();
  svc = undefined;
});

type Attempt = { attempt_id: string; instance_name: string; reason: string | null; end_time: string | null };

/** Runs for a minute the first time (long enough to be preempted), succeeds at once after. */
function onceSlow(jobId: number, marker: string, extra: Record<string, unknown> = {}) {
  return job(jobId, ['sh', '-c', `if [ -f ${marker} ]; then echo again; exit 0; fi; touch ${marker}; sleep 60`], extra);
}

async function submit(s: TestService, spec: unknown): Promise<number> {
  const res = await s.api('/api/v1alpha/batches/create-fast', {
    method: 'POST',
    json: { batch: { billing_project: 'test', n_jobs: 1, token: `pre-${Date.now()}-${Math.random()}` }, bunch: [spec] },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { id: number }).id;
}

async function attemptsOf(s: TestService, batchId: number): Promise<Attempt[]> {
  return ((await (await s.api(`/api/v1alpha/batches/${batchId}/jobs/1/attempts`)).json()) as Attempt[] | null) ?? [];
}

async function preemptRunning(s: TestService, admin: string, batchId: number, marker: string): Promise<string> {
  await waitFor('the job to be running', async () => existsSync(marker), 60_000, 100);
  const [first] = await attemptsOf(s, batchId);
  expect(first).toBeDefined();
  const res = await s.api(`/api/v1alpha/instances/${first!.instance_name}/preempt`, { method: 'POST', token: admin });
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ name: first!.instance_name, state: 'inactive', reason: 'preempted' });
  return first!.instance_name;
}

describe('preemption', () => {
  it('reruns a preempted job elsewhere; admins only', async () => {
    svc = await startTestService({ name: 'life_preempt', pools: 'standard:2' });
    const admin = await svc.addUser('root', { admin: true });
    const marker = path.join(svc.config.dataDir, 'ran-once');
    const id = await submit(svc, onceSlow(1, marker));
    await waitFor('the job to be running', async () => existsSync(marker), 60_000, 100);
    const [first] = await attemptsOf(svc, id);

    expect((await svc.api(`/api/v1alpha/instances/${first!.instance_name}/preempt`, { method: 'POST' })).status).toBe(403);
    expect((await svc.api('/api/v1alpha/instances')).status).toBe(403);
    const unknown = await svc.api('/api/v1alpha/instances/batch-worker-local-standard-nope0/preempt', { method: 'POST', token: admin });
    expect(unknown.status).toBe(404);

    const victim = await preemptRunning(svc, admin, id, marker);
    const batch = await waitForBatch(svc, id, 120_000);
    expect(batch).toMatchObject({ state: 'success', n_succeeded: 1 });
    const attempts = await attemptsOf(svc, id);
    expect(attempts).toHaveLength(2);
    expect(attempts[0]).toMatchObject({ instance_name: victim, reason: 'preempted' });
    expect(attempts[1]!.instance_name).not.toBe(victim);

    const row = await getInstance(svc.database.db, victim);
    expect(row).toMatchObject({ state: 'deleted', reason: 'preempted' });
    expect(row!.timeDeactivated).not.toBeNull();
    expect(agentProcesses(svc.config.dataDir)).not.toContain(victim);
    const listed = (await (await svc.api('/api/v1alpha/instances', { token: admin })).json()) as Record<string, unknown>[];
    expect(listed.find((i) => i['name'] === victim)).toMatchObject({ pool: 'standard', state: 'deleted', reason: 'preempted', cores_mcpu: 4000 });
    // The pool is topped up to its two standing workers again.
    await waitFor('a replacement VM', async () => {
      const live = ((await (await svc!.api('/api/v1alpha/instances', { token: admin })).json()) as { state: string }[]).filter((i) => i.state === 'active');
      return live.length === 2;
    }, 60_000, 250);
  });

  it('ends a preempted job in Error when it has no attempts left', async () => {
    svc = await startTestService({ name: 'life_preempt1', pools: 'standard:1' });
    const admin = await svc.addUser('root', { admin: true });
    const marker = path.join(svc.config.dataDir, 'ran-once');
    const id = await submit(svc, onceSlow(1, marker, { n_max_attempts: 1 }));
    await preemptRunning(svc, admin, id, marker);
    const batch = await waitForBatch(svc, id, 120_000);
    expect(batch).toMatchObject({ n_completed: 1, n_succeeded: 0 });
    const j = (await (await svc.api(`/api/v1alpha/batches/${id}/jobs/1`)).json()) as { state: string };
    expect(j.state).toBe('Error');
    const attempts = await attemptsOf(svc, id);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]!.reason).toBe('preempted');
  });
});
