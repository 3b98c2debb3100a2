/**
 * A job whose attempts keep losing their instance must not walk the pool: every attempt lost
 * with its instance counts toward `n_max_attempts`, and once they are used up the job ends in
 * Error, with the reason on its last attempt, instead of moving on to the next agent (and
 * taking the other jobs on each agent down with it).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { job, startTestService, waitFor, waitForBatch, type TestService } from '../support/service';
import { listInstances } from '../../db/queries/instances';

let s: TestService;

beforeAll(async () => {
  s = await startTestService({ name: 'security_lost_instances', executor: 'process', pools: 'standard:4', coresPerAgent: 2 });
});
afterAll(async () => {
  await s?.stop();
});

/** The pid of the agent process named `name` of this service ("the VM"), or null. */
function agentPid(name: string): number | null {
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
      if (env.includes(`HB_AGENT_NAME=${name}`) && env.includes(`HB_DATA_DIR=${s.config.dataDir}`)) return Number(pid);
    } catch {
      // Exited while we looked.
    }
  }
  return null;
}

type Attempt = { attempt_id: string; instance_name: string; reason: string | null; end_time: string | null };
const attemptsOf = async (batchId: number) =>
  ((await (await s.api(`/api/v1alpha/batches/${batchId}/jobs/1/attempts`)).json()) as Attempt[] | null) ?? [];
const jobOf = async (batchId: number) =>
  (await (await s.api(`/api/v1alpha/batches/${batchId}/jobs/1`)).json()) as { state: string; n_attempts?: number };

describe('attempts lost with their instance', () => {
  it('count toward n_max_attempts: the job ends in Error instead of walking the pool', async () => {
    const res = await s.api('/api/v1alpha/batches/create-fast', {
      method: 'POST',
      json: {
        batch: { billing_project: 'test', n_jobs: 1, token: `lost-${Date.now()}` },
        bunch: [job(1, ['sleep', '300'], { n_max_attempts: 2, resources: { cpu: '1', memory: 'standard' } })],
      },
    });
    expect(res.status, await res.clone().text()).toBe(200);
    const batchId = ((await res.json()) as { id: number }).id;

    const killed: string[] = [];
    for (let round = 0; round < 4; round++) {
      const open = await waitFor(`attempt ${round + 1} to run, or the job to end`, async () => {
        const j = await jobOf(batchId);
        if (j.state === 'Error' || j.state === 'Success' || j.state === 'Failed') return { done: true as const };
        const attempt = (await attemptsOf(batchId)).find((a) => a.end_time === null && !killed.includes(a.instance_name));
        return j.state === 'Running' && attempt ? { done: false as const, attempt } : null;
      }, 90_000, 200);
      if (open.done) break;
      // Its machine dies: the agent process goes with everything on it.
      const pid = agentPid(open.attempt.instance_name);
      expect(pid, `agent ${open.attempt.instance_name}`).not.toBeNull();
      process.kill(pid!, 'SIGKILL');
      killed.push(open.attempt.instance_name);
    }

    const batch = await waitForBatch(s, batchId, 120_000);
    expect(batch).toMatchObject({ complete: true, n_succeeded: 0 });
    expect((await jobOf(batchId)).state).toBe('Error');
    const attempts = await attemptsOf(batchId);
    expect(killed).toHaveLength(2);
    expect(attempts).toHaveLength(2);
    expect(attempts.map((a) => a.instance_name)).toEqual(killed);
    for (const a of attempts) {
      expect(a.end_time).not.toBeNull();
      expect(a.reason).toBeTruthy();
    }
  });

  it('count when the job itself takes its machine down, attempt after attempt', async () => {
    const res = await s.api('/api/v1alpha/batches/create-fast', {
      method: 'POST',
      json: {
        batch: { billing_project: 'test', n_jobs: 1, token: `lost-self-${Date.now()}` },
        // The agent runs the command as its child: killing the parent is killing the VM.
        bunch: [job(1, ['sh', '-c', 'kill -9 $PPID; sleep 300'], { n_max_attempts: 2, resources: { cpu: '1', memory: 'standard' } })],
      },
    });
    expect(res.status, await res.clone().text()).toBe(200);
    const batchId = ((await res.json()) as { id: number }).id;
    const batch = await waitForBatch(s, batchId, 120_000);
    expect(batch).toMatchObject({ complete: true, n_succeeded: 0 });
    expect((await jobOf(batchId)).state).toBe('Error');
    const attempts = await attemptsOf(batchId);
    expect(attempts).toHaveLength(2);
    expect(new Set(attempts.map((a) => a.instance_name)).size).toBe(2);
    expect(attempts.every((a) => a.end_time !== null && !!a.reason)).toBe(true);
  });

  it('count for a job-private job whose VMs die before it is placed: it stops asking for VMs', async () => {
    const res = await s.api('/api/v1alpha/batches/create-fast', {
      method: 'POST',
      json: {
        batch: { billing_project: 'test', n_jobs: 1, token: `lost-private-${Date.now()}` },
        bunch: [job(1, ['sleep', '300'], { n_max_attempts: 2, resources: { machine_type: 'n1-standard-2' } })],
      },
    });
    expect(res.status, await res.clone().text()).toBe(200);
    const batchId = ((await res.json()) as { id: number }).id;
    const seen = new Set<string>();
    // Every VM made for the job dies as soon as its process exists, pending or not.
    const done = await waitFor('the job to end', async () => {
      for (const vm of (await listInstances(s.database.db)).filter((i) => i.batchId === batchId && i.state !== 'deleted')) {
        const pid = agentPid(vm.name);
        if (pid !== null) {
          seen.add(vm.name);
          process.kill(pid, 'SIGKILL');
        }
      }
      const j = await jobOf(batchId);
      return ['Error', 'Success', 'Failed', 'Cancelled'].includes(j.state) ? j : null;
    }, 120_000, 20);
    expect(done.state).toBe('Error');
    await waitForBatch(s, batchId, 30_000);
    const vms = (await listInstances(s.database.db)).filter((i) => i.batchId === batchId);
    expect(vms).toHaveLength(2);
    expect(seen.size).toBe(2);
    expect((await jobOf(batchId)).n_attempts).toBe(2);
  });
});
