/**
 * Request metrics for the Hono app. The route label is the matched route's template
 * (`/api/v1alpha/batches/:batch_id`), never the raw path, so the number of series is bounded
 * by the routes the app declares; a request no route matched is `unmatched`.
 */
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { ApiMetrics } from './registry';

export function httpMetrics(metrics: ApiMetrics): MiddlewareHandler {
  return async (c, next) => {
    const end = metrics.http.startTimer();
    try {
      await next();
    } finally {
      // The last matched route is the handler's; only middleware (`*` patterns) matched means none did.
      const route = routePath(c, -1);
      end({ method: c.req.method, route: route.includes('*') ? 'unmatched' : route, status: String(c.res.status) });
    }
  };
}
