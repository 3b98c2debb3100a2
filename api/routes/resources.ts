/**
 * The billing catalogue over HTTP. GET lists every resource version with its rate (dollars per
 * unit per ms); an admin POSTs `{product, rate}` to price a product anew: the catalogue gains
 * the next version, new attempts are billed under it, and attempts that already started keep
 * the version they recorded.
 */
import { Hono } from 'hono';
import type { AppEnv } from '../context';
import { requireAdmin } from '../auth';
import { jsonBody } from '../access';
import { addResourceVersion, listResources, type ResourceRow } from '../../db/queries/resources';
import { parseNewRate } from '../../domain/billing-catalogue';
import { isoTime } from '../../domain/time';

function resourceJson(r: ResourceRow) {
  return { name: r.name, product: r.product, version: r.version, rate: r.rate, time_created: isoTime(r.timeCreated) };
}

export function resourceRoutes() {
  const r = new Hono<AppEnv>();

  r.get('/resources', async (c) => c.json((await listResources(c.var.services.db)).map(resourceJson)));

  r.post('/resources', requireAdmin, async (c) => {
    const { product, rate } = parseNewRate(await jsonBody(c));
    const row = await addResourceVersion(c.var.services.db, product, rate, Date.now());
    c.var.services.log.info('resource rate added', { resource: row.name, rate });
    return c.json(resourceJson(row), 201);
  });

  return r;
}
