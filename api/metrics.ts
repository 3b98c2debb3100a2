/**
 * `GET /metrics`: the API's Prometheus metrics (requests by route, SQL by query function,
 * process CPU and memory). Hail serves its metrics to a Prometheus inside the cluster; here
 * the API's port is the public one, so the route is not open: it answers the configured
 * metrics token (`HB_METRICS_TOKEN`, what Prometheus presents) or an admin's token, and is
 * left out of /openapi.json, which describes what Hail clients use. Request rates, routes
 * and database timings tell an outsider how the service is used and where it is slow.
 */
import type { Context } from 'hono';
import type { AppEnv } from './context';
import { ApiError } from './errors';
import { userForToken } from '../db/queries/users';
import { bearerMatches } from '../metrics/access';

function bearer(header: string | undefined): string | null {
  const m = /^Bearer\s+(.+)$/i.exec((header ?? '').trim());
  return m?.[1]?.trim() || null;
}

export async function metricsHandler(c: Context<AppEnv>): Promise<Response> {
  const s = c.var.services;
  if (!s.metrics) throw new ApiError('not_found', 'metrics are not collected by this API');
  const header = c.req.header('authorization');
  const token = bearer(header);
  if (!token) throw new ApiError('unauthenticated', 'missing bearer token in the Authorization header');
  const viaMetricsToken = s.config.metrics.token !== undefined && bearerMatches(header, s.config.metrics.token);
  if (!viaMetricsToken) {
    const user = await userForToken(s.db, token);
    if (!user) throw new ApiError('unauthenticated', 'invalid or expired token');
    if (!user.isAdmin) throw new ApiError('forbidden', 'GET /metrics is for admins and the metrics token only');
  }
  const body = await s.metrics.registry.metrics();
  return c.body(body, 200, { 'content-type': s.metrics.registry.contentType });
}
