/**
 * Users and tokens. `userinfo` is for every caller; the rest is admin only (403 otherwise).
 * A token is returned once, when it is made; only its hash is kept.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { requireAdmin } from '../auth';
import { SECURITY, body, defineRoute, parsedBody, errors, json, nameParam, params, router } from '../contract';
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

const Userinfo = z
  .object({
    username: z.string(),
    login_id: z.string(),
    state: z.literal('active'),
    is_developer: z.union([z.literal(0), z.literal(1)]),
    is_service_account: z.literal(0),
    is_admin: z.boolean(),
  })
  .openapi('Userinfo');
const User = z.object({ username: z.string(), is_admin: z.boolean(), time_created: z.string(), n_tokens: z.int() }).openapi('User');
const NewUser = z
  .strictObject({ username: z.string().openapi({ description: 'a lower-case letter, then up to 62 of a-z, 0-9, _ or -' }), is_admin: z.boolean().optional() })
  .openapi('NewUser');
const UserCreated = z.object({ username: z.string(), is_admin: z.boolean(), created: z.boolean() }).openapi('UserCreated');
const UserParams = z.object({ user: nameParam('user') });

const adminErrors = (...more: Parameters<typeof errors>) => errors('unauthenticated', 'forbidden', ...more);

export function userRoutes() {
  const r = router();
  const route = (config: Parameters<typeof createRoute>[0]) => createRoute({ tags: ['users'], security: SECURITY.user, ...config });

  defineRoute(
    r,
    route({
      method: 'get',
      path: '/userinfo',
      summary: 'Who the caller is',
      responses: { 200: json(Userinfo, 'the caller'), ...errors('unauthenticated') },
    }),
    async (c) => {
      const u = await findUser(c.var.services.db, c.var.caller.username);
      // The token was just resolved to this user, so the row exists unless deleted in between.
      return c.json(userinfoJson(u ?? { username: c.var.caller.username, isAdmin: c.var.caller.isAdmin, createdAt: new Date() }));
    },
  );

  defineRoute(
    r,
    route({
      method: 'get',
      path: '/users',
      summary: 'Every user (admin)',
      middleware: [requireAdmin],
      responses: { 200: json(z.array(User), 'the users'), ...adminErrors() },
    }),
    async (c) => c.json((await listUsers(c.var.services.db)).map(userJson)),
  );

  defineRoute(
    r,
    route({
      method: 'post',
      path: '/users',
      summary: 'Create a user (admin); the same user again is a no-op',
      middleware: [requireAdmin],
      request: { body: body(NewUser, 'the user') },
      responses: { 200: json(UserCreated, 'the user, and whether it is new'), ...adminErrors('invalid_request', 'conflict', 'payload_too_large') },
    }),
    async (c) => {
      const spec = await parsedBody(c, NewUser, parseCreateUser);
      const { user, created } = await createUser(c.var.services.db, spec.username, spec.isAdmin);
      return c.json({ username: user.username, is_admin: user.isAdmin, created });
    },
  );

  defineRoute(
    r,
    route({
      method: 'post',
      path: '/users/{user}/tokens',
      summary: 'Issue a token for a user (admin); shown only here',
      middleware: [requireAdmin],
      request: { params: UserParams },
      responses: { 200: json(z.object({ username: z.string(), token: z.string() }).openapi('IssuedToken'), 'the new token'), ...adminErrors('invalid_request', 'not_found') },
    }),
    async (c) => {
      const username = params(c, UserParams).user;
      const token = await issueToken(c.var.services.db, username);
      return c.json({ username, token });
    },
  );

  defineRoute(
    r,
    route({
      method: 'delete',
      path: '/users/{user}/tokens',
      summary: "Revoke every token of a user (admin)",
      middleware: [requireAdmin],
      request: { params: UserParams },
      responses: { 200: json(z.object({ username: z.string(), revoked: z.int() }).openapi('RevokedTokens'), 'how many were revoked'), ...adminErrors('invalid_request', 'not_found') },
    }),
    async (c) => {
      const username = params(c, UserParams).user;
      const revoked = await revokeTokens(c.var.services.db, username);
      return c.json({ username, revoked });
    },
  );

  return r;
}
