/**
 * Batches end to end through HTTP, with jobs in real Docker containers on real agent processes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chown, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { job, startTestService, waitFor, waitForBatch, type TestService } from '../support/service';

let s: TestService;

beforeAll(async () => {
  s = await startTestService({ name: 'e2e_batches', executor: 'docker', pools: 'standard:2' });
});
afterAll(async () => {
  await s?.stop();
});

let tokenSeq = 0;
async function createFast(bunch: unknown[], batch: Record<string, unknown> = {}): Promise<number> {
  const res = await s.api('/api/v1alpha/batches/create-fast', {
    method: 'POST',
    json: { batch: { billing_project: s.billingProject, n_jobs: bunch.length, token: `t${++tokenSeq}-${Date.now()}`, ...batch }, bunch },
  });
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { id: number }).id;
}

async function jobsOf(batchId: number): Promise<Record<string, unknown>[]> {
  const res = await s.api(`/api/v1alpha/batches/${batchId}/jobs`);
  return ((await res.json()) as { jobs: Record<string, unknown>[] }).jobs;
}

function containersFor(batchId: number): string[] {
  const out = execFileSync('docker', ['ps', '-aq', '--filter', `label=hail-batch.batch_id=${batchId}`], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean);
}

describe('a DAG of containers', () => {
  it('runs parents before children, cancels below a failure, runs always_run, keeps logs', async () => {
    const id = await createFast([
      job(1, ['sh', '-c', 'echo hello from $HAIL_JOB_ID; echo to-stderr >&2']),
      job(2, ['sh', '-c', 'echo failing; exit 3'], { in_update_parent_ids: [1] }),
      job(3, ['echo', 'never'], { in_update_parent_ids: [2] }),
      job(4, ['echo', 'cleanup'], { in_update_parent_ids: [2], always_run: true }),
      job(5, ['echo', 'sibling'], { in_update_parent_ids: [1], attributes: { name: 'five' } }),
    ]);
    const batch = await waitForBatch(s, id);
    expect(batch).toMatchObject({ state: 'failure', complete: true, n_jobs: 5, n_completed: 5, n_succeeded: 3, n_failed: 1, n_cancelled: 1 });
    const jobs = await jobsOf(id);
    expect(jobs.map((j) => [j.job_id, j.state, j.exit_code])).toEqual([
      [1, 'Success', 0],
      [2, 'Failed', 3],
      [3, 'Cancelled', null],
      [4, 'Success', 0],
      [5, 'Success', 0],
    ]);
    expect(jobs[4]!.name).toBe('five');

    const log = await s.api(`/api/v1alpha/batches/${id}/jobs/1/log/main`);
    expect(log.status).toBe(200);
    const text = await log.text();
    expect(text).toContain('hello from 1');
    expect(text).toContain('to-stderr');

    const detail = (await (await s.api(`/api/v1alpha/batches/${id}/jobs/2`)).json()) as Record<string, any>;
    expect(detail.state).toBe('Failed');
    expect(detail.status.container_statuses.main.container_status.exit_code).toBe(3);
    expect(detail.spec.process.image).toBe('hail-batch-busybox:latest');
    // Hail's shape: `attributes` only on a job that has some.
    expect(detail).not.toHaveProperty('attributes');
    const five = (await (await s.api(`/api/v1alpha/batches/${id}/jobs/5`)).json()) as Record<string, any>;
    expect(five.attributes).toEqual({ name: 'five' });

    const attempts = (await (await s.api(`/api/v1alpha/batches/${id}/jobs/1/attempts`)).json()) as Record<string, unknown>[];
    expect(attempts).toHaveLength(1);
    expect(attempts[0]!.attempt_id).toMatch(/^.{6}$/);
    expect(String(attempts[0]!.instance_name)).toContain('standard');
    expect(await (await s.api(`/api/v1alpha/batches/${id}/jobs/3/attempts`)).json()).toBeNull();
    expect(containersFor(id)).toEqual([]);
  });

  it('passes files through /io between input, main and output', async () => {
    // Jobs may use only their billing project's storage root.
    const storageRoot = path.join(s.config.dataDir, 'storage', s.billingProject);
    await mkdir(storageRoot, { recursive: true });
    const dir = await mkdtemp(path.join(storageRoot, 'hb-io-'));
    // The copier runs as the storage owner, so the directory it writes into must be its own.
    await chown(dir, s.config.storage.owner.uid, s.config.storage.owner.gid);
    await writeFile(path.join(dir, 'in.txt'), 'payload\n');
    const id = await createFast([
      job(1, ['sh', '-c', 'cat /io/in.txt > /io/out.txt; echo extra >> /io/out.txt'], {
        input_files: [{ from: `file://${dir}/in.txt`, to: '/io/in.txt' }],
        output_files: [{ from: '/io/out.txt', to: `file://${dir}/result.txt` }],
      }),
    ]);
    const batch = await waitForBatch(s, id);
    expect(batch.state).toBe('success');
    expect(await readFile(path.join(dir, 'result.txt'), 'utf8')).toBe('payload\nextra\n');
  });

  it('reports a missing image as an Error with a short message, without hanging', async () => {
    const id = await createFast([{ ...job(1, ['true']), process: { type: 'docker', image: 'no-such-image:1', command: ['true'] } }]);
    await waitForBatch(s, id);
    const detail = (await (await s.api(`/api/v1alpha/batches/${id}/jobs/1`)).json()) as Record<string, any>;
    expect(detail.state).toBe('Error');
    expect(detail.status.container_statuses.main.short_error).toMatch(/image (cannot be pulled|not found)/);
  });

  it('shows a running job log while it runs, and cancel kills it and leaves no container', async () => {
    const id = await createFast([
      job(1, ['sh', '-c', 'echo started; sleep 300']),
      job(2, ['echo', 'child'], { in_update_parent_ids: [1] }),
    ]);
    await waitFor('job 1 to run', async () => (await jobsOf(id))[0]!.state === 'Running');
    const live = await waitFor('live log', async () => {
      const res = await s.api(`/api/v1alpha/batches/${id}/jobs/1/log/main`);
      const text = res.status === 200 ? await res.text() : '';
      return text.includes('started') ? text : null;
    });
    expect(live).toContain('started');

    const t0 = Date.now();
    expect((await s.api(`/api/v1alpha/batches/${id}/cancel`, { method: 'PATCH' })).status).toBe(200);
    const batch = await waitForBatch(s, id, 30_000);
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(batch).toMatchObject({ state: 'cancelled', n_cancelled: 2 });
    expect((await jobsOf(id)).map((j) => j.state)).toEqual(['Cancelled', 'Cancelled']);
    expect(containersFor(id)).toEqual([]);
    // Cancelling again is harmless; a cancelled batch takes no more jobs.
    expect((await s.api(`/api/v1alpha/batches/${id}/cancel`, { method: 'PATCH' })).status).toBe(200);
    const upd = await s.api(`/api/v1alpha/batches/${id}/updates/create`, { method: 'POST', json: { token: 'late', n_jobs: 1 } });
    expect(upd.status).toBe(400);
    expect(await upd.text()).toContain('Cannot submit new jobs or job groups to a cancelled batch');
  });
});

describe('batch lifecycle', () => {
  it('a batch with zero jobs is complete and successful at once', async () => {
    const res = await s.api('/api/v1alpha/batches/create', {
      method: 'POST',
      json: { billing_project: s.billingProject, n_jobs: 0, token: `zero-${Date.now()}` },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ update_id: null, start_job_id: null });
    const batch = (await (await s.api(`/api/v1alpha/batches/${body.id}`)).json()) as Record<string, unknown>;
    expect(batch).toMatchObject({ state: 'success', complete: true, n_jobs: 0 });
  });

  it('takes a second update after the first finished, with parents in the first', async () => {
    const id = await createFast([job(1, ['echo', 'first'])]);
    await waitForBatch(s, id);
    const res = await s.api(`/api/v1alpha/batches/${id}/update-fast`, {
      method: 'POST',
      json: { update: { token: `u2-${id}`, n_jobs: 2 }, bunch: [job(1, ['echo', 'second'], { absolute_parent_ids: [1] }), job(2, ['echo', 'third'], { in_update_parent_ids: [1] })] },
    });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toMatchObject({ update_id: 2, start_job_id: 2 });
    const batch = await waitForBatch(s, id);
    expect(batch).toMatchObject({ state: 'success', n_jobs: 3, n_succeeded: 3 });
  });

  it('creates, fills and commits an update bunch by bunch, idempotently', async () => {
    const token = `multi-${Date.now()}`;
    const create = await s.api('/api/v1alpha/batches/create', { method: 'POST', json: { billing_project: s.billingProject, n_jobs: 3, token } });
    const { id, update_id } = (await create.json()) as { id: number; update_id: number };
    const again = await s.api('/api/v1alpha/batches/create', { method: 'POST', json: { billing_project: s.billingProject, n_jobs: 3, token } });
    expect(((await again.json()) as { id: number }).id).toBe(id);
    const b1 = [job(1, ['true']), job(2, ['true'], { in_update_parent_ids: [1] })];
    for (let i = 0; i < 2; i++) {
      const r = await s.api(`/api/v1alpha/batches/${id}/updates/${update_id}/jobs/create`, { method: 'POST', json: b1 });
      expect(r.status).toBe(200);
    }
    const early = await s.api(`/api/v1alpha/batches/${id}/updates/${update_id}/commit`, { method: 'PATCH' });
    expect(early.status).toBe(400);
    expect(await early.text()).toContain('wrong number of jobs: expected 3, actual 2');
    const b2 = await s.api(`/api/v1alpha/batches/${id}/updates/${update_id}/jobs/create`, { method: 'POST', json: [job(3, ['true'], { in_update_parent_ids: [2] })] });
    expect(b2.status).toBe(200);
    const commit = await s.api(`/api/v1alpha/batches/${id}/updates/${update_id}/commit`, { method: 'PATCH' });
    expect(commit.status).toBe(200);
    expect(await commit.json()).toMatchObject({ start_job_id: 1 });
    expect(await waitForBatch(s, id)).toMatchObject({ state: 'success', n_succeeded: 3 });
  });

  it('delete cancels and hides the batch', async () => {
    const id = await createFast([job(1, ['sleep', '300'])]);
    await waitFor('job to run', async () => (await jobsOf(id))[0]!.state === 'Running');
    expect((await s.api(`/api/v1alpha/batches/${id}`, { method: 'DELETE' })).status).toBe(200);
    expect((await s.api(`/api/v1alpha/batches/${id}`)).status).toBe(404);
    await waitFor('container gone', async () => containersFor(id).length === 0, 90_000);
  });
});
