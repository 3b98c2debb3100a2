/**
 * Pool configuration (hail-batch-api §8): admins list the pools and change a pool's config.
 * Changes are stored in the pools table, which submission and the autoscaler read on every
 * use, so they take effect without a restart.
 */
import { Hono } from 'hono';
import type { AppEnv } from '../context';
import { requireAdmin } from '../auth';
import { ApiError } from '../errors';
import { jsonBody } from '../access';
import { getPool, listPools, updatePoolConfig, type PoolRow } from '../../db/queries/pools';
import { mergePoolConfig } from '../../domain/pool-config';


const poolJson = (p: PoolRow) => ({ name: p.name, ...p.config, time_updated: new Date(p.timeUpdated).toISOString() });

/** Hail keeps pool configuration on its admin pages; users have no business with it. */
export function poolRoutes() {
  const r = new Hono<AppEnv>();
  r.use('/pools', requireAdmin);
  r.use('/pools/*', requireAdmin);

  r.get('/pools', async (c) => {
    return c.json((await listPools(c.var.services.db)).map(poolJson));
  });

  r.get('/pools/:name', async (c) => {
    const name = c.req.param('name');
    const pool = await getPool(c.var.services.db, name);
    if (!pool) throw new ApiError('not_found', `pool ${name} not found`, 'name');
    return c.json(poolJson(pool));
  });

  r.patch('/pools/:name', async (c) => {
    const { db } = c.var.services;
    const name = c.req.param('name');
    const pool = await getPool(db, name);
    if (!pool) throw new ApiError('not_found', `pool ${name} not found`, 'name');
    const body = await jsonBody(c);
    const merged = mergePoolConfig(pool.config, body);
    if (!merged.ok) {
      const [first] = merged.errors;
      const message = merged.errors.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)).join('; ');
      throw new ApiError('invalid_request', message, first?.field || undefined);
    }
    const updated = await updatePoolConfig(db, name, merged.config, Date.now());
    if (!updated) throw new ApiError('not_found', `pool ${name} not found`, 'name');
    c.var.services.log.info('pool config changed', { pool: name, changes: Object.keys(body as object) });
    return c.json(poolJson(updated));
  });

  return r;
}
