/**
 * Pool configuration (hail-batch-api §8): admins list the pools and change a pool's config.
 * Changes are stored in the pools table, which submission and the autoscaler read on every
 * use, so they take effect without a restart.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { requireAdmin } from '../auth';
import { ApiError } from '../errors';
import { SECURITY, body, defineRoute, errors, json, nameParam, params, parsedBody, router } from '../contract';
import { getPool, listPools, updatePoolConfig, type PoolRow } from '../../db/queries/pools';
import { mergePoolConfig } from '../../domain/pool-config';
import { DEFAULT_POOL_CONFIG, type PoolConfig } from '../../domain/autoscaler';
import { WORKER_TYPES } from '../../domain/pools';

const poolJson = (p: PoolRow) => ({ name: p.name, ...p.config, time_updated: new Date(p.timeUpdated).toISOString() });

/** One schema per stored field, keyed from the defaults so a new field cannot be left out. */
const CONFIG_FIELDS = Object.fromEntries(
  (Object.keys(DEFAULT_POOL_CONFIG) as (keyof PoolConfig)[]).map((k) => {
    const v = DEFAULT_POOL_CONFIG[k];
    return [k, k === 'worker_type' ? z.enum(WORKER_TYPES) : typeof v === 'boolean' ? z.boolean() : z.int().min(0)];
  }),
) as unknown as Record<keyof PoolConfig, z.ZodType>;

const Pool = z.object({ name: z.string(), ...CONFIG_FIELDS, time_updated: z.string() }).openapi('Pool');
const PoolPatch = z
  .strictObject(Object.fromEntries(Object.entries(CONFIG_FIELDS).map(([k, s]) => [k, s.optional()])))
  .openapi('PoolPatch', { description: 'fields to change; the merged config must stay valid' });
const PoolParams = z.object({ name: nameParam('name') });

/** Hail keeps pool configuration on its admin pages; users have no business with it. */
export function poolRoutes() {
  const r = router();
  const route = (config: Parameters<typeof createRoute>[0]) =>
    createRoute({ tags: ['pools'], security: SECURITY.user, middleware: [requireAdmin], ...config });
  const adminErrors = errors('unauthenticated', 'forbidden');

  defineRoute(
    r,
    route({ method: 'get', path: '/pools', summary: 'Every pool and its config (admin)', responses: { 200: json(z.array(Pool), 'the pools'), ...adminErrors } }),
    async (c) => c.json((await listPools(c.var.services.db)).map(poolJson)),
  );

  defineRoute(
    r,
    route({
      method: 'get',
      path: '/pools/{name}',
      summary: 'One pool (admin)',
      request: { params: PoolParams },
      responses: { 200: json(Pool, 'the pool'), ...adminErrors, ...errors('invalid_request', 'not_found') },
    }),
    async (c) => {
      const name = params(c, PoolParams).name;
      const pool = await getPool(c.var.services.db, name);
      if (!pool) throw new ApiError('not_found', `pool ${name} not found`, 'name');
      return c.json(poolJson(pool));
    },
  );

  defineRoute(
    r,
    route({
      method: 'patch',
      path: '/pools/{name}',
      summary: "Change a pool's config (admin); applies from the next submission and autoscaler loop",
      request: { params: PoolParams, body: body(PoolPatch, 'the fields to change') },
      responses: { 200: json(Pool, 'the pool now'), ...adminErrors, ...errors('invalid_request', 'not_found', 'payload_too_large') },
    }),
    async (c) => {
      const { db } = c.var.services;
      const name = params(c, PoolParams).name;
      const pool = await getPool(db, name);
      if (!pool) throw new ApiError('not_found', `pool ${name} not found`, 'name');
      const { merged, changes } = await parsedBody(c, PoolPatch, (patch) => {
        const merged = mergePoolConfig(pool.config, patch);
        if (!merged.ok) {
          const [first] = merged.errors;
          const message = merged.errors.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)).join('; ');
          throw new ApiError('invalid_request', message, first?.field || undefined);
        }
        return { merged: merged.config, changes: Object.keys(patch as object) };
      });
      const updated = await updatePoolConfig(db, name, merged, Date.now());
      if (!updated) throw new ApiError('not_found', `pool ${name} not found`, 'name');
      c.var.services.log.info('pool config changed', { pool: name, changes });
      return c.json(poolJson(updated));
    },
  );

  return r;
}
