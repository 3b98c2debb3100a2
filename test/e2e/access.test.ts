/**
 * Who may do what, over every route of the API: the batch's creator, another member of its
 * billing project, a user outside the project, an admin outside it, a worker instance (its own
 * token, from a real activation) and a caller with no token. One row per route; a new route is
 * one more line. Statuses follow Hail: batch routes are 404 outside the project, creation in a
 * foreign project 403, admin routes 403 for non-admins, and every user route 401 without a user
 * token; driver routes take only an instance's token.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { job, startTestService, waitForBatch, type TestService } from '../support/service';
import { insertInstance, setInstanceHandle } from '../../db/queries/instances';
import { hashToken } from '../../db/queries/tokens';
import { listAttempts } from '../../db/queries/attempts';
import { changeProjectStatus, createProject, addMember } from '../../db/queries/billing-projects';
import { ensureUser } from '../../db/queries/users';

const USER_ROLES = ['owner', 'member', 'nonMember', 'admin'] as const;
type UserRole = (typeof USER_ROLES)[number];
type Role = UserRole | 'instance' | 'none';
const ROLES: readonly Role[] = [...USER_ROLES, 'instance', 'none'];

type Call = { method: string; path: string; body?: unknown };
type Row = [route: string, call: (role: Role) => Promise<Call> | Call, expected: Record<UserRole, number>];

const ALL: Record<UserRole, number> = { owner: 200, member: 200, nonMember: 200, admin: 200 };
/** Batch-scoped reads and cancels: anyone in the batch's billing project, and admins. */
const PROJECT: Record<UserRole, number> = { owner: 200, member: 200, nonMember: 404, admin: 200 };
/** Adding to a batch: its creator only (404 to everyone else, as Hail). */
const CREATOR: Record<UserRole, number> = { owner: 200, member: 404, nonMember: 404, admin: 404 };
/** Admin routes. */
const ADMIN: Record<UserRole, number> = { owner: 403, member: 403, nonMember: 403, admin: 200 };
/** Creating a batch in, or reading, the billing project `test`: its members and admins. */
const IN_PROJECT: Record<UserRole, number> = { owner: 200, member: 200, nonMember: 403, admin: 200 };

let s: TestService;
const tokens = {} as Record<UserRole, string>;
let instance: { name: string; token: string };
let sleeper: ChildProcess | undefined;
let fixture: number;
let seq = 0;
const unique = (what: string) => `${what}-${Date.now().toString(36)}-${++seq}`;

function headersFor(role: Role): Headers {
  const h = new Headers({ 'content-type': 'application/json' });
  if (role === 'instance') {
    // Everything an instance has, offered every way it could be taken.
    h.set('authorization', `Bearer ${instance.token}`);
    h.set('x-hail-instance-name', instance.name);
    h.set('x-hail-instance-token', instance.token);
  } else if (role !== 'none') {
    h.set('authorization', `Bearer ${tokens[role]}`);
  }
  return h;
}

async function send(role: Role, call: Call): Promise<Response> {
  return fetch(`${s.url}${call.path}`, {
    method: call.method,
    headers: headersFor(role),
    body: call.body === undefined ? undefined : JSON.stringify(call.body),
  });
}

/** A batch of the owner's in project `test`: complete and empty, or with jobs inserted but not committed. */
async function freshBatch(nJobs = 0): Promise<number> {
  const res = await s.api('/api/v1alpha/batches/create', {
    method: 'POST',
    json: { billing_project: 'test', n_jobs: nJobs, token: unique('b') },
  });
  expect(res.status).toBe(200);
  const { id } = (await res.json()) as { id: number };
  if (nJobs > 0) {
    const ins = await s.api(`/api/v1alpha/batches/${id}/updates/1/jobs/create`, {
      method: 'POST',
      json: Array.from({ length: nJobs }, (_, i) => job(i + 1, ['true'])),
    });
    expect(ins.status).toBe(200);
  }
  return id;
}

/** A project only this call uses, in the status it needs, with `bob` a member when asked. */
async function freshProject(status: 'open' | 'closed' = 'open', withMember = false): Promise<string> {
  const name = unique('mx');
  await createProject(s.database.db, name);
  if (withMember) await addMember(s.database.db, name, 'bob');
  if (status === 'closed') await changeProjectStatus(s.database.db, name, 'close');
  return name;
}

const v1 = '/api/v1alpha';
const v2 = '/api/v2alpha';
const fx = () => `${v1}/batches/${fixture}`;

const USER_ROUTES: Row[] = [
  // meta
  ['GET version', () => ({ method: 'GET', path: `${v1}/version` }), ALL],
  ['GET cloud', () => ({ method: 'GET', path: `${v1}/cloud` }), ALL],
  ['GET default_region', () => ({ method: 'GET', path: `${v1}/default_region` }), ALL],
  ['GET supported_regions', () => ({ method: 'GET', path: `${v1}/supported_regions` }), ALL],
  // batches
  ['POST batches/create', () => ({ method: 'POST', path: `${v1}/batches/create`, body: { billing_project: 'test', n_jobs: 0, token: unique('c') } }), IN_PROJECT],
  ['POST batches/create-fast', () => ({ method: 'POST', path: `${v1}/batches/create-fast`, body: { batch: { billing_project: 'test', n_jobs: 0, token: unique('f') }, bunch: [] } }), IN_PROJECT],
  ['GET batches', () => ({ method: 'GET', path: `${v1}/batches` }), ALL],
  ['GET batches/{id}', () => ({ method: 'GET', path: fx() }), PROJECT],
  ['PATCH batches/{id}/cancel', async () => ({ method: 'PATCH', path: `${v1}/batches/${await freshBatch()}/cancel` }), PROJECT],
  ['PATCH batches/{id}/job-groups/0/cancel', async () => ({ method: 'PATCH', path: `${v1}/batches/${await freshBatch()}/job-groups/0/cancel` }), PROJECT],
  ['DELETE batches/{id}', async () => ({ method: 'DELETE', path: `${v1}/batches/${await freshBatch()}` }), PROJECT],
  // updates
  ['POST batches/{id}/updates/create', async () => ({ method: 'POST', path: `${v1}/batches/${await freshBatch()}/updates/create`, body: { token: unique('u'), n_jobs: 1 } }), CREATOR],
  ['POST batches/{id}/update-fast', async () => ({ method: 'POST', path: `${v1}/batches/${await freshBatch()}/update-fast`, body: { update: { token: unique('u'), n_jobs: 1 }, bunch: [job(1, ['true'])] } }), CREATOR],
  ['POST batches/{id}/updates/{u}/jobs/create', async () => {
    const id = await freshBatch();
    const u = await s.api(`${v1}/batches/${id}/updates/create`, { method: 'POST', json: { token: unique('u'), n_jobs: 1 } });
    const { update_id: uid } = (await u.json()) as { update_id: number };
    return { method: 'POST', path: `${v1}/batches/${id}/updates/${uid}/jobs/create`, body: [job(1, ['true'])] };
  }, CREATOR],
  ['POST batches/{id}/jobs/create', async () => {
    const res = await s.api(`${v1}/batches/create`, { method: 'POST', json: { billing_project: 'test', n_jobs: 1, token: unique('b') } });
    const { id } = (await res.json()) as { id: number };
    return { method: 'POST', path: `${v1}/batches/${id}/jobs/create`, body: [job(1, ['true'])] };
  }, CREATOR],
  ['PATCH batches/{id}/updates/{u}/commit', async () => ({ method: 'PATCH', path: `${v1}/batches/${await freshBatch(1)}/updates/1/commit` }), CREATOR],
  ['PATCH batches/{id}/close', async () => ({ method: 'PATCH', path: `${v1}/batches/${await freshBatch(1)}/close` }), CREATOR],
  // jobs
  ['GET batches/{id}/jobs', () => ({ method: 'GET', path: `${fx()}/jobs` }), PROJECT],
  ['GET batches/{id}/job-groups/0/jobs', () => ({ method: 'GET', path: `${fx()}/job-groups/0/jobs` }), PROJECT],
  // job groups
  ['GET batches/{id}/job-groups/0', () => ({ method: 'GET', path: `${fx()}/job-groups/0` }), PROJECT],
  ['GET batches/{id}/job-groups/0/job-groups', () => ({ method: 'GET', path: `${fx()}/job-groups/0/job-groups` }), PROJECT],
  ['POST batches/{id}/updates/{u}/job-groups/create', async () => {
    const id = await freshBatch();
    const u = await s.api(`${v1}/batches/${id}/updates/create`, { method: 'POST', json: { token: unique('u'), n_jobs: 0, n_job_groups: 1 } });
    const { update_id: uid } = (await u.json()) as { update_id: number };
    return { method: 'POST', path: `${v1}/batches/${id}/updates/${uid}/job-groups/create`, body: [{ job_group_id: 1 }] };
  }, CREATOR],
  ['GET batches/{id}/jobs/{j}', () => ({ method: 'GET', path: `${fx()}/jobs/1` }), PROJECT],
  ['GET batches/{id}/jobs/{j}/log', () => ({ method: 'GET', path: `${fx()}/jobs/1/log` }), PROJECT],
  ['GET batches/{id}/jobs/{j}/log/main', () => ({ method: 'GET', path: `${fx()}/jobs/1/log/main` }), PROJECT],
  ['GET batches/{id}/jobs/{j}/attempts', () => ({ method: 'GET', path: `${fx()}/jobs/1/attempts` }), PROJECT],
  ['GET batches/{id}/jobs/{j}/resource_usage', () => ({ method: 'GET', path: `${fx()}/jobs/1/resource_usage` }), PROJECT],
  // users and tokens
  ['GET userinfo', () => ({ method: 'GET', path: `${v1}/userinfo` }), ALL],
  ['GET users', () => ({ method: 'GET', path: `${v1}/users` }), ADMIN],
  ['POST users', () => ({ method: 'POST', path: `${v1}/users`, body: { username: unique('new') } }), ADMIN],
  ['POST users/{u}/tokens', () => ({ method: 'POST', path: `${v1}/users/dave/tokens` }), ADMIN],
  ['DELETE users/{u}/tokens', () => ({ method: 'DELETE', path: `${v1}/users/dave/tokens` }), ADMIN],
  // billing projects
  ['GET billing_projects', () => ({ method: 'GET', path: `${v1}/billing_projects` }), ALL],
  ['GET billing_projects/{bp}', () => ({ method: 'GET', path: `${v1}/billing_projects/test` }), IN_PROJECT],
  ['POST billing_projects/{bp}/create', () => ({ method: 'POST', path: `${v1}/billing_projects/${unique('mx')}/create` }), ADMIN],
  ['POST billing_projects/{bp}/close', async () => ({ method: 'POST', path: `${v1}/billing_projects/${await freshProject()}/close` }), ADMIN],
  ['POST billing_projects/{bp}/reopen', async () => ({ method: 'POST', path: `${v1}/billing_projects/${await freshProject('closed')}/reopen` }), ADMIN],
  ['POST billing_projects/{bp}/delete', async () => ({ method: 'POST', path: `${v1}/billing_projects/${await freshProject('closed')}/delete` }), ADMIN],
  ['POST billing_projects/{bp}/users/{u}/add', async () => ({ method: 'POST', path: `${v1}/billing_projects/${await freshProject()}/users/bob/add` }), ADMIN],
  ['POST billing_projects/{bp}/users/{u}/remove', async () => ({ method: 'POST', path: `${v1}/billing_projects/${await freshProject('open', true)}/users/bob/remove` }), ADMIN],
  ['POST billing_limits/{bp}/edit', async () => ({ method: 'POST', path: `${v1}/billing_limits/${await freshProject()}/edit`, body: { limit: 5 } }), ADMIN],
  // billing reports and the resource catalogue
  ['GET billing', () => ({ method: 'GET', path: `${v1}/billing` }), ALL],
  ['GET billing_breakdown', () => ({ method: 'GET', path: `${v1}/billing_breakdown` }), ALL],
  ['GET resources', () => ({ method: 'GET', path: `${v1}/resources` }), ALL],
  ['POST resources', () => ({ method: 'POST', path: `${v1}/resources`, body: { product: 'service-fee', rate: 0.01 / 1000 / 3_600_000 } }), { ...ADMIN, admin: 201 }],
  // instances
  ['GET instances', () => ({ method: 'GET', path: `${v1}/instances` }), ADMIN],
  // A name no instance has: admins get 404 (the preemption path is tested end to end elsewhere).
  ['POST instances/{name}/preempt', () => ({ method: 'POST', path: `${v1}/instances/no-such-instance/preempt` }), { ...ADMIN, admin: 404 }],
  // pools
  ['GET pools', () => ({ method: 'GET', path: `${v1}/pools` }), ADMIN],
  ['GET pools/{name}', () => ({ method: 'GET', path: `${v1}/pools/standard` }), ADMIN],
  ['PATCH pools/{name}', () => ({ method: 'PATCH', path: `${v1}/pools/highcpu`, body: { worker_max_idle_time_secs: 30 } }), ADMIN],
  // the driver's rate limit
  ['GET rate_limits', () => ({ method: 'GET', path: `${v1}/rate_limits` }), ADMIN],
  ['PUT rate_limits/{pool}', () => ({ method: 'PUT', path: `${v1}/rate_limits/highcpu`, body: { jobs_per_second: null } }), ADMIN],
  // clusters and their images: a cluster or image no one has is 404 to everyone (nothing told);
  // a bad body is 400 to everyone, before any lookup
  ['GET clusters', () => ({ method: 'GET', path: `${v1}/clusters` }), ALL],
  ['GET clusters/{name}', () => ({ method: 'GET', path: `${v1}/clusters/nosuch` }), { owner: 404, member: 404, nonMember: 404, admin: 404 }],
  ['GET clusters/{name}/plans/{plan}', () => ({ method: 'GET', path: `${v1}/clusters/nosuch/plans/1` }), { owner: 404, member: 404, nonMember: 404, admin: 404 }],
  ['POST clusters/{name}/plan', () => ({ method: 'POST', path: `${v1}/clusters/nosuch/plan`, body: { to: 'destroy' } }), { owner: 400, member: 400, nonMember: 400, admin: 400 }],
  ['POST clusters/{name}/apply', () => ({ method: 'POST', path: `${v1}/clusters/nosuch/apply`, body: { plan_id: 1 } }), { owner: 404, member: 404, nonMember: 404, admin: 404 }],
  ['POST clusters/{name}/up', () => ({ method: 'POST', path: `${v1}/clusters/nosuch/up`, body: { spec: {} } }), { owner: 400, member: 400, nonMember: 400, admin: 400 }],
  ['GET cluster-images', () => ({ method: 'GET', path: `${v1}/cluster-images` }), ALL],
  ['POST cluster-images', () => ({ method: 'POST', path: `${v1}/cluster-images`, body: {} }), { owner: 400, member: 400, nonMember: 400, admin: 400 }],
  ['GET cluster-images/{family}/{version}', () => ({ method: 'GET', path: `${v1}/cluster-images/nosuch/1.0.0` }), { owner: 404, member: 404, nonMember: 404, admin: 404 }],
  ['POST cluster-images/{family}/{version}/share', () => ({ method: 'POST', path: `${v1}/cluster-images/nosuch/1.0.0/share`, body: { with: ['test'] } }), { owner: 404, member: 404, nonMember: 404, admin: 404 }],
  ['POST cluster-images/{family}/{version}/accept', () => ({ method: 'POST', path: `${v1}/cluster-images/nosuch/1.0.0/accept`, body: { project: 'test' } }), { owner: 404, member: 404, nonMember: 404, admin: 404 }],
];

/** The batch and job routes, which v2alpha serves too: the same rows under /api/v2alpha. */
const V2_ROUTES: Row[] = USER_ROUTES.filter(([route]) => /^\w+ batches(\/|$)/.test(route) && !/update|jobs\/create|commit|close/.test(route)).map(
  ([route, call, expected]): Row => [
    route.replace(' ', ' v2 '),
    async (role) => {
      const c = await call(role);
      return { ...c, path: c.path.replace(v1, v2) };
    },
    expected,
  ],
);

/** Driver routes, with the expected status for the instance itself; every user and no token get 401. */
const DRIVER_ROUTES: [route: string, call: () => Call, forInstance: number][] = [
  ['POST instances/heartbeat', () => ({ method: 'POST', path: `${v1}/instances/heartbeat`, body: {} }), 200],
  ['POST instances/job_started', () => ({ method: 'POST', path: `${v1}/instances/job_started`, body: { status: { batch_id: fixture, job_id: 1, attempt_id: 'not-an-attempt', start_time: Date.now() } } }), 200],
  ['POST instances/job_complete', () => ({ method: 'POST', path: `${v1}/instances/job_complete`, body: { status: { batch_id: fixture, job_id: 1, attempt_id: 'not-an-attempt', state: 'succeeded', end_time: Date.now() } } }), 200],
  // An instance's own token is not an activation token.
  ['POST instances/activate', () => ({ method: 'POST', path: `${v1}/instances/activate`, body: { ip_address: '127.0.0.1', port: 1 } }), 401],
  // Last: it makes the instance inactive.
  ['POST instances/deactivate', () => ({ method: 'POST', path: `${v1}/instances/deactivate`, body: {} }), 200],
];

beforeAll(async () => {
  s = await startTestService({ name: 'e2e_access', executor: 'process', pools: 'standard:1' });
  tokens.owner = s.token;
  tokens.member = await s.addUser('bob', { projects: ['test'] });
  tokens.nonMember = await s.addUser('carol', { projects: ['other'] });
  tokens.admin = await s.addUser('root', { admin: true });
  await ensureUser(s.database.db, 'dave');

  const res = await s.api(`${v1}/batches/create-fast`, {
    method: 'POST',
    json: { batch: { billing_project: 'test', n_jobs: 1, token: unique('fixture') }, bunch: [job(1, ['echo', 'hello'])] },
  });
  expect(res.status).toBe(200);
  fixture = ((await res.json()) as { id: number }).id;

  // A stand-in VM: an instance row in a pool no job uses, with no cores, whose "machine" is a
  // sleeping process of ours carrying an agent's name and data directory, so the local cloud
  // lists it as that machine and the autoscaler keeps it; it activates like an agent does.
  const name = `batch-worker-local-matrix-${Date.now().toString(36).slice(-5)}`;
  sleeper = spawn('sleep', ['3600'], { stdio: 'ignore', env: { ...process.env, HB_AGENT_NAME: name, HB_DATA_DIR: s.config.dataDir } });
  const activation = unique('activation');
  await insertInstance(s.database.db, { name, pool: 'matrix', coresMcpu: 0, activationTokenHash: hashToken(activation), now: Date.now() });
  await setInstanceHandle(s.database.db, name, String(sleeper.pid));
  const act = await fetch(`${s.url}${v1}/instances/activate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hail-instance-name': name, 'x-hail-instance-token': activation },
    body: JSON.stringify({ ip_address: '127.0.0.1', port: 1 }),
  });
  expect(act.status).toBe(200);
  instance = { name, token: ((await act.json()) as { token: string }).token };

  await waitForBatch(s, fixture);
});

afterAll(async () => {
  await s?.stop();
  if (sleeper && sleeper.exitCode === null && sleeper.signalCode === null) sleeper.kill('SIGKILL');
});

describe('user routes', () => {
  it.each([...USER_ROUTES, ...V2_ROUTES])('%s', async (_route, call, expected) => {
    const want: Record<string, number> = { ...expected, instance: 401, none: 401 };
    const got: Record<string, number> = {};
    for (const role of ROLES) {
      const res = await send(role, await call(role));
      got[role] = res.status;
      if (res.status === 401) {
        const body = (await res.json()) as { error: { code: string } };
        expect(body.error.code).toBe('unauthenticated');
      }
    }
    expect(got).toEqual(want);
  });

  it('covers every route the app registers, driver routes included', async () => {
    const { createApp } = await import('../../api/app');
    const app = createApp({ config: s.config } as never);
    const covered = new Set([...USER_ROUTES, ...V2_ROUTES, ...DRIVER_ROUTES].map(([route]) => route));
    const registered = app.routes.filter((r) => r.method !== 'ALL' && r.path.startsWith('/api/')).map((r) => `${r.method} ${r.path}`);
    const labels = new Set(registered.map(routeLabel));
    // Both ways: no route without a row, and no row for a route that does not exist.
    expect(registered.filter((r) => !covered.has(routeLabel(r)))).toEqual([]);
    expect([...covered].filter((r) => !labels.has(r))).toEqual([]);
  });
});

describe('worker reports', () => {
  it("refuses an instance's report on an attempt placed on another instance, and records nothing", async () => {
    const [attempt] = await listAttempts(s.database.db, fixture, 1);
    expect(attempt).toBeDefined();
    expect(attempt!.instanceName).not.toBe(instance.name);
    const status = { batch_id: fixture, job_id: 1, attempt_id: attempt!.attemptId };
    for (const [route, body] of [
      ['job_started', { status: { ...status, start_time: 1 } }],
      ['job_complete', { status: { ...status, state: 'failed', start_time: 1, end_time: 2, exit_code: 9 } }],
    ] as const) {
      const res = await send('instance', { method: 'POST', path: `${v1}/instances/${route}`, body });
      expect(res.status, route).toBe(403);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('forbidden');
    }
    const [after] = await listAttempts(s.database.db, fixture, 1);
    expect(after).toMatchObject({ startTime: attempt!.startTime, endTime: attempt!.endTime, outcome: attempt!.outcome, exitCode: attempt!.exitCode });
  });
});

describe('driver routes', () => {
  it.each(DRIVER_ROUTES)('%s', async (_route, call, forInstance) => {
    const got: Record<string, number> = {};
    for (const role of ROLES) got[role] = (await send(role, call())).status;
    expect(got).toEqual({ owner: 401, member: 401, nonMember: 401, admin: 401, instance: forInstance, none: 401 });
  });

  it('refuses a user token offered as an instance token', async () => {
    const res = await fetch(`${s.url}${v1}/instances/heartbeat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hail-instance-name': instance.name, 'x-hail-instance-token': tokens.admin },
      body: '{}',
    });
    expect(res.status).toBe(401);
  });
});

/** `GET /api/v1alpha/batches/:batch_id/jobs` → the row label `GET batches/{id}/jobs`. */
function routeLabel(registered: string): string {
  const [method, path] = registered.split(' ') as [string, string];
  const v2Prefix = path.startsWith(v2) ? 'v2 ' : '';
  const rest = path
    .replace(/^\/api\/v[12]alpha\//, '')
    .replace(':batch_id', '{id}')
    .replace(':job_group_id', '0')
    .replace(':update_id', '{u}')
    .replace(':job_id', '{j}')
    .replace(':container', 'main')
    .replace(':billing_project', '{bp}')
    .replace(':user', '{u}')
    .replace(':name', '{name}')
    .replace(':pool', '{pool}')
    .replace(':plan_id', '{plan}')
    .replace(':family', '{family}')
    .replace(':version', '{version}');
  return `${method} ${v2Prefix}${rest}`;
}
