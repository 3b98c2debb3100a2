/**
 * Billing limits: a project whose accrued cost reaches its limit gets no new batches or updates
 * (403), and the driver's enforcer cancels its running batches, killing their jobs; batches of
 * other projects run on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { job, startTestService, waitFor, type TestService } from '../support/service';
import { billingProjects } from '../../db/schema';
import { listAttempts } from '../../db/queries/attempts';

let s: TestService;

beforeAll(async () => {
  s = await startTestService({ name: 'e2e_billing_limits', executor: 'process', pools: 'standard:1', coresPerAgent: 8 });
  await s.addUser('alice', { projects: ['capped', 'zero'] });
});
afterAll(async () => {
  await s?.stop();
});

async function setLimit(project: string, limit: number | null): Promise<void> {
  await s.database.db.update(billingProjects).set({ limit }).where(eq(billingProjects.name, project));
}

let seq = 0;
function createFast(project: string, bunch: unknown[]): Promise<Response> {
  return s.api('/api/v1alpha/batches/create-fast', {
    method: 'POST',
    json: { batch: { billing_project: project, n_jobs: bunch.length, token: `lim${++seq}-${Date.now()}` }, bunch },
  });
}

async function created(res: Response): Promise<number> {
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { id: number }).id;
}

type Batch = { id: number; state: string; complete: boolean; cost: number; n_cancelled: number };
const batch = async (id: number) => (await (await s.api(`/api/v1alpha/batches/${id}`)).json()) as Batch;

async function expectOverLimit(res: Response): Promise<void> {
  expect(res.status).toBe(403);
  const body = (await res.json()) as { error: { code: string; message: string; field: string } };
  expect(body.error).toMatchObject({ code: 'forbidden', field: 'billing_project' });
  expect(body.error.message).toMatch(/exceeded its budget/);
}

describe('billing limits', () => {
  it('refuses new batches in a project already at its limit', async () => {
    await setLimit('zero', 0);
    await expectOverLimit(await createFast('zero', [job(1, ['true'])]));
    await expectOverLimit(
      await s.api('/api/v1alpha/batches/create', { method: 'POST', json: { billing_project: 'zero', n_jobs: 0, token: `z-${Date.now()}` } }),
    );
  });

  it('cancels the running batches of a project over its limit, and refuses it new work', async () => {
    // An empty batch made before the limit, to try an update on afterwards.
    const emptyRes = await s.api('/api/v1alpha/batches/create', {
      method: 'POST',
      json: { billing_project: 'capped', n_jobs: 0, token: `empty-${Date.now()}` },
    });
    const empty = await created(emptyRes);
    const capped = await created(await createFast('capped', [1, 2].map((i) => job(i, ['sh', '-c', 'sleep 120'], { resources: { cpu: '1', memory: 'standard' } }))));
    const other = await created(await createFast('test', [job(1, ['sh', '-c', 'sleep 120'])]));
    await waitFor('both batches to cost something', async () => (await batch(capped)).cost > 0 && (await batch(other)).cost > 0, 30_000, 200);

    await setLimit('capped', 1e-7);
    const done = await waitFor('the capped batch to be cancelled', async () => {
      const b = await batch(capped);
      return b.complete ? b : null;
    }, 45_000, 250);
    expect(done).toMatchObject({ state: 'cancelled', n_cancelled: 2 });
    // The jobs were really stopped: their attempts ended and no running job is left.
    for (const jobId of [1, 2]) {
      const attempts = await listAttempts(s.database.db, capped, jobId);
      expect(attempts.every((a) => a.endTime !== null)).toBe(true);
    }
    expect((await batch(other)).state).toBe('running');

    await expectOverLimit(await createFast('capped', [job(1, ['true'])]));
    await expectOverLimit(
      await s.api(`/api/v1alpha/batches/${empty}/updates/create`, { method: 'POST', json: { token: `u-${Date.now()}`, n_jobs: 1 } }),
    );
    await expectOverLimit(
      await s.api(`/api/v1alpha/batches/${empty}/update-fast`, {
        method: 'POST',
        json: { update: { token: `uf-${Date.now()}`, n_jobs: 1 }, bunch: [job(1, ['true'])] },
      }),
    );

    // Raising the limit lets the project work again.
    await setLimit('capped', 1000);
    await created(await createFast('capped', [job(1, ['true'])]));

    expect((await s.api(`/api/v1alpha/batches/${other}/cancel`, { method: 'PATCH' })).status).toBe(200);
    await waitFor('the other batch to be cancelled', async () => (await batch(other)).complete, 30_000, 250);
  });
});
