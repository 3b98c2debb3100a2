/**
 * Every UI page through app.request() on a real database and Temporal client: the sign-in
 * redirect, sessions and sign-out, access (another project's batch is 404, as in the API),
 * CSRF refusals, query errors shown on the page, and the admin pool form's validation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app';
import { createWorkflowGateway } from '../../api/workflow-gateway';
import type { Database } from '../../db/client';
import { createLogger } from '../../cli/logger';
import { LocalDirObjectStore } from '../../storage/object-store';
import { definePools } from '../../domain/pools';
import { getPool } from '../../db/queries/pools';
import { addProjectMember, addToken, ensureBillingProject, ensureUser } from '../../db/queries/users';
import { revokeTokens } from '../../db/queries/accounts';
import { ensureCluster, recordNode } from '../../db/queries/clusters';
import { loadRateCard } from '../../db/queries/resources';
import { nodeResources, nodesCost } from '../../domain/clusters/costs';
import { job, startTestService, waitFor, type TestService } from '../support/service';

let svc: TestService;
let database: Database;
let app: ReturnType<typeof createApp>;
const tok = { alice: 'tok-ui-alice', bob: 'tok-ui-bob', ops: 'tok-ui-ops', carol: 'tok-ui-carol' };
let aliceBatch: number;
let bobBatch: number;

type Session = { cookie: string; csrf: string };

const req = (p: string, init: RequestInit & { cookie?: string } = {}) => {
  const headers = new Headers(init.headers);
  if (init.cookie) headers.set('cookie', init.cookie);
  return app.request(p, { ...init, headers });
};

const form = (fields: Record<string, string>) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields).toString(),
});

function cookiesOf(res: Response): string[] {
  return res.headers.getSetCookie();
}

const csrfIn = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';

async function signIn(token: string, next = '/batches'): Promise<Session> {
  const page = await req(`/login?next=${encodeURIComponent(next)}`);
  const loginCookie = cookiesOf(page)[0]!.split(';')[0]!;
  const res = await req('/login', { ...form({ token, next, _csrf: csrfIn(await page.text()) }), cookie: loginCookie });
  expect(res.status).toBe(302);
  const session = cookiesOf(res).find((c) => c.startsWith('hb_session='))!;
  const cookie = session.split(';')[0]!;
  const csrf = csrfIn(await (await req('/batches', { cookie })).text());
  expect(csrf).not.toBe('');
  return { cookie, csrf };
}

async function api(token: string, p: string, body?: unknown): Promise<Response> {
  return app.request(p, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function createBatch(token: string, project: string, name: string, nJobs: number): Promise<number> {
  const res = await api(token, '/api/v1alpha/batches/create-fast', {
    batch: { billing_project: project, n_jobs: nJobs, token: `${name}-${Date.now()}`, attributes: { name } },
    bunch: Array.from({ length: nJobs }, (_, i) =>
      job(i + 1, ['sh', '-c', `echo hello ${i + 1}; sleep 60`], { attributes: { name: `step-${i + 1}` }, env: [{ name: 'GREETING', value: 'hi' }, { name: 'API_TOKEN', value: 'sekrit' }] }),
    ),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { id: number }).id;
}

beforeAll(async () => {
  // Submission needs the driver's workflows, so the whole service runs; pages go through app.request().
  svc = await startTestService({ name: 'ui-routes', pools: 'standard:1' });
  database = svc.database;
  const db = database.db;
  for (const [user, project] of [['alice', 'test'], ['bob', 'other'], ['carol', 'test']] as const) {
    await ensureUser(db, user);
    await addToken(db, user, tok[user]);
    await ensureBillingProject(db, project);
    await addProjectMember(db, project, user);
  }
  await ensureUser(db, 'ops', true);
  await addToken(db, 'ops', tok.ops);
  const config = svc.config;
  app = createApp({
    db,
    config,
    log: createLogger('error', { test: 'ui-routes' }),
    objects: new LocalDirObjectStore(config.objectStoreDir),
    pools: definePools(config.localPool.coresPerAgent),
    workflows: createWorkflowGateway(svc.client, { taskQueue: config.temporal.taskQueue, batchWindow: config.driver.batchWindow, batchPartitions: config.driver.batchPartitions }),
  });
  aliceBatch = await createBatch(tok.alice, 'test', 'alice-batch', 3);
  bobBatch = await createBatch(tok.bob, 'other', 'bob-batch', 1);
});

afterAll(async () => {
  await svc?.stop();
});

describe('sign-in', () => {
  it('redirects every page to /login with next, as Hail (test_authorized_users_only)', async () => {
    for (const p of ['/batches', `/batches/${aliceBatch}`, `/batches/${aliceBatch}/jobs/1`, '/billing', '/clusters', '/admin/pools', '/admin/instances', '/admin/users']) {
      const res = await req(p);
      expect(res.status, p).toBe(302);
      expect(res.headers.get('location')).toBe(`/login?next=${encodeURIComponent(p)}`);
    }
    const root = await req('/');
    expect(root.headers.get('location')).toBe('/batches');
    // The API keeps its own envelope and headers.
    const apiRes = await app.request('/api/v1alpha/batches');
    expect(apiRes.status).toBe(401);
    expect(((await apiRes.json()) as { error: { code: string } }).error.code).toBe('unauthenticated');
    expect(apiRes.headers.get('content-security-policy')).toBeNull();
  });

  it('sets an HttpOnly SameSite=Lax session cookie and returns to a local next only', async () => {
    const page = await req('/login?next=%2Fbilling');
    const loginCookie = cookiesOf(page)[0]!.split(';')[0]!;
    const csrf = csrfIn(await page.text());
    const ok = await req('/login', { ...form({ token: tok.alice, next: '/billing', _csrf: csrf }), cookie: loginCookie });
    expect(ok.status).toBe(302);
    expect(ok.headers.get('location')).toBe('/billing');
    const set = cookiesOf(ok).find((c) => c.startsWith('hb_session='))!;
    expect(set).toMatch(/HttpOnly/i);
    expect(set).toMatch(/SameSite=Lax/i);
    for (const evil of ['//evil.example/x', 'https://evil.example/', '/\\evil.example', 'javascript:alert(1)']) {
      const res = await req('/login', { ...form({ token: tok.alice, next: evil, _csrf: csrf }), cookie: loginCookie });
      expect(res.headers.get('location'), evil).toBe('/batches');
    }
  });

  it('refuses a wrong token and a sign-in form without its CSRF cookie', async () => {
    const page = await req('/login');
    const loginCookie = cookiesOf(page)[0]!.split(';')[0]!;
    const csrf = csrfIn(await page.text());
    const bad = await req('/login', { ...form({ token: 'nope', _csrf: csrf }), cookie: loginCookie });
    expect(bad.status).toBe(401);
    expect(await bad.text()).toContain('unknown or revoked API token');
    const forged = await req('/login', form({ token: tok.alice, _csrf: csrf }));
    expect(forged.status).toBe(403);
    expect(cookiesOf(forged).some((c) => c.startsWith('hb_session='))).toBe(false);
  });

  it('signs out, and revoking the token ends the session', async () => {
    const s = await signIn(tok.alice);
    const noCsrf = await req('/logout', { ...form({}), cookie: s.cookie });
    expect(noCsrf.status).toBe(403);
    const out = await req('/logout', { ...form({ _csrf: s.csrf }), cookie: s.cookie });
    expect(out.status).toBe(302);
    expect((await req('/batches', { cookie: s.cookie })).status).toBe(302);

    const c = await signIn(tok.carol);
    expect((await req('/batches', { cookie: c.cookie })).status).toBe(200);
    await revokeTokens(database.db, 'carol');
    expect((await req('/batches', { cookie: c.cookie })).status).toBe(302);
  });
});

describe('pages', () => {
  let alice: Session;
  let ops: Session;
  beforeAll(async () => {
    alice = await signIn(tok.alice);
    ops = await signIn(tok.ops);
  });

  it('lists the batches a user may see, and shows query errors on the page', async () => {
    const res = await req('/batches', { cookie: alice.cookie });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await res.text();
    expect(html).toContain(`data-batch-id="${aliceBatch}"`);
    expect(html).toContain('alice-batch');
    expect(html).not.toContain(`data-batch-id="${bobBatch}"`);
    // Bob's batch is not there even when asked for everything.
    const all = await (await req(`/batches?q=${encodeURIComponent('batch_id >= 1')}`, { cookie: alice.cookie })).text();
    expect(all).not.toContain(`data-batch-id="${bobBatch}"`);

    const bad = await req(`/batches?q=${encodeURIComponent('state = bogus')}`, { cookie: alice.cookie });
    expect(bad.status).toBe(400);
    const badHtml = await bad.text();
    expect(badHtml).toContain('role="alert"');
    expect(badHtml).toMatch(/bogus/);
    const v1 = await req(`/batches?version=1&q=${encodeURIComponent('name=alice-batch')}`, { cookie: alice.cookie });
    expect(await v1.text()).toContain(`data-batch-id="${aliceBatch}"`);
    const cursor = await req('/batches?last_batch_id=abc', { cookie: alice.cookie });
    expect(cursor.status).toBe(400);
    expect(await cursor.text()).toContain('last_batch_id');
  });

  it("shows a batch and its jobs, filtered; another project's batch is 404", async () => {
    const res = await req(`/batches/${aliceBatch}`, { cookie: alice.cookie });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('data-job-id="1"');
    expect(html).toContain('data-job-id="3"');
    const filtered = await (await req(`/batches/${aliceBatch}?q=${encodeURIComponent('name = step-2')}`, { cookie: alice.cookie })).text();
    expect(filtered).toContain('data-job-id="2"');
    expect(filtered).not.toContain('data-job-id="1"');
    const bad = await req(`/batches/${aliceBatch}?q=${encodeURIComponent('exit_code = x')}`, { cookie: alice.cookie });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('role="alert"');

    for (const p of [`/batches/${bobBatch}`, `/batches/${bobBatch}/jobs/1`, `/batches/${bobBatch}/jobs/1/log/main`, '/batches/999999999999', '/batches/abc', `/batches/${aliceBatch}/jobs/99`]) {
      const other = await req(p, { cookie: alice.cookie });
      expect(other.status, p).toBe(404);
      expect(other.headers.get('content-type'), p).toMatch(/text\/html/);
    }
    expect((await req(`/batches/${bobBatch}`, { cookie: ops.cookie })).status).toBe(200);
    expect((await req(`/batches/${aliceBatch}?job_group=7`, { cookie: alice.cookie })).status).toBe(404);
  });

  it('shows the job-group tree at every depth: the path from the batch, the children paged, what lies below', async () => {
    // Group 1 under the root and 60 groups under it (Hail's deepest level, 2): more than a page.
    const children = 60;
    const res = await api(tok.alice, '/api/v1alpha/batches/create-fast', {
      batch: { billing_project: 'test', n_jobs: 2, n_job_groups: 1 + children, token: `tree-${Date.now()}`, attributes: { name: 'tree' } },
      job_groups: [
        { job_group_id: 1, in_update_parent_id: 0, attributes: { name: 'outer' } },
        ...Array.from({ length: children }, (_, i) => ({ job_group_id: 2 + i, in_update_parent_id: 1, attributes: { name: `inner-${i + 1}` } })),
      ],
      bunch: [job(1, ['sleep', '60'], { in_update_job_group_id: 2 }), job(2, ['sleep', '60'], { in_update_job_group_id: 1 })],
    });
    expect(res.status, await res.clone().text()).toBe(200);
    const id = ((await res.json()) as { id: number }).id;
    const groupsIn = (html: string) => [...html.matchAll(/data-job-group="(\d+)"/g)].map((m) => Number(m[1]));

    // The batch page: the root and its one child, which says what lies below it.
    const top = await (await req(`/batches/${id}`, { cookie: alice.cookie })).text();
    expect(groupsIn(top)).toEqual([0, 1]);
    expect(top).toContain('60 groups below');

    // The deepest group: the whole path down to it, nothing skipped, and only its own jobs.
    const leaf = await (await req(`/batches/${id}?job_group=2`, { cookie: alice.cookie })).text();
    expect(groupsIn(leaf)).toEqual([0, 1, 2]);
    expect(leaf).toContain('<strong>group 2</strong>');
    expect(leaf).toContain('outer');
    expect(leaf).toContain('inner-1');
    expect(leaf).toContain('data-job-id="1"');
    expect(leaf).not.toContain('data-job-id="2"');

    // The outer group: its 60 children paged 50 at a time, then the rest.
    const outer = await (await req(`/batches/${id}?job_group=1`, { cookie: alice.cookie })).text();
    expect(groupsIn(outer)).toEqual([0, 1, ...Array.from({ length: 50 }, (_, i) => 2 + i)]);
    const more = /href="([^"]*groups_after=[^"]*)"/.exec(outer)?.[1]?.replaceAll('&amp;', '&');
    expect(more).toBe(`/batches/${id}?job_group=1&groups_after=51`);
    const rest = await (await req(more!, { cookie: alice.cookie })).text();
    expect(groupsIn(rest)).toEqual([0, 1, ...Array.from({ length: 10 }, (_, i) => 52 + i)]);
    expect(rest).not.toContain('groups_after=');
    expect((await req(`/batches/${id}?job_group=1&groups_after=x`, { cookie: alice.cookie })).status).toBe(400);
    const cancelled = await app.request(`/api/v1alpha/batches/${id}/cancel`, { method: 'PATCH', headers: { authorization: `Bearer ${tok.alice}` } });
    expect(cancelled.status).toBe(200);
  });

  it('shows a job: spec with credential-named env hidden, logs and resource usage routes', async () => {
    const res = await req(`/batches/${aliceBatch}/jobs/2`, { cookie: alice.cookie });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('hello 2');
    expect(html).toContain('GREETING=hi');
    expect(html).not.toContain('sekrit');
    expect(html).toContain(`data-live-url="/batches/${aliceBatch}/jobs/2/log/main"`);
    const log = await req(`/batches/${aliceBatch}/jobs/2/log/main`, { cookie: alice.cookie });
    expect(log.status).toBe(200);
    expect(log.headers.get('x-job-state')).toBeTruthy();
    expect((await req(`/batches/${aliceBatch}/jobs/2/log/nope`, { cookie: alice.cookie })).status).toBe(404);
    const usage = await req(`/batches/${aliceBatch}/jobs/2/resource_usage.json`, { cookie: alice.cookie });
    const frames = (await usage.json()) as Record<string, { columns: string[] }>;
    for (const f of Object.values(frames)) expect(f.columns).toContain('cpu_usage');
  });

  it('cancels and deletes from the UI only with the CSRF token', async () => {
    const noToken = await req(`/batches/${aliceBatch}/cancel`, { ...form({}), cookie: alice.cookie });
    expect(noToken.status).toBe(403);
    expect(await noToken.text()).toContain('CSRF');
    const wrong = await req(`/batches/${aliceBatch}/cancel`, { ...form({ _csrf: ops.csrf }), cookie: alice.cookie });
    expect(wrong.status).toBe(403);
    const noSession = await req(`/batches/${aliceBatch}/cancel`, form({ _csrf: alice.csrf }));
    expect(noSession.status).toBe(401);
    const other = await req(`/batches/${bobBatch}/cancel`, { ...form({ _csrf: alice.csrf }), cookie: alice.cookie });
    expect(other.status).toBe(404);

    const ok = await req(`/batches/${aliceBatch}/cancel`, { ...form({ _csrf: alice.csrf, next: '//evil.example' }), cookie: alice.cookie });
    expect(ok.status).toBe(302);
    expect(ok.headers.get('location')).toBe('/batches');
    const b = (await (await api(tok.alice, `/api/v1alpha/batches/${aliceBatch}`)).json()) as { state: string };
    expect(b.state).toBe('cancelled');

    const doomed = await createBatch(tok.alice, 'test', 'doomed', 1);
    const del = await req(`/batches/${doomed}/delete`, { ...form({ _csrf: alice.csrf }), cookie: alice.cookie });
    expect(del.status).toBe(302);
    expect((await api(tok.alice, `/api/v1alpha/batches/${doomed}`)).status).toBe(404);
  });

  it('shows billing, with a bad date named on the page', async () => {
    const res = await req('/billing', { cookie: alice.cookie });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('id="billing-series"');
    expect(html).toMatch(/<td>test<\/td>/);
    expect(html).not.toMatch(/<td>other<\/td>/);
    const bad = await req('/billing?start=13/45/2026', { cookie: alice.cookie });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('start');
  });

  it("lists the clusters of the user's projects with their nodes and cost, not others'", async () => {
    const db = database.db;
    const card = await loadRateCard(db);
    for (const [name, project] of [['lab-a', 'test'], ['lab-b', 'other']] as const) {
      await ensureCluster(db, { name, billingProject: project, createdBy: 'ops', jupyterToken: 'j' }, 1);
      const shape = { name: `${name}-master`, role: 'master', image: 'hail-base/1.0.0', cores: 2, memory_gib: 4 } as never;
      await recordNode(db, { cluster: name, node: `${name}-master`, generation: 1, role: 'master', shape, resources: nodeResources({ cores: 2, memory_gib: 4 }, card, 'local'), handle: `h-${name}`, jupyterUrl: null, timeStarted: Date.now() - 3_600_000 }, Date.now());
    }
    const mine = await (await req('/clusters', { cookie: alice.cookie })).text();
    expect(mine).toContain('id="cluster-lab-a"');
    expect(mine).toContain('lab-a-master (2 cores, 4 GiB)');
    expect(mine).toContain('href="/clusters/lab-a/jupyter/"');
    expect(mine).not.toContain('lab-b');
    const all = await (await req('/clusters', { cookie: ops.cookie })).text();
    expect(all).toContain('id="cluster-lab-b"');
    // An hour of a node is billed: the project's accrued cost includes it.
    const hour = nodesCost([{ resources: nodeResources({ cores: 2, memory_gib: 4 }, card, 'local'), timeStarted: 0, timeRemoved: 3_600_000 }], card, 0);
    const project = (await (await api(tok.alice, '/api/v1alpha/billing_projects/test')).json()) as { accrued_cost: number };
    expect(project.accrued_cost).toBeGreaterThanOrEqual(hour * 0.99);
  });

  it('keeps the driver pages for admins and validates the pool form as PATCH does', async () => {
    for (const p of ['/admin/pools', '/admin/instances', '/admin/users']) {
      expect((await req(p, { cookie: alice.cookie })).status, p).toBe(403);
      expect((await req(p, { cookie: ops.cookie })).status, p).toBe(200);
    }
    const before = (await getPool(database.db, 'standard'))!.config;
    const page = await (await req('/admin/pools', { cookie: ops.cookie })).text();
    expect(page).toContain('id="pool-standard"');
    const fields = Object.fromEntries(Object.entries(before).map(([k, v]) => [k, String(v)]));
    delete fields.preemptible;
    if (before.preemptible) fields.preemptible = 'on';

    const noCsrf = await req('/admin/pools/standard', { ...form({ ...fields, max_instances: '5' }), cookie: ops.cookie });
    expect(noCsrf.status).toBe(403);
    const asUser = await req('/admin/pools/standard', { ...form({ ...fields, _csrf: alice.csrf }), cookie: alice.cookie });
    expect(asUser.status).toBe(403);

    const invalid = await req('/admin/pools/standard', { ...form({ ...fields, min_instances: '7', max_instances: '5', _csrf: ops.csrf }), cookie: ops.cookie });
    expect(invalid.status).toBe(400);
    expect(await invalid.text()).toContain('min_instances');
    const notNumber = await req('/admin/pools/standard', { ...form({ ...fields, max_instances: 'lots', _csrf: ops.csrf }), cookie: ops.cookie });
    expect(notNumber.status).toBe(400);
    expect(await notNumber.text()).toContain('max_instances');
    expect((await getPool(database.db, 'standard'))!.config).toEqual(before);
    const missing = await req('/admin/pools/nope', { ...form({ ...fields, _csrf: ops.csrf }), cookie: ops.cookie });
    expect(missing.status).toBe(404);

    const ok = await req('/admin/pools/standard', {
      ...form({ ...fields, min_instances: '0', max_live_instances: '5', max_instances: '5', _csrf: ops.csrf }),
      cookie: ops.cookie,
    });
    expect(ok.status).toBe(302);
    expect((await getPool(database.db, 'standard'))!.config.max_instances).toBe(5);
    const apiView = (await (await api(tok.ops, '/api/v1alpha/pools/standard')).json()) as { max_instances: number };
    expect(apiView.max_instances).toBe(5);
  });

  it('sets and lifts the driver rate limit from the pools page, validated as PUT is', async () => {
    const page = await (await req('/admin/pools', { cookie: ops.cookie })).text();
    expect(page).toContain('id="rate-limit-standard"');
    const noCsrf = await req('/admin/rate_limits/standard', { ...form({ jobs_per_second: '3' }), cookie: ops.cookie });
    expect(noCsrf.status).toBe(403);
    const asUser = await req('/admin/rate_limits/standard', { ...form({ jobs_per_second: '3', _csrf: alice.csrf }), cookie: alice.cookie });
    expect(asUser.status).toBe(403);
    for (const bad of ['-1', 'fast', '0']) {
      const res = await req('/admin/rate_limits/standard', { ...form({ jobs_per_second: bad, _csrf: ops.csrf }), cookie: ops.cookie });
      expect(res.status, bad).toBe(400);
      expect(await res.text()).toContain('jobs_per_second');
    }
    expect((await req('/admin/rate_limits/nope', { ...form({ jobs_per_second: '3', _csrf: ops.csrf }), cookie: ops.cookie })).status).toBe(404);

    const limitOf = async () => ((await (await api(tok.ops, '/api/v1alpha/rate_limits')).json()) as { pool: string; jobs_per_second: number }[]).find((l) => l.pool === 'standard')?.jobs_per_second;
    const set = await req('/admin/rate_limits/standard', { ...form({ jobs_per_second: '2.5', _csrf: ops.csrf }), cookie: ops.cookie });
    expect(set.status).toBe(302);
    await waitFor('the scheduler to hold the limit', async () => (await limitOf()) === 2.5, 30_000);
    const shown = await (await req('/admin/pools', { cookie: ops.cookie })).text();
    expect(/id="rate-limit-standard"><td>standard<\/td><td class="num">2.5<\/td>/.test(shown), shown.slice(0, 200)).toBe(true);

    const lift = await req('/admin/rate_limits/standard', { ...form({ jobs_per_second: '', _csrf: ops.csrf }), cookie: ops.cookie });
    expect(lift.status).toBe(302);
    await waitFor('the limit to be lifted', async () => (await limitOf()) === undefined, 30_000);
  });

  it('issues a token from the users page, shown once', async () => {
    const res = await req('/admin/users/bob/tokens', { ...form({ _csrf: ops.csrf }), cookie: ops.cookie });
    expect(res.status).toBe(200);
    const token = /id="issued-token">([^<]+)</.exec(await res.text())?.[1];
    expect(token).toBeTruthy();
    expect((await api(token!, '/api/v1alpha/userinfo')).status).toBe(200);
    expect((await req('/admin/users/Not%20A%20User/tokens', { ...form({ _csrf: ops.csrf }), cookie: ops.cookie })).status).toBe(400);
  });
});
