/**
 * Job-private VMs: a job asking for a machine type gets a VM of its own. It goes Ready →
 * Creating while the VM starts, Running on that VM, and the VM is deleted once the job ends;
 * cancelling the job while its VM is being created deletes the VM.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { job, startTestService, waitFor, waitForBatch, type TestService } from '../support/service';
import { agentProcesses } from '../support/agents';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../support/temporal';
import { listInstances } from '../../db/queries/instances';
import { autoscalerWorkflowId } from '../../workflows/definitions';

let svc: TestService | undefined;
afterEach(async () => {
  await svc?.stop();
  svc = undefined;
});

async function submit(s: TestService, spec: unknown): Promise<number> {
  const res = await s.api('/api/v1alpha/batches/create-fast', {
    method: 'POST',
    json: { batch: { billing_project: 'test', n_jobs: 1, token: `jp-${Date.now()}` }, bunch: [spec] },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { id: number }).id;
}

async function jobState(s: TestService, batchId: number): Promise<string> {
  return ((await (await s.api(`/api/v1alpha/batches/${batchId}/jobs/1`)).json()) as { state: string }).state;
}

const boundTo = async (s: TestService, batchId: number) => (await listInstances(s.database.db)).filter((i) => i.batchId === batchId);

describe('job-private instances', () => {
  it('runs a job on its own VM: Ready → Creating → Running → Success, then deletes the VM', async () => {
    // No pool workers at all: the job can only run on its own VM.
    svc = await startTestService({ name: 'life_private', pools: 'standard:0' });
    const id = await submit(svc, job(1, ['sh', '-c', 'sleep 2; echo done'], { resources: { machine_type: 'n1-standard-2' } }));
    const seen: string[] = [];
    await waitFor('the job to complete', async () => {
      const state = await jobState(svc!, id);
      if (seen[seen.length - 1] !== state) seen.push(state);
      return state === 'Success' || state === 'Failed' || state === 'Error' || state === 'Cancelled';
    }, 120_000, 50);
    expect(seen[seen.length - 1]).toBe('Success');
    expect(seen).toContain('Creating');
    expect(seen).toContain('Running');
    expect(seen.indexOf('Creating')).toBeLessThan(seen.indexOf('Running'));

    const attempts = (await (await svc.api(`/api/v1alpha/batches/${id}/jobs/1/attempts`)).json()) as { instance_name: string }[];
    expect(attempts).toHaveLength(1);
    const [vm] = await boundTo(svc, id);
    expect(vm).toMatchObject({ name: attempts[0]!.instance_name, pool: 'job-private', machineType: 'n1-standard-2', jobId: 1, coresMcpu: 2000 });
    await waitFor('the VM to be deleted', async () => {
      const rows = await boundTo(svc!, id);
      return rows.every((i) => i.state === 'deleted') && !agentProcesses(svc!.config.dataDir).includes(vm!.name);
    }, 60_000, 250);
    expect((await boundTo(svc, id))[0]).toMatchObject({ state: 'deleted', reason: 'job complete' });

    // The autoscaler's history names its decisions, and replays against today's code.
    // A loop's decisions are recorded when its activity completes, which may be a little after
    // the VM it deleted is gone: wait for the loop to finish.
    const workflowId = autoscalerWorkflowId(svc.config.temporal.taskQueue);
    const created: Record<string, unknown> = { instance: vm!.name, pool: 'job-private', action: 'created', reason: `job ${id}/1` };
    const deleted: Record<string, unknown> = { instance: vm!.name, pool: 'job-private', action: 'deleted', reason: 'job complete' };
    const history = await waitFor('the decisions in the autoscaler history', async () => {
      const h = await svc!.client.workflow.getHandle(workflowId).fetchHistory();
      const decisions = (h.events ?? [])
        .flatMap((e) => e.activityTaskCompletedEventAttributes?.result?.payloads ?? [])
        .flatMap((p) => (JSON.parse(Buffer.from(p.data!).toString('utf8')) as { decisions?: Record<string, unknown>[] }).decisions ?? []);
      const has = (d: Record<string, unknown>) => decisions.some((x) => Object.entries(d).every(([k, v]) => x[k] === v));
      return has(created) && has(deleted) ? h : null;
    }, 60_000, 500);
    for await (const r of Worker.runReplayHistories({ workflowBundle: workflowBundle() }, [{ workflowId, history }])) {
      expect(r.error, String(r.error)).toBeUndefined();
    }
  });

  it('deletes the VM of a job cancelled while Creating', async () => {
    svc = await startTestService({ name: 'life_private_cancel', pools: 'standard:0' });
    const id = await submit(svc, job(1, ['sh', '-c', 'sleep 60'], { resources: { machine_type: 'n1-highmem-2' } }));
    await waitFor('the job to be Creating', async () => (await jobState(svc!, id)) === 'Creating', 60_000, 20);
    expect((await boundTo(svc, id)).length).toBe(1);
    expect((await svc.api(`/api/v1alpha/batches/${id}/cancel`, { method: 'PATCH' })).status).toBe(200);
    const batch = await waitForBatch(svc, id, 60_000);
    expect(batch).toMatchObject({ state: 'cancelled', n_cancelled: 1 });
    await waitFor('the VM to be deleted', async () => {
      const rows = await boundTo(svc!, id);
      return rows.length > 0 && rows.every((i) => i.state === 'deleted') && agentProcesses(svc!.config.dataDir).length === 0;
    }, 60_000, 250);
    const attempts = (await (await svc.api(`/api/v1alpha/batches/${id}/jobs/1/attempts`)).json()) as unknown[] | null;
    // Cancelled before it was ever placed: no attempt ran.
    expect(attempts ?? []).toHaveLength(0);
  });
});
