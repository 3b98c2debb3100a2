/**
 * Bad input gets a 4xx naming the problem and leaves nothing behind; listings page and filter
 * as Hail's do. Jobs here run on the process executor: these tests are about the API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { job, startTestService, waitForBatch, type TestService } from '../support/service';
import { batches } from '../../db/schema';
import { count } from 'drizzle-orm';
import { reasonPhrase } from '../../api/errors';

let s: TestService;
beforeAll(async () => {
  s = await startTestService({ name: 'e2e_input', executor: 'process', pools: 'standard:1' });
});
afterAll(async () => {
  await s?.stop();
});

const pjob = (id: number, command: string[], extra: Record<string, unknown> = {}) => job(id, command, extra);

async function batchCount(): Promise<number> {
  const [row] = await s.database.db.select({ n: count() }).from(batches);
  return row!.n;
}

async function expectError(res: Response, status: number, pattern: RegExp, field?: string) {
  expect(res.status).toBe(status);
  const body = (await res.json()) as { error: { code: string; message: string; field?: string } };
  expect(body.error.message).toMatch(pattern);
  if (field) expect(body.error.field).toBe(field);
  // As Hail's services do, the text is the reason phrase too (hailtop shows it as `message=`).
  expect(res.statusText).toBe(reasonPhrase(body.error.message));
}

const fast = (bunch: unknown[], batch: Record<string, unknown> = {}) =>
  s.api('/api/v1alpha/batches/create-fast', {
    method: 'POST',
    json: { batch: { billing_project: s.billingProject, n_jobs: bunch.length, token: `tok-${Math.random()}`, ...batch }, bunch },
  });

describe('authentication', () => {
  it('is 401 without a token or with a wrong one, on every API route', async () => {
    await expectError(await s.api('/api/v1alpha/batches', { token: null }), 401, /missing bearer token/);
    await expectError(await s.api('/api/v1alpha/batches', { token: 'nope' }), 401, /invalid/);
    await expectError(await s.api('/api/v1alpha/batches/1/jobs', { token: null }), 401, /missing/);
    await expectError(await s.api('/api/v1alpha/instances/heartbeat', { method: 'POST', json: {}, token: null }), 401, /X-Hail-Instance/);
  });

  it('hides batches from users outside their billing project', async () => {
    const res = await fast([pjob(1, ['true'])]);
    const { id } = (await res.json()) as { id: number };
    const bob = await s.addUser('bob', { projects: ['other'] });
    await expectError(await s.api(`/api/v1alpha/batches/${id}`, { token: bob }), 404, /not found/);
    await expectError(await s.api(`/api/v1alpha/batches/${id}/jobs/1`, { token: bob }), 404, /not found/);
    await expectError(await fast([], { billing_project: 'nonexistent' }), 403, /unknown billing project/, 'billing_project');
    await waitForBatch(s, id);
  });
});

describe('error texts', () => {
  it("travel in the reason phrase as Hail's do, quotes intact and control bytes replaced", async () => {
    const res = await s.api('/api/v1alpha/batches/create-fast', {
      method: 'POST',
      json: {
        batch: { billing_project: s.billingProject, n_jobs: 0, n_job_groups: 1, token: 'tok-attrs' },
        bunch: [],
        job_groups: [{ job_group_id: 1, in_update_parent_id: 0, attributes: { foo: 1 } }],
      },
    });
    expect(res.status).toBe(400);
    expect(res.statusText).toMatch(/foo.* is not <class 'str'>/);
    expect(reasonPhrase('a\r\nb\u00e9c')).toBe('a b c');
    expect(reasonPhrase('\n')).toBe('error');
    expect(reasonPhrase('x'.repeat(2000))).toHaveLength(512);
  });
});

describe('bad specs are refused whole', () => {
  it.each([
    ['an unknown batch key', { batch: { billing_project: 'test', n_jobs: 0, token: 'a', colour: 'red' }, bunch: [] }, /colour/],
    ['a missing token', { batch: { billing_project: 'test', n_jobs: 0 }, bunch: [] }, /token/],
    ['an unknown job key', null, /frobnicate/, [{ ...pjob(1, ['true']), frobnicate: 1 }]],
    ['a malformed cpu', null, /cpu/, [{ ...pjob(1, ['true']), resources: { cpu: 'lots' } }]],
    ['a cpu that is not a power of two quarter', null, /cpu/, [{ ...pjob(1, ['true']), resources: { cpu: '0.3' } }]],
    ['a malformed memory', null, /memory/, [{ ...pjob(1, ['true']), resources: { memory: '7Gx' } }]],
    ['a malformed storage', null, /storage/, [{ ...pjob(1, ['true']), resources: { storage: 'big' } }]],
    ['an unsatisfiable request', null, /unsatisfiable/, [{ ...pjob(1, ['true']), resources: { cpu: '64', memory: 'standard' } }]],
    ['a parent that comes later', null, /parent/, [pjob(1, ['true'], { in_update_parent_ids: [2] }), pjob(2, ['true'])]],
    ['a duplicate parent', null, /duplicate/i, [pjob(1, ['true']), pjob(2, ['true'], { in_update_parent_ids: [1, 1] })]],
    ['non-contiguous job ids', null, /job_id/, [pjob(1, ['true']), pjob(3, ['true'])]],
  ])('%s', async (_what, body, pattern, bunch?: unknown[]) => {
    const before = await batchCount();
    const res = body
      ? await s.api('/api/v1alpha/batches/create-fast', { method: 'POST', json: body })
      : await fast(bunch!);
    await expectError(res, 400, pattern);
    expect(await batchCount()).toBe(before);
  });

  it('names the field that is wrong', async () => {
    const res = await fast([pjob(1, ['true']), { ...pjob(2, ['true']), resources: { memory: '7Gx' } }]);
    const body = (await res.json()) as { error: { field: string; message: string } };
    expect(res.status).toBe(400);
    expect(body.error.field).toBe('bunch[1].resources.memory');
    expect(body.error.message).toContain('7Gx');
  });

  it('refuses a body that is not JSON, and one over the size limit', async () => {
    const bad = await s.api('/api/v1alpha/batches/create', { method: 'POST', body: '{not json', headers: { 'content-type': 'application/json' } });
    await expectError(bad, 400, /not valid JSON/);
    const big = 'x'.repeat(9 * 1024 * 1024);
    const res = await s.api('/api/v1alpha/batches/create', { method: 'POST', body: JSON.stringify({ pad: big }), headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(413);
  });

  it('refuses job ids outside the update and a commit with the wrong count', async () => {
    const res = await s.api('/api/v1alpha/batches/create', { method: 'POST', json: { billing_project: 'test', n_jobs: 2, token: `w-${Math.random()}` } });
    const { id, update_id } = (await res.json()) as { id: number; update_id: number };
    await expectError(
      await s.api(`/api/v1alpha/batches/${id}/updates/${update_id}/jobs/create`, { method: 'POST', json: [pjob(3, ['true'])] }),
      400,
      /job_id/,
    );
    await expectError(await s.api(`/api/v1alpha/batches/${id}/updates/${update_id}/commit`, { method: 'PATCH' }), 400, /wrong number of jobs: expected 2, actual 0/);
    await expectError(await s.api(`/api/v1alpha/batches/${id}/updates/9/commit`, { method: 'PATCH' }), 404, /update 9/);
    await expectError(await s.api(`/api/v1alpha/batches/abc`), 400, /batch_id/);
    expect((await s.api('/healthz')).status).toBe(200);
  });
});

describe('listings', () => {
  it('pages batches newest first, 50 at a time, and filters with v1 and v2 queries', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 55; i++) {
      const res = await s.api('/api/v1alpha/batches/create', {
        method: 'POST',
        json: { billing_project: 'test', n_jobs: 0, token: `page-${i}-${Math.random()}`, attributes: { group: i % 2 ? 'odd' : 'even', idx: String(i) } },
      });
      ids.push(((await res.json()) as { id: number }).id);
    }
    const p1 = (await (await s.api('/api/v1alpha/batches?q=has:group')).json()) as { batches: { id: number }[]; last_batch_id?: number };
    expect(p1.batches).toHaveLength(50);
    expect(p1.batches[0]!.id).toBe(ids[54]);
    expect(p1.last_batch_id).toBe(p1.batches[49]!.id);
    const p2 = (await (await s.api(`/api/v1alpha/batches?q=has:group&last_batch_id=${p1.last_batch_id}`)).json()) as { batches: { id: number }[]; last_batch_id?: number };
    expect(p2.batches.map((b) => b.id)).toEqual(ids.slice(0, 5).reverse());
    expect(p2.last_batch_id).toBeUndefined();

    const odd = (await (await s.api('/api/v1alpha/batches?q=' + encodeURIComponent('group=odd idx=7'))).json()) as { batches: { id: number }[] };
    expect(odd.batches.map((b) => b.id)).toEqual([ids[7]]);
    const notEven = (await (await s.api('/api/v1alpha/batches?q=' + encodeURIComponent('has:group !group=even'))).json()) as { batches: unknown[] };
    expect(notEven.batches).toHaveLength(27);
    const v2 = (await (await s.api('/api/v2alpha/batches?q=' + encodeURIComponent('idx = 3\nuser = alice'))).json()) as { batches: { id: number }[] };
    expect(v2.batches.map((b) => b.id)).toEqual([ids[3]]);
    // v2 `!=` on an attribute holds only for batches that have it, as Hail: not for one without.
    const bare = await s.api('/api/v1alpha/batches/create', { method: 'POST', json: { billing_project: 'test', n_jobs: 0, token: `bare-${Math.random()}` } });
    const bareId = ((await bare.json()) as { id: number }).id;
    const v2Not = (await (await s.api('/api/v2alpha/batches?q=' + encodeURIComponent('group != even'))).json()) as { batches: { id: number }[] };
    expect(v2Not.batches.map((b) => b.id)).not.toContain(bareId);
    expect(v2Not.batches.map((b) => b.id).sort((a, b) => a - b)).toEqual(ids.filter((_, i) => i % 2 === 1));
    await expectError(await s.api('/api/v1alpha/batches?q=' + encodeURIComponent('bogusword')), 400, /bogusword/);
  });

  it('pages and filters jobs', async () => {
    const bunch = Array.from({ length: 60 }, (_, i) => pjob(i + 1, i % 10 === 0 ? ['false'] : ['true'], { attributes: { name: `j${i + 1}` } }));
    const res = await fast(bunch);
    const { id } = (await res.json()) as { id: number };
    await waitForBatch(s, id);
    const p1 = (await (await s.api(`/api/v1alpha/batches/${id}/jobs`)).json()) as { jobs: { job_id: number }[]; last_job_id?: number };
    expect(p1.jobs).toHaveLength(50);
    expect(p1.last_job_id).toBe(50);
    const p2 = (await (await s.api(`/api/v1alpha/batches/${id}/jobs?last_job_id=50`)).json()) as { jobs: { job_id: number }[] };
    expect(p2.jobs.map((j) => j.job_id)).toEqual([51, 52, 53, 54, 55, 56, 57, 58, 59, 60]);
    const failed = (await (await s.api(`/api/v1alpha/batches/${id}/jobs?q=failed`)).json()) as { jobs: { job_id: number; exit_code: number }[] };
    expect(failed.jobs.map((j) => j.job_id)).toEqual([1, 11, 21, 31, 41, 51]);
    expect(failed.jobs.every((j) => j.exit_code === 1)).toBe(true);
    const one = (await (await s.api(`/api/v1alpha/batches/${id}/jobs?q=job_id%3D7`)).json()) as { jobs: { job_id: number }[] };
    expect(one.jobs.map((j) => j.job_id)).toEqual([7]);
    const named = (await (await s.api(`/api/v1alpha/batches/${id}/jobs?q=name%3Dj12`)).json()) as { jobs: { job_id: number }[] };
    expect(named.jobs.map((j) => j.job_id)).toEqual([12]);
  });
});
