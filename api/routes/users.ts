/**
 * Users and tokens. `userinfo` is for every caller; the rest is admin only (403 otherwise).
 * A token is returned once, when it is made; only its hash is kept.
 */
import { Hono } from 'hono';
import type { AppEnv } from '../context';
import { requireAdmin } from '../auth';
import { jsonBody } from '../access';
import { parseCreateUser } from '../../domain/accounts';
import { createUser, findUser, issueToken, listUsers, revokeTokens, type UserListing } from '../../db/queries/accounts';
import type { UserRow } from '../../db/queries/users';

/** Hail's userinfo fields (integers for its flags), plus is_admin spelled out. */
function userinfoJson(u: UserRow) {
  return {
    username: u.username,
    login_id: u.username,
    state: 'active',
    is_developer: u.isAdmin ? 1 : 0,
    is_service_account: 0,
    is_admin: u.isAdmin,
  };
}

function userJson(u: UserListing) {
  return { username: u.username, is_admin: u.isAdmin, time_created: u.createdAt.toISOString(), n_tokens: u.nTokens };
}

export function userRoutes() {
  const r = new Hono<AppEnv>();

  r.get('/userinfo', async (c) => {
    const u = await findUser(c.var.services.db, c.var.caller.username);
    // The token was just resolved to this user, so the row exists unless deleted in between.
    return c.json(userinfoJson(u ?? { username: c.var.caller.username, isAdmin: c.var.caller.isAdmin, createdAt: new Date() }));
  });

  r.get('/users', requireAdmin, async (c) => {
    const rows = await listUsers(c.var.services.db);
    return c.json(rows.map(userJson));
  });

  r.post('/users', requireAdmin, async (c) => {
    const spec = parseCreateUser(await jsonBody(c));
    const { user, created } = await createUser(c.var.services.db, spec.username, spec.isAdmin);
    return c.json({ username: user.username, is_admin: user.isAdmin, created });
  });

  r.post('/users/:user/tokens', requireAdmin, async (c) => {
    const username = c.req.param('user');
    const token = await issueToken(c.var.services.db, username);
    return c.json({ username, token });
  });

  r.delete('/users/:user/tokens', requireAdmin, async (c) => {
    const username = c.req.param('user');
    const revoked = await revokeTokens(c.var.services.db, username);
    return c.json({ username, revoked });
  });

  return r;
}
