/**
 * kill -9 of the driver or the API in the middle of a running batch: after a restart the batch
 * completes, every job ends in exactly one terminal state, and no container is left behind.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { job, waitFor } from '../support/service';
import { startProcessService, type ProcessService } from '../support/processes';
import { liveInstances } from '../../db/queries/instances';
import { processAlive as alive } from '../../activities/cloud/pids';

let s: ProcessService | undefined;
afterEach(async () => {
  await s?.stop();
  s = undefined;
});

function containersFor(batchId: number): string[] {
  return execFileSync('docker', ['ps', '-aq', '--filter', `label=hail-batch.batch_id=${batchId}`], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);
}


/** 12 independent jobs and 3 chains of 4, each job sleeping a little: long enough to be caught running. */
function workload(): unknown[] {
  const bunch: unknown[] = [];
  for (let i = 1; i <= 12; i++) bunch.push(job(i, ['sh', '-c', `echo job ${i}; sleep 2`]));
  let id = 13;
  for (let c = 0; c < 3; c++) {
    for (let k = 0; k < 4; k++, id++) bunch.push(job(id, ['sh', '-c', `echo chain ${c}.${k}; sleep 1`], k > 0 ? { in_update_parent_ids: [id - 1] } : {}));
  }
  return bunch;
}

async function submit(svc: ProcessService): Promise<number> {
  const bunch = workload();
  const res = await svc.api('/api/v1alpha/batches/create-fast', {
    method: 'POST',
    json: { batch: { billing_project: 'test', n_jobs: bunch.length, token: `dur-${Date.now()}` }, bunch },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { id: number }).id;
}

async function batchOf(svc: ProcessService, id: number): Promise<Record<string, any>> {
  return (await (await svc.api(`/api/v1alpha/batches/${id}`)).json()) as Record<string, any>;
}

async function checkOutcome(svc: ProcessService, id: number) {
  const batch = await waitFor('batch to complete after restart', async () => {
    const b = await batchOf(svc, id).catch(() => null);
    return b?.complete ? b : null;
  }, 120_000, 250);
  expect(batch).toMatchObject({ state: 'success', n_jobs: 24, n_completed: 24, n_succeeded: 24, n_failed: 0, n_cancelled: 0 });
  const jobs = ((await (await svc.api(`/api/v1alpha/batches/${id}/jobs`)).json()) as { jobs: { state: string }[] }).jobs;
  expect(jobs).toHaveLength(24);
  expect(jobs.every((j) => j.state === 'Success')).toBe(true);
  await waitFor('no containers left', async () => containersFor(id).length === 0, 30_000);
  // Every live instance is a live agent process, and there are exactly as many as configured.
  const live = await liveInstances(svc.database.db);
  expect(live).toHaveLength(2);
  expect(live.every((i) => alive(Number(i.handle)))).toBe(true);
}

describe('crash safety', () => {
  it('survives kill -9 of the driver mid-batch', async () => {
    s = await startProcessService({ name: 'dur_driver', executor: 'docker', pools: 'standard:2' });
    await s.start('api');
    await s.start('driver');
    const id = await submit(s);
    await waitFor('some jobs to finish and others to run', async () => {
      const b = await batchOf(s!, id);
      return b.n_completed >= 3 && b.n_completed < 20;
    }, 60_000, 50);
    s.kill9('driver');
    await new Promise((r) => setTimeout(r, 3000));
    await s.start('driver');
    await checkOutcome(s, id);
  });

  it('survives kill -9 of the API mid-batch', async () => {
    s = await startProcessService({ name: 'dur_api', executor: 'docker', pools: 'standard:2' });
    await s.start('api');
    await s.start('driver');
    const id = await submit(s);
    await waitFor('some jobs to finish', async () => (await batchOf(s!, id)).n_completed >= 3, 60_000, 50);
    s.kill9('api');
    // Agents keep running jobs and retry their reports until the API is back.
    await new Promise((r) => setTimeout(r, 4000));
    await s.start('api');
    await checkOutcome(s, id);
  });
});
