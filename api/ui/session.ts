/**
 * Web UI sessions: signing in with an API token sets an HttpOnly, SameSite=Lax cookie holding
 * a random session id (stored hashed, db/queries/ui-sessions.ts). Pages without a session
 * answer 302 to /login?next=…; every state-changing form carries the session's CSRF token.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { AppEnv } from '../context';
import { ApiError } from '../errors';
import { findUiSession } from '../../db/queries/ui-sessions';

export const SESSION_COOKIE = 'hb_session';
/** The sign-in form's own CSRF value (double submit): there is no session yet to hold one. */
export const LOGIN_CSRF_COOKIE = 'hb_login_csrf';
export const SESSION_TTL_MS = 30 * 24 * 3600 * 1000;

export type UiEnv = AppEnv & { Variables: AppEnv['Variables'] & { session: { id: string; csrfToken: string } } };

export const randomId = (): string => randomBytes(32).toString('base64url');

function cookieOptions(c: Context, maxAgeSecs: number) {
  return {
    path: '/',
    httpOnly: true,
    sameSite: 'Lax' as const,
    secure: new URL(c.req.url).protocol === 'https:',
    maxAge: maxAgeSecs,
  };
}

export function setSessionCookie(c: Context, id: string): void {
  setCookie(c, SESSION_COOKIE, id, cookieOptions(c, SESSION_TTL_MS / 1000));
}

export function clearSessionCookie(c: Context): void {
  deleteCookie(c, SESSION_COOKIE, { path: '/' });
}

export function loginCsrf(c: Context): string {
  const existing = getCookie(c, LOGIN_CSRF_COOKIE);
  if (existing && /^[A-Za-z0-9_-]{43}$/.test(existing)) return existing;
  const fresh = randomId();
  setCookie(c, LOGIN_CSRF_COOKIE, fresh, cookieOptions(c, 3600));
  return fresh;
}

export function sameSecret(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Where a page asked for without a session sends the browser: sign-in, then back here. */
export function loginRedirect(c: Context): Response {
  const url = new URL(c.req.url);
  return c.redirect(`/login?next=${encodeURIComponent(url.pathname + url.search)}`, 302);
}

/** Pages: the session's user as the caller (the same Caller the API's routes check access with). */
export const requireSession: MiddlewareHandler<UiEnv> = async (c, next) => {
  const id = getCookie(c, SESSION_COOKIE);
  const session = id && id.length <= 100 ? await findUiSession(c.var.services.db, id, Date.now()) : null;
  if (!id || !session) {
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') throw new ApiError('unauthenticated', 'sign in first');
    return loginRedirect(c);
  }
  c.set('caller', { username: session.username, isAdmin: session.isAdmin });
  c.set('session', { id, csrfToken: session.csrfToken });
  await next();
};

export const requireUiAdmin: MiddlewareHandler<UiEnv> = async (c, next) => {
  if (!c.var.caller.isAdmin) throw new ApiError('forbidden', 'this page is for admins only');
  await next();
};

/** A posted form, after its CSRF token matched the session's; a mismatch is 403. */
export async function checkedForm(c: Context<UiEnv>): Promise<Record<string, string>> {
  const body = await c.req.parseBody();
  const form: Record<string, string> = {};
  for (const [k, v] of Object.entries(body)) if (typeof v === 'string') form[k] = v;
  if (!sameSecret(form._csrf, c.var.session.csrfToken)) {
    throw new ApiError('forbidden', 'the form is stale or came from another site (CSRF token mismatch); reload the page and try again', '_csrf');
  }
  return form;
}
