/** Service facts the Hail client asks for before submitting. */
import { Hono } from 'hono';
import type { AppEnv } from '../context';

export const SERVICE_VERSION = '0.1.0';

export function metaRoutes() {
  const r = new Hono<AppEnv>();
  r.get('/version', (c) => c.text(SERVICE_VERSION));
  r.get('/cloud', (c) => c.text('local'));
  r.get('/default_region', (c) => c.text(c.var.services.config.region));
  r.get('/supported_regions', (c) => c.json([c.var.services.config.region]));
  return r;
}
