/**
 * The billing catalogue over HTTP. GET lists every resource version with its rate (dollars per
 * unit per ms); an admin POSTs `{product, rate}` to price a product anew: the catalogue gains
 * the next version, new attempts are billed under it, and attempts that already started keep
 * the version they recorded.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { requireAdmin } from '../auth';
import { SECURITY, body, defineRoute, errors, json, parsedBody, router } from '../contract';
import { addResourceVersion, listResources, type ResourceRow } from '../../db/queries/resources';
import { parseNewRate } from '../../domain/billing-catalogue';
import { isoTime } from '../../domain/time';

function resourceJson(r: ResourceRow) {
  return { name: r.name, product: r.product, version: r.version, rate: r.rate, time_created: isoTime(r.timeCreated) };
}

const Resource = z
  .object({ name: z.string(), product: z.string(), version: z.int(), rate: z.number(), time_created: z.string().nullable() })
  .openapi('Resource');
const NewRate = z
  .strictObject({
    product: z.string().openapi({ description: "a product name such as 'service-fee', without a version" }),
    rate: z.number().min(0).openapi({ description: 'dollars per unit per ms' }),
  })
  .openapi('NewRate');

export function resourceRoutes() {
  const r = router();

  defineRoute(
    r,
    createRoute({
      method: 'get',
      path: '/resources',
      tags: ['billing'],
      summary: 'The billing catalogue: every resource version and its rate',
      security: SECURITY.user,
      responses: { 200: json(z.array(Resource), 'the catalogue'), ...errors('unauthenticated') },
    }),
    async (c) => c.json((await listResources(c.var.services.db)).map(resourceJson)),
  );

  defineRoute(
    r,
    createRoute({
      method: 'post',
      path: '/resources',
      tags: ['billing'],
      summary: "Price a product anew (admin): the catalogue gains the product's next version",
      security: SECURITY.user,
      middleware: [requireAdmin],
      request: { body: body(NewRate, 'the product and its rate') },
      responses: { 201: json(Resource, 'the new version'), ...errors('invalid_request', 'unauthenticated', 'forbidden', 'payload_too_large') },
    }),
    async (c) => {
      const { product, rate } = await parsedBody(c, NewRate, parseNewRate);
      const row = await addResourceVersion(c.var.services.db, product, rate, Date.now());
      c.var.services.log.info('resource rate added', { resource: row.name, rate });
      return c.json(resourceJson(row), 201);
    },
  );

  return r;
}
