/**
 * Billing projects through the API as Hail runs them: create, members, limits, close (refused
 * while batches are open or running), reopen, delete, and what membership means for seeing
 * batches. Users and tokens are made through the admin routes, so those are exercised too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { job, startTestService, waitFor, type TestService } from '../support/service';

let s: TestService;
let admin: string;
let erin: string;
const v1 = '/api/v1alpha';

beforeAll(async () => {
  s = await startTestService({ name: 'e2e_bp', executor: 'process', pools: 'standard:1' });
  admin = await s.addUser('root', { admin: true });
});
afterAll(async () => {
  await s?.stop();
});

type ErrorBody = { error: { code: string; message: string; field?: string } };
type Project = { billing_project: string; status: string; users: string[]; limit: number | null; accrued_cost: number };

async function as(token: string, method: string, path: string, json?: unknown): Promise<Response> {
  return s.api(`${v1}/${path}`, { method, token, json });
}

async function ok<T>(res: Response): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return (text === '' ? null : JSON.parse(text)) as T;
}

async function refused(res: Response, status: number, pattern: RegExp, field?: string): Promise<void> {
  const body = (await res.json()) as ErrorBody;
  expect(res.status, JSON.stringify(body)).toBe(status);
  expect(body.error.message).toMatch(pattern);
  if (field) expect(body.error.field).toBe(field);
}

/** A user made through the admin API, with a token from it. */
async function newUser(name: string): Promise<string> {
  await ok(await as(admin, 'POST', 'users', { username: name }));
  return (await ok<{ token: string }>(await as(admin, 'POST', `users/${name}/tokens`))).token;
}

async function submit(token: string, project: string, command: string[]): Promise<number> {
  const res = await as(token, 'POST', 'batches/create-fast', {
    batch: { billing_project: project, n_jobs: 1, token: `t-${Math.random()}` },
    bunch: [job(1, command)],
  });
  return (await ok<{ id: number }>(res)).id;
}

/** Waits for a batch to complete, seen through the given user's token. */
async function completed(token: string, id: number): Promise<void> {
  await waitFor(`batch ${id} to complete`, async () => {
    const b = await ok<{ complete: boolean }>(await as(token, 'GET', `batches/${id}`));
    return b.complete;
  });
}

async function listedIds(token: string): Promise<number[]> {
  const body = await ok<{ batches: { id: number }[] }>(await as(token, 'GET', 'batches?q='));
  return body.batches.map((b) => b.id);
}

describe('users and tokens', () => {
  it('creates users idempotently, refuses a changed admin flag and bad names, lists them', async () => {
    expect(await ok(await as(admin, 'POST', 'users', { username: 'gina' }))).toEqual({ username: 'gina', is_admin: false, created: true });
    expect(await ok(await as(admin, 'POST', 'users', { username: 'gina' }))).toEqual({ username: 'gina', is_admin: false, created: false });
    await refused(await as(admin, 'POST', 'users', { username: 'gina', is_admin: true }), 409, /already exists/, 'username');
    await refused(await as(admin, 'POST', 'users', { username: 'Not Valid' }), 400, /not a valid username/, 'username');
    await refused(await as(admin, 'POST', 'users', { username: 'hal', is_admin: 'yes' }), 400, /true or false/, 'is_admin');
    await refused(await as(admin, 'POST', 'users/nobody/tokens'), 404, /nobody does not exist/, 'user');
    const users = await ok<{ username: string; is_admin: boolean; n_tokens: number }[]>(await as(admin, 'GET', 'users'));
    expect(users.find((u) => u.username === 'gina')).toMatchObject({ is_admin: false, n_tokens: 0 });
    expect(users.find((u) => u.username === 'root')).toMatchObject({ is_admin: true, n_tokens: 1 });
  });

  it('issues tokens that work at once, reports the caller, and revokes them all', async () => {
    const t1 = (await ok<{ token: string }>(await as(admin, 'POST', 'users/gina/tokens'))).token;
    const t2 = (await ok<{ token: string }>(await as(admin, 'POST', 'users/gina/tokens'))).token;
    expect(t1).not.toBe(t2);
    expect(await ok(await as(t1, 'GET', 'userinfo'))).toMatchObject({ username: 'gina', is_developer: 0, is_admin: false, state: 'active' });
    expect(await ok(await as(admin, 'GET', 'userinfo'))).toMatchObject({ username: 'root', is_developer: 1, is_admin: true });
    expect(await ok(await as(admin, 'DELETE', 'users/gina/tokens'))).toEqual({ username: 'gina', revoked: 2 });
    await refused(await as(t1, 'GET', 'userinfo'), 401, /invalid/);
    await refused(await as(t2, 'GET', 'userinfo'), 401, /invalid/);
    expect(await ok(await as(admin, 'DELETE', 'users/gina/tokens'))).toEqual({ username: 'gina', revoked: 0 });
  });
});

describe('billing project lifecycle', () => {
  it('creates, names bad input, and shows a project only to its members and admins', async () => {
    expect(await ok(await as(admin, 'POST', 'billing_projects/lab/create'))).toBe('lab');
    expect(await ok(await as(admin, 'POST', 'billing_projects/lab/create'))).toBe('lab');
    await refused(await as(admin, 'POST', 'billing_projects/-bad/create'), 400, /not a valid billing project name/, 'billing_project');
    expect(await ok<Project>(await as(admin, 'GET', 'billing_projects/lab'))).toEqual({
      billing_project: 'lab',
      status: 'open',
      users: [],
      limit: null,
      accrued_cost: 0,
    });

    erin = await newUser('erin');
    expect(await ok<Project[]>(await as(erin, 'GET', 'billing_projects'))).toEqual([]);
    await refused(await as(erin, 'GET', 'billing_projects/lab'), 403, /unknown billing project lab/, 'billing_project');
    await refused(await as(admin, 'GET', 'billing_projects/nowhere'), 403, /unknown billing project nowhere/);

    await refused(await as(admin, 'POST', 'billing_projects/lab/users/ghost/add'), 404, /user ghost does not exist/, 'user');
    await refused(await as(admin, 'POST', 'billing_projects/nowhere/users/erin/add'), 403, /unknown billing project/, 'billing_project');
    expect(await ok(await as(admin, 'POST', 'billing_projects/lab/users/erin/add'))).toEqual({ billing_project: 'lab', user: 'erin' });
    expect(await ok(await as(admin, 'POST', 'billing_projects/lab/users/erin/add'))).toEqual({ billing_project: 'lab', user: 'erin' });
    const mine = await ok<Project[]>(await as(erin, 'GET', 'billing_projects'));
    expect(mine.map((p) => [p.billing_project, p.users])).toEqual([['lab', ['erin']]]);
    expect((await ok<Project>(await as(erin, 'GET', 'billing_projects/lab'))).users).toEqual(['erin']);
    // Admins see every project, their own membership or not.
    const all = await ok<Project[]>(await as(admin, 'GET', 'billing_projects'));
    expect(all.map((p) => p.billing_project)).toEqual(expect.arrayContaining(['lab', 'test']));
  });

  it('edits the limit: a non-negative number or null, anything else a 400 naming limit', async () => {
    await refused(await as(admin, 'POST', 'billing_limits/lab/edit', { limit: -1 }), 400, /non-negative/, 'limit');
    await refused(await as(admin, 'POST', 'billing_limits/lab/edit', { limit: 'ten' }), 400, /non-negative/, 'limit');
    await refused(await as(admin, 'POST', 'billing_limits/lab/edit', {}), 400, /required/, 'limit');
    await refused(await as(admin, 'POST', 'billing_limits/lab/edit'), 400, /JSON/, 'limit');
    await refused(await as(admin, 'POST', 'billing_limits/nowhere/edit', { limit: 1 }), 403, /unknown billing project/);
    expect(await ok(await as(admin, 'POST', 'billing_limits/lab/edit', { limit: 12.5 }))).toEqual({ billing_project: 'lab', limit: 12.5 });
    expect((await ok<Project>(await as(admin, 'GET', 'billing_projects/lab'))).limit).toBe(12.5);
    expect(await ok(await as(admin, 'POST', 'billing_limits/lab/edit', { limit: null }))).toEqual({ billing_project: 'lab', limit: null });
    expect((await ok<Project>(await as(admin, 'GET', 'billing_projects/lab'))).limit).toBeNull();
  });

  it('will not close while a batch is open or running; closes, reopens and deletes as Hail', async () => {
    // A batch whose update was never committed is open: it blocks closing until deleted.
    const created = await ok<{ id: number }>(
      await as(erin, 'POST', 'batches/create', { billing_project: 'lab', n_jobs: 1, token: `open-${Math.random()}` }),
    );
    await refused(await as(admin, 'POST', 'billing_projects/lab/close'), 403, /cannot close billing project lab: it has open or running batches/, 'billing_project');
    await ok(await as(erin, 'DELETE', `batches/${created.id}`));

    // A running batch blocks it until it completes.
    const running = await submit(erin, 'lab', ['sleep', '60']);
    await waitFor('the job to start', async () => {
      const j = await ok<{ state: string }>(await as(erin, 'GET', `batches/${running}/jobs/1`));
      return j.state === 'Running';
    });
    await refused(await as(admin, 'POST', 'billing_projects/lab/close'), 403, /open or running batches/);
    await ok(await as(erin, 'PATCH', `batches/${running}/cancel`));
    await completed(erin, running);
    const cost = (await ok<Project>(await as(erin, 'GET', 'billing_projects/lab'))).accrued_cost;
    expect(cost).toBeGreaterThanOrEqual(0);

    expect(await ok(await as(admin, 'POST', 'billing_projects/lab/close'))).toBe('lab');
    expect(await ok(await as(admin, 'POST', 'billing_projects/lab/close'))).toBe('lab');
    expect((await ok<Project>(await as(erin, 'GET', 'billing_projects/lab'))).status).toBe('closed');
    await refused(
      await as(erin, 'POST', 'batches/create', { billing_project: 'lab', n_jobs: 0, token: `closed-${Math.random()}` }),
      403,
      /closed/,
      'billing_project',
    );
    await refused(await as(admin, 'POST', 'billing_projects/lab/users/gina/add'), 403, /closed/, 'billing_project');
    await refused(await as(admin, 'POST', 'billing_projects/lab/users/erin/remove'), 403, /closed/, 'billing_project');

    expect(await ok(await as(admin, 'POST', 'billing_projects/lab/reopen'))).toBe('lab');
    expect(await ok(await as(admin, 'POST', 'billing_projects/lab/reopen'))).toBe('lab');
    await refused(await as(admin, 'POST', 'billing_projects/lab/delete'), 403, /open and cannot be deleted; close it first/);
    await ok(await as(admin, 'POST', 'billing_projects/lab/close'));
    expect(await ok(await as(admin, 'POST', 'billing_projects/lab/delete'))).toBe('lab');
    expect(await ok(await as(admin, 'POST', 'billing_projects/lab/delete'))).toBe('lab');
    expect((await ok<Project>(await as(admin, 'GET', 'billing_projects/lab'))).status).toBe('deleted');
    await refused(await as(admin, 'POST', 'billing_projects/lab/reopen'), 403, /deleted and cannot be reopened/);
    await refused(await as(admin, 'POST', 'billing_projects/lab/close'), 403, /deleted/);
    await refused(await as(admin, 'POST', 'billing_limits/lab/edit', { limit: 1 }), 403, /deleted/);
    await refused(
      await as(erin, 'POST', 'batches/create', { billing_project: 'lab', n_jobs: 0, token: `deleted-${Math.random()}` }),
      403,
      /unknown billing project/,
    );
    // Creating a deleted project again changes nothing, as Hail.
    await ok(await as(admin, 'POST', 'billing_projects/lab/create'));
    expect((await ok<Project>(await as(admin, 'GET', 'billing_projects/lab'))).status).toBe('deleted');
  });
});

describe('membership decides who sees a batch', () => {
  it('hides a project’s batches from a removed member, creator included, and shows them again on re-adding', async () => {
    await ok(await as(admin, 'POST', 'billing_projects/lab2/create'));
    const ivy = await newUser('ivy');
    const jack = await newUser('jack');
    await ok(await as(admin, 'POST', 'billing_projects/lab2/users/ivy/add'));
    await ok(await as(admin, 'POST', 'billing_projects/lab2/users/jack/add'));

    const id = await submit(ivy, 'lab2', ['true']);
    await completed(ivy, id);
    await ok(await as(jack, 'GET', `batches/${id}`));
    await ok(await as(jack, 'GET', `batches/${id}/jobs/1`));
    expect(await listedIds(jack)).toContain(id);

    expect(await ok(await as(admin, 'POST', 'billing_projects/lab2/users/jack/remove'))).toEqual({ billing_project: 'lab2', user: 'jack' });
    // Removing a non-member again changes nothing and succeeds, so retries are safe.
    await ok(await as(admin, 'POST', 'billing_projects/lab2/users/jack/remove'));
    await refused(await as(jack, 'GET', `batches/${id}`), 404, /not found/);
    await refused(await as(jack, 'GET', `batches/${id}/jobs/1/log/main`), 404, /not found/);
    expect(await listedIds(jack)).not.toContain(id);
    await refused(await as(jack, 'GET', 'billing_projects/lab2'), 403, /unknown billing project/);

    await ok(await as(admin, 'POST', 'billing_projects/lab2/users/ivy/remove'));
    await refused(await as(ivy, 'GET', `batches/${id}`), 404, /not found/);
    expect(await listedIds(ivy)).not.toContain(id);
    await refused(
      await as(ivy, 'POST', 'batches/create', { billing_project: 'lab2', n_jobs: 0, token: `gone-${Math.random()}` }),
      403,
      /unknown billing project/,
    );

    await ok(await as(admin, 'POST', 'billing_projects/lab2/users/ivy/add'));
    expect((await ok<{ id: number }>(await as(ivy, 'GET', `batches/${id}`))).id).toBe(id);
    expect(await listedIds(ivy)).toContain(id);
    expect((await ok<Project>(await as(ivy, 'GET', 'billing_projects/lab2'))).users).toEqual(['ivy']);
  });
});
