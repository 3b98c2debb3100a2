/** Sign in with an API token, sign out. */
import type { Hono } from 'hono';
import { getCookie } from 'hono/cookie';
import { Layout, ErrorBox } from '../layout';
import {
  LOGIN_CSRF_COOKIE,
  SESSION_COOKIE,
  SESSION_TTL_MS,
  checkedForm,
  clearSessionCookie,
  loginCsrf,
  randomId,
  requireSession,
  sameSecret,
  setSessionCookie,
  type UiEnv,
} from '../session';
import { safeNext } from '../../../domain/ui';
import { userForToken } from '../../../db/queries/users';
import { hashToken } from '../../../db/queries/tokens';
import { createUiSession, deleteUiSession } from '../../../db/queries/ui-sessions';

const LoginPage = (p: { next: string; csrf: string; error?: string }) => (
  <Layout title="Sign in">
    <h1>Sign in</h1>
    <ErrorBox message={p.error} />
    <form method="post" action="/login">
      <input type="hidden" name="_csrf" value={p.csrf} />
      <input type="hidden" name="next" value={p.next} />
      <p>
        <label>
          API token
          <br />
          <input type="password" name="token" autocomplete="current-password" size={60} required autofocus />
        </label>
      </p>
      <p class="muted">The token in your Hail tokens file (or one made with <code>npx tsx cli/main.ts admin create-token NAME</code>).</p>
      <button type="submit">Sign in</button>
    </form>
  </Layout>
);

export function loginPages(r: Hono<UiEnv>): void {
  r.get('/login', (c) => c.html(<LoginPage next={safeNext(c.req.query('next'))} csrf={loginCsrf(c)} />));

  r.post('/login', async (c) => {
    const body = await c.req.parseBody();
    const str = (k: string) => (typeof body[k] === 'string' ? (body[k] as string) : '');
    const next = safeNext(str('next'));
    if (!sameSecret(str('_csrf'), getCookie(c, LOGIN_CSRF_COOKIE))) {
      return c.html(<LoginPage next={next} csrf={loginCsrf(c)} error="The sign-in form expired; please try again." />, 403);
    }
    const token = str('token').trim();
    const user = token && token.length <= 1000 ? await userForToken(c.var.services.db, token) : null;
    if (!user) return c.html(<LoginPage next={next} csrf={loginCsrf(c)} error="token: unknown or revoked API token" />, 401);
    const id = randomId();
    await createUiSession(c.var.services.db, {
      id,
      username: user.username,
      tokenHash: hashToken(token),
      csrfToken: randomId(),
      now: Date.now(),
      ttlMs: SESSION_TTL_MS,
    });
    setSessionCookie(c, id);
    return c.redirect(next, 302);
  });

  r.post('/logout', requireSession, async (c) => {
    await checkedForm(c);
    await deleteUiSession(c.var.services.db, getCookie(c, SESSION_COOKIE) ?? '');
    clearSessionCookie(c);
    return c.redirect('/login', 302);
  });
}
