/**
 * Driver pages (admins): pools with an edit form (validated exactly as PATCH
 * /api/v1alpha/pools/{name}) and the driver's rate limit per pool (as PUT
 * /api/v1alpha/rate_limits/{pool}), instances, users and their tokens.
 */
import type { Context, Hono } from 'hono';
import { ActionButton, CsrfField, ErrorBox, Layout, State } from '../layout';
import { checkedForm, requireSession, requireUiAdmin, type UiEnv } from '../session';
import { ApiError } from '../../errors';
import { formatDuration, poolFormPatch } from '../../../domain/ui';
import { mergePoolConfig } from '../../../domain/pool-config';
import { DEFAULT_POOL_CONFIG, type PoolConfig } from '../../../domain/autoscaler';
import { WORKER_TYPES } from '../../../domain/pools';
import { getPool, listPools, updatePoolConfig, type PoolRow } from '../../../db/queries/pools';
import { listInstances } from '../../../db/queries/instances';
import { issueToken, listUsers, revokeTokens } from '../../../db/queries/accounts';
import { parseUsername } from '../../../domain/accounts';
import { rateLimitProblem, type RateLimits } from '../../../domain/rate-limit';

const FIELDS = Object.keys(DEFAULT_POOL_CONFIG) as (keyof PoolConfig)[];
const POOL_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;

const PoolForm = ({ pool, csrf, values, error }: { pool: PoolRow; csrf: string; values?: Record<string, unknown>; error?: string | null }) => {
  const v = { ...pool.config, ...(values ?? {}) } as Record<string, unknown>;
  return (
    <form method="post" action={`/admin/pools/${pool.name}`} id={`pool-${pool.name}`} class="plot">
      <h2 style="margin-top:0">{pool.name}</h2>
      <ErrorBox message={error} />
      <CsrfField token={csrf} />
      <table style="max-width:620px">
        <tbody>
          {FIELDS.map((f) => {
            const value = v[f];
            const input =
              f === 'worker_type' ? (
                <select name={f}>
                  {WORKER_TYPES.map((t) => (
                    <option value={t} selected={value === t}>{t}</option>
                  ))}
                </select>
              ) : typeof DEFAULT_POOL_CONFIG[f] === 'boolean' ? (
                <input type="checkbox" name={f} checked={value === true} />
              ) : (
                <input type="text" name={f} value={String(value ?? '')} size={10} />
              );
            return (
              <tr><td><label>{f}</label></td><td>{input}</td></tr>
            );
          })}
        </tbody>
      </table>
      <button type="submit">Save {pool.name}</button> <span class="muted">updated {new Date(pool.timeUpdated).toISOString()}</span>
    </form>
  );
};

/** The rate limits held by the scheduler workflow; null when it does not answer (Temporal down). */
async function currentLimits(c: Context<UiEnv>): Promise<RateLimits | null> {
  try {
    return await c.var.services.workflows.rateLimits();
  } catch (e) {
    if (e instanceof ApiError && e.code === 'unavailable') return null;
    throw e;
  }
}

/** The form's text as PUT's jobs_per_second: empty removes the limit. */
function limitFromForm(text: string | undefined): { value: number | null } | { error: string } {
  const t = (text ?? '').trim();
  if (t === '') return { value: null };
  const value = Number(t);
  const problem = /^[0-9.eE+-]+$/.test(t) ? rateLimitProblem(value) : 'must be a number of jobs per second, or empty for no limit';
  return problem ? { error: `jobs_per_second: ${problem}` } : { value };
}

type LimitEdit = { pool: string; error: string | null; text?: string };

const RateLimitTable = ({ pools, limits, csrf, edit }: { pools: PoolRow[]; limits: RateLimits | null; csrf: string; edit?: LimitEdit }) => (
  <section id="rate-limits">
    <h2>Driver rate limit</h2>
    <p class="muted">Jobs scheduled per second in each pool; empty means no limit. It applies from the scheduler's next round.</p>
    {limits === null ? <div class="error" role="alert">The scheduler does not answer (Temporal unavailable); the limits cannot be read now.</div> : null}
    {edit?.error ? <ErrorBox message={edit.error} /> : null}
    <table style="max-width:620px">
      <thead><tr><th>Pool</th><th class="num">Limit (jobs/s)</th><th></th></tr></thead>
      <tbody>
        {pools.map((p) => (
          <tr id={`rate-limit-${p.name}`}>
            <td>{p.name}</td>
            <td class="num">{limits === null ? '?' : limits[p.name] === undefined ? 'none' : String(limits[p.name])}</td>
            <td>
              <form method="post" action={`/admin/rate_limits/${p.name}`} style="display:inline">
                <CsrfField token={csrf} />
                <input type="text" name="jobs_per_second" size={8} value={edit?.pool === p.name ? (edit.text ?? '') : limits?.[p.name] === undefined ? '' : String(limits[p.name])} />{' '}
                <button type="submit">Set</button>
              </form>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  </section>
);

export function adminPages(r: Hono<UiEnv>): void {
  r.use('/admin/*', requireSession, requireUiAdmin);

  const poolsPage = (
    pools: PoolRow[],
    limits: RateLimits | null,
    csrf: string,
    caller: UiEnv['Variables']['caller'],
    edited?: { name: string; values: Record<string, unknown>; error: string | null; saved: boolean },
    limitEdit?: LimitEdit & { saved?: boolean },
  ) => (
    <Layout title="Pools" caller={caller} csrf={csrf}>
      <h1>Pools</h1>
      {edited?.saved ? <div class="notice">Saved pool {edited.name}; it applies from the next submission and autoscaler loop.</div> : null}
      {limitEdit?.saved ? <div class="notice">Rate limit of pool {limitEdit.pool} set; it applies from the scheduler's next round.</div> : null}
      <RateLimitTable pools={pools} limits={limits} csrf={csrf} edit={limitEdit?.saved ? undefined : limitEdit} />
      <div class="grid2">
        {pools.map((p) => (
          <PoolForm
            pool={p}
            csrf={csrf}
            values={edited && !edited.saved && edited.name === p.name ? edited.values : undefined}
            error={edited && edited.name === p.name ? edited.error : null}
          />
        ))}
      </div>
    </Layout>
  );

  r.get('/admin/pools', async (c) => {
    const saved = c.req.query('saved');
    const limitSaved = c.req.query('limit_saved');
    const pools = await listPools(c.var.services.db);
    return c.html(
      poolsPage(
        pools,
        await currentLimits(c),
        c.var.session.csrfToken,
        c.var.caller,
        saved && POOL_NAME.test(saved) ? { name: saved, values: {}, error: null, saved: true } : undefined,
        limitSaved && POOL_NAME.test(limitSaved) ? { pool: limitSaved, error: null, saved: true } : undefined,
      ),
    );
  });

  r.post('/admin/rate_limits/:pool', async (c) => {
    const { db, log, workflows } = c.var.services;
    const name = c.req.param('pool');
    const form = await checkedForm(c);
    const pool = POOL_NAME.test(name) ? await getPool(db, name) : null;
    if (!pool) throw new ApiError('not_found', `pool ${name} not found`, 'pool');
    const parsed = limitFromForm(form.jobs_per_second);
    if ('error' in parsed) {
      const pools = await listPools(db);
      const page = poolsPage(pools, await currentLimits(c), c.var.session.csrfToken, c.var.caller, undefined, { pool: name, error: parsed.error, text: form.jobs_per_second });
      return c.html(page, 400);
    }
    await workflows.setRateLimit(name, parsed.value);
    log.info('rate limit changed', { pool: name, jobs_per_second: parsed.value });
    return c.redirect(`/admin/pools?limit_saved=${encodeURIComponent(name)}`, 302);
  });

  r.post('/admin/pools/:name', async (c) => {
    const { db, log } = c.var.services;
    const name = c.req.param('name');
    const form = await checkedForm(c);
    const pool = POOL_NAME.test(name) ? await getPool(db, name) : null;
    if (!pool) throw new ApiError('not_found', `pool ${name} not found`, 'name');
    const patch = poolFormPatch(form);
    const merged = mergePoolConfig(pool.config, patch);
    if (!merged.ok) {
      const message = merged.errors.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)).join('; ');
      const pools = await listPools(db);
      return c.html(poolsPage(pools, await currentLimits(c), c.var.session.csrfToken, c.var.caller, { name, values: patch, error: message, saved: false }), 400);
    }
    const changes = FIELDS.filter((f) => merged.config[f] !== pool.config[f]);
    await updatePoolConfig(db, name, merged.config, Date.now());
    log.info('pool config changed', { pool: name, changes });
    return c.redirect(`/admin/pools?saved=${encodeURIComponent(name)}`, 302);
  });

  r.get('/admin/instances', async (c) => {
    const now = Date.now();
    const instances = await listInstances(c.var.services.db);
    return c.html(
      <Layout title="Instances" caller={c.var.caller} csrf={c.var.session.csrfToken}>
        <h1>Instances</h1>
        <table id="instances">
          <thead>
            <tr>
              <th>Name</th><th>Pool</th><th>State</th><th>Region</th><th class="num">Cores</th><th class="num">Free</th><th class="num">Used</th>
              <th>Last heartbeat</th><th class="num">Failed requests</th><th>Created</th><th>Reason</th>
            </tr>
          </thead>
          <tbody>
            {instances.map((i) => (
              <tr>
                <td>{i.name}</td><td>{i.pool}</td><td><State state={i.state} /></td><td>{i.region}</td>
                <td class="num">{i.coresMcpu / 1000}</td><td class="num">{i.freeCoresMcpu / 1000}</td><td class="num">{(i.coresMcpu - i.freeCoresMcpu) / 1000}</td>
                <td>{i.lastHeartbeat === null ? '' : `${formatDuration(now - i.lastHeartbeat)} ago`}</td>
                <td class="num">{i.failedRequests}</td><td>{new Date(i.timeCreated).toISOString()}</td><td>{i.reason ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Layout>,
    );
  });

  const usersPage = async (c: Context<UiEnv>, issued?: { username: string; token: string } | null, notice?: string) => {
    const users = await listUsers(c.var.services.db);
    const csrf = c.var.session.csrfToken;
    return c.html(
      <Layout title="Users" caller={c.var.caller} csrf={csrf}>
        <h1>Users</h1>
        {issued ? (
          <div class="notice">
            New token for {issued.username} (shown only now): <code id="issued-token">{issued.token}</code>
          </div>
        ) : null}
        {notice ? <div class="notice">{notice}</div> : null}
        <table id="users" style="max-width:820px">
          <thead><tr><th>User</th><th>Admin</th><th>Created</th><th class="num">Tokens</th><th></th></tr></thead>
          <tbody>
            {users.map((u) => (
              <tr>
                <td>{u.username}</td><td>{u.isAdmin ? 'yes' : ''}</td><td>{u.createdAt.toISOString()}</td><td class="num">{u.nTokens}</td>
                <td>
                  <ActionButton action={`/admin/users/${u.username}/tokens`} label="Issue token" csrf={csrf} />{' '}
                  <ActionButton action={`/admin/users/${u.username}/revoke`} label="Revoke tokens" csrf={csrf} danger />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Layout>,
    );
  };

  r.get('/admin/users', (c) => usersPage(c));

  r.post('/admin/users/:user/tokens', async (c) => {
    await checkedForm(c);
    const username = parseUsername(c.req.param('user'), 'user');
    const token = await issueToken(c.var.services.db, username);
    // Shown on the answer to the POST itself, never in a URL or a redirect.
    c.header('cache-control', 'no-store');
    return usersPage(c, { username, token });
  });

  r.post('/admin/users/:user/revoke', async (c) => {
    await checkedForm(c);
    const username = parseUsername(c.req.param('user'), 'user');
    const revoked = await revokeTokens(c.var.services.db, username);
    return usersPage(c, null, `Revoked ${revoked} token(s) of ${username}; their sessions end with them.`);
  });
}
