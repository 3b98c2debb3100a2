/**
 * The Hono application: user routes (Hail's v1alpha, and v2alpha listings), the worker-facing
 * driver routes, health, and /openapi.json, the contract generated from the routes' own
 * schemas. Services arrive injected, so tests build it with real parts and call app.request()
 * without a server.
 */
import type { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import type { AppEnv, Services } from './context';
import { ApiError, errorResponse, toApiError } from './errors';
import { requireUser } from './auth';
import { healthHandler } from './health';
import { registerSecuritySchemes, router } from './contract';
import { SERVICE_VERSION } from './routes/meta';
import { batchRoutes } from './routes/batches';
import { updateRoutes } from './routes/updates';
import { jobRoutes } from './routes/jobs';
import { jobGroupRoutes } from './routes/job-groups';
import { instanceRoutes } from './routes/instances';
import { metaRoutes } from './routes/meta';
import { userRoutes } from './routes/users';
import { billingProjectRoutes } from './routes/billing-projects';
import { resourceRoutes } from './routes/resources';
import { billingRoutes } from './routes/billing';
import { poolRoutes } from './routes/pools';
import { instanceAdminRoutes } from './routes/instance-admin';
import { rateLimitRoutes } from './routes/rate-limits';
import { metricsHandler } from './metrics';
import { httpMetrics } from '../metrics/http';
import { uiRoutes } from './ui';
import { clusterRoutes } from './routes/clusters';
import { jupyterProxy } from './jupyter-proxy';

export function createApp(services: Services): OpenAPIHono<AppEnv> {
  const app = router();

  app.use('*', async (c, next) => {
    c.set('services', services);
    await next();
  });
  if (services.metrics) app.use('*', httpMetrics(services.metrics));
  app.use(
    '/api/*',
    bodyLimit({
      maxSize: services.config.api.bodyLimitBytes,
      onError: () => {
        throw new ApiError('payload_too_large', `request body exceeds ${services.config.api.bodyLimitBytes} bytes`);
      },
    }),
  );

  app.get('/healthz', healthHandler);
  // For Prometheus, not part of the published contract (see api/metrics.ts).
  app.get('/metrics', metricsHandler);

  // A cluster's Jupyter, behind the user's sign-in (api/jupyter-proxy.ts).
  app.all('/clusters/:name/jupyter', jupyterProxy);
  app.all('/clusters/:name/jupyter/*', jupyterProxy);

  // Worker routes authenticate with instance tokens, never user tokens.
  app.route('/api/v1alpha', instanceRoutes());

  const user = router();
  user.use('*', requireUser);
  user.route('/', metaRoutes());
  user.route('/', batchRoutes(1));
  user.route('/', updateRoutes());
  user.route('/', jobRoutes(1));
  user.route('/', jobGroupRoutes(1));
  user.route('/', userRoutes());
  user.route('/', billingProjectRoutes());
  user.route('/', resourceRoutes());
  user.route('/', billingRoutes());
  user.route('/', poolRoutes());
  user.route('/', instanceAdminRoutes());
  user.route('/', rateLimitRoutes());
  user.route('/', clusterRoutes());
  app.route('/api/v1alpha', user);

  const v2 = router();
  v2.use('*', requireUser);
  v2.route('/', batchRoutes(2));
  v2.route('/', jobRoutes(2));
  v2.route('/', jobGroupRoutes(2));
  app.route('/api/v2alpha', v2);

  // The web UI: HTML pages with their own sign-in and error pages, outside /api.
  app.route('/', uiRoutes(services));

  registerSecuritySchemes(app);
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'hail-batch-temporal',
      version: SERVICE_VERSION,
      description:
        "Hail Batch's REST API (v1alpha, v2alpha listings) and the worker-facing driver routes. " +
        'Every error is `{"error": {"code", "message", "field"?}}`; `field` names the offending value.',
    },
  });

  app.notFound((c) => errorResponse(c, new ApiError('not_found', `no route for ${c.req.method} ${c.req.path}`)));
  app.onError((err, c) => {
    const e = toApiError(err);
    if (e.code === 'internal') {
      const cause = (err as { cause?: unknown }).cause;
      services.log.error('request failed', { path: c.req.path, error: String(err).slice(0, 300), cause: cause ? String(cause) : undefined });
    }
    return errorResponse(c, e);
  });
  return app;
}
