/**
 * The web UI Hail users know (batches, a batch, a job, billing, clusters, the driver's admin pages),
 * rendered on the server with hono/jsx from the same queries the API uses. Pages answer HTML,
 * errors included; without a session they redirect to sign-in.
 */
import { Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Services } from '../context';
import { ApiError, toApiError } from '../errors';
import { Layout } from './layout';
import type { UiEnv } from './session';
import { assetRoutes } from './assets';
import { loginPages } from './pages/login';
import { batchesPages } from './pages/batches';
import { batchPages } from './pages/batch';
import { jobPages } from './pages/job';
import { billingPages } from './pages/billing';
import { adminPages } from './pages/admin';
import { clusterPages } from './pages/clusters';

/** Forms are a few fields; anything larger is not one of ours. */
const FORM_LIMIT_BYTES = 64 * 1024;

/** Every path the pages answer on; none is under /api, /healthz or /openapi.json. */
export const UI_PATHS = ['/', '/login', '/logout', '/batches', '/batches/*', '/billing', '/clusters', '/admin/*', '/ui-assets/*'];

const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

export function uiRoutes(services: Services): Hono<UiEnv> {
  const r = new Hono<UiEnv>();
  const headers: MiddlewareHandler<UiEnv> = async (c, next) => {
    await next();
    c.header('content-security-policy', CSP);
    c.header('x-frame-options', 'DENY');
    c.header('referrer-policy', 'same-origin');
  };
  const limit = bodyLimit({
    maxSize: FORM_LIMIT_BYTES,
    onError: () => {
      throw new ApiError('payload_too_large', `form body exceeds ${FORM_LIMIT_BYTES} bytes`);
    },
  });
  // Mounted at the root beside /api: middleware is scoped to the pages' own paths, never '*'.
  for (const path of UI_PATHS) r.use(path, headers, limit);
  r.get('/', (c) => c.redirect('/batches', 302));
  assetRoutes(r);
  loginPages(r);
  batchesPages(r);
  batchPages(r);
  jobPages(r);
  billingPages(r);
  clusterPages(r);
  adminPages(r);

  r.onError((err, c) => {
    const e = toApiError(err);
    if (e.code === 'internal') {
      const cause = (err as { cause?: unknown }).cause;
      services.log.error('page failed', { path: c.req.path, error: String(err).slice(0, 300), cause: cause ? String(cause) : undefined });
    }
    const caller = c.get('caller') as UiEnv['Variables']['caller'] | undefined;
    const session = c.get('session') as UiEnv['Variables']['session'] | undefined;
    const title = e.status === 404 ? 'Not found' : e.status === 403 ? 'Forbidden' : e.status >= 500 ? 'Error' : 'Bad request';
    return c.html(
      <Layout title={title} caller={caller} csrf={session?.csrfToken}>
        <h1>{title}</h1>
        <div class="error" role="alert">{e.message}</div>
        <p><a href="/batches">Back to batches</a></p>
      </Layout>,
      e.status,
    );
  });
  return r;
}
