/**
 * Bearer-token authentication for user routes and instance-token authentication for the
 * worker-facing driver routes. A missing or unknown token is a 401 on every /api route.
 */
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './context';
import { ApiError } from './errors';
import { userForToken } from '../db/queries/users';
import { getInstance } from '../db/queries/instances';
import { hashToken } from '../db/queries/tokens';

function bearer(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  return m?.[1]?.trim() || null;
}

export const requireUser: MiddlewareHandler<AppEnv> = async (c, next) => {
  const token = bearer(c.req.header('authorization'));
  if (!token) throw new ApiError('unauthenticated', 'missing bearer token in the Authorization header');
  const user = await userForToken(c.var.services.db, token);
  if (!user) throw new ApiError('unauthenticated', 'invalid or expired token');
  c.set('caller', { username: user.username, isAdmin: user.isAdmin });
  await next();
};

/** Driver routes: X-Hail-Instance-Name plus that instance's own token (not the activation one). */
export const requireInstance: MiddlewareHandler<AppEnv> = async (c, next) => {
  const name = c.req.header('x-hail-instance-name');
  const token = c.req.header('x-hail-instance-token');
  if (!name || !token) throw new ApiError('unauthenticated', 'missing X-Hail-Instance-Name or X-Hail-Instance-Token');
  const inst = await getInstance(c.var.services.db, name);
  if (!inst || !inst.tokenHash || inst.tokenHash !== hashToken(token) || inst.state === 'deleted') {
    throw new ApiError('unauthenticated', 'invalid instance token');
  }
  c.set('instance', { name });
  await next();
};

/** Admin routes: an authenticated user who is not an admin is refused with 403, as Hail. */
export const requireAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!c.var.caller.isAdmin) throw new ApiError('forbidden', `${c.req.method} ${c.req.path} is for admins only`);
  await next();
};
