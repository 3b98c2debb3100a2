/**
 * Static assets of the pages: uPlot (from its npm package, read once) and the pages' own
 * script. Served with long caching; nothing here depends on the request.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Hono } from 'hono';
import type { UiEnv } from './session';

const require = createRequire(import.meta.url);
const uplotDir = path.join(path.dirname(require.resolve('uplot/package.json')), 'dist');
const here = path.dirname(fileURLToPath(import.meta.url));

const ASSETS: Record<string, { file: string; type: string }> = {
  'uPlot.iife.min.js': { file: path.join(uplotDir, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  'uPlot.min.css': { file: path.join(uplotDir, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
  'ui.js': { file: path.join(here, 'ui.js'), type: 'text/javascript; charset=utf-8' },
};

const cache = new Map<string, string>();

export function assetRoutes(r: Hono<UiEnv>): void {
  r.get('/ui-assets/:name', (c) => {
    const name = c.req.param('name');
    const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    if (!asset) return c.text('not found', 404);
    let body = cache.get(name);
    if (!body) {
      body = readFileSync(asset.file, 'utf8');
      cache.set(name, body);
    }
    return c.body(body, 200, { 'content-type': asset.type, 'cache-control': 'public, max-age=3600', 'x-content-type-options': 'nosniff' });
  });
}
