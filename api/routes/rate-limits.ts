/**
 * The driver's rate limit (admin): jobs scheduled per second per pool. The scheduler workflow
 * holds the limits (a signal sets them, a query reads them), so a change is live at its next round and survives restarts of every
 * process; operators can make the same change with `temporal workflow signal` (README).
 */
import { createRoute, z } from '@hono/zod-openapi';
import { requireAdmin } from '../auth';
import { ApiError } from '../errors';
import { SECURITY, body, defineRoute, errors, json, nameParam, params, parsedBody, router } from '../contract';
import { getPool } from '../../db/queries/pools';
import { MAX_JOBS_PER_SECOND, rateLimitProblem } from '../../domain/rate-limit';

const RateLimit = z
  .object({ pool: z.string(), jobs_per_second: z.number().positive().max(MAX_JOBS_PER_SECOND) })
  .openapi('RateLimit', { description: 'a pool whose scheduling is limited to jobs_per_second' });
const RateLimitChange = z
  .strictObject({
    jobs_per_second: z
      .number()
      .positive()
      .max(MAX_JOBS_PER_SECOND)
      .nullable()
      .openapi({ description: 'jobs scheduled per second in this pool; null removes the limit' }),
  })
  .openapi('RateLimitChange');
const PoolParams = z.object({ pool: nameParam('pool') });

const asList = (limits: Record<string, number>) =>
  Object.entries(limits)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([pool, jobs_per_second]) => ({ pool, jobs_per_second }));

export function rateLimitRoutes() {
  const r = router();
  const route = (config: Parameters<typeof createRoute>[0]) =>
    createRoute({ tags: ['rate limits'], security: SECURITY.user, middleware: [requireAdmin], ...config });
  const adminErrors = errors('unauthenticated', 'forbidden', 'unavailable');

  defineRoute(
    r,
    route({
      method: 'get',
      path: '/rate_limits',
      summary: 'The rate limits in force, per pool (admin); pools not listed are not limited',
      responses: { 200: json(z.array(RateLimit), 'the limits'), ...adminErrors },
    }),
    async (c) => c.json(asList(await c.var.services.workflows.rateLimits())),
  );

  defineRoute(
    r,
    route({
      method: 'put',
      path: '/rate_limits/{pool}',
      summary: "Set or remove a pool's rate limit (admin); applies from the scheduler's next round",
      request: { params: PoolParams, body: body(RateLimitChange, 'the new limit') },
      responses: {
        200: json(z.object({ pool: z.string(), jobs_per_second: RateLimitChange.shape.jobs_per_second }), 'the change, recorded; the scheduler applies it at its next round'),
        ...adminErrors,
        ...errors('invalid_request', 'not_found', 'payload_too_large'),
      },
    }),
    async (c) => {
      const { db, workflows, log } = c.var.services;
      const pool = params(c, PoolParams).pool;
      const change = await parsedBody(c, RateLimitChange, (raw) => {
        const value = (raw as { jobs_per_second?: unknown } | null)?.jobs_per_second;
        if (typeof raw !== 'object' || raw === null || !('jobs_per_second' in raw)) {
          throw new ApiError('invalid_request', 'jobs_per_second: required (a number, or null for no limit)', 'jobs_per_second');
        }
        const problem = rateLimitProblem(value);
        if (problem) throw new ApiError('invalid_request', `jobs_per_second: ${problem}`, 'jobs_per_second');
        return value as number | null;
      });
      if (!(await getPool(db, pool))) throw new ApiError('not_found', `pool ${pool} not found`, 'pool');
      await workflows.setRateLimit(pool, change);
      log.info('rate limit changed', { pool, jobs_per_second: change });
      return c.json({ pool, jobs_per_second: change });
    },
  );

  return r;
}
