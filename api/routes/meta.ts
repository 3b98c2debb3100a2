/** Service facts the Hail client asks for before submitting. */
import { createRoute, z } from '@hono/zod-openapi';
import { SECURITY, defineRoute, errors, json, router, text } from '../contract';

export const SERVICE_VERSION = '0.1.0';

const facts = [
  ['/version', 'The service version', () => SERVICE_VERSION],
  ['/cloud', 'The cloud the service runs in', () => 'local'],
] as const;

export function metaRoutes() {
  const r = router();
  const meta = (path: string, summary: string, response: ReturnType<typeof text> | ReturnType<typeof json>) =>
    createRoute({
      method: 'get',
      path,
      tags: ['meta'],
      summary,
      security: SECURITY.user,
      responses: { 200: response, ...errors('unauthenticated') },
    });
  for (const [path, summary, value] of facts) defineRoute(r, meta(path, summary, text(summary)), (c) => c.text(value()));
  defineRoute(r, meta('/default_region', 'The region jobs run in unless they ask', text('the region')), (c) =>
    c.text(c.var.services.config.region),
  );
  defineRoute(r, meta('/supported_regions', 'Regions jobs may ask for', json(z.array(z.string()), 'the regions')), (c) =>
    c.json([c.var.services.config.region]),
  );
  return r;
}
