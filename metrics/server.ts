/**
 * The driver's metrics listener: `GET /metrics` (Prometheus text) and `GET /healthz` on their
 * own port, since the driver serves no other HTTP. It binds to the configured host (loopback
 * by default: scraped from inside the cluster, never exposed), and when a metrics token is
 * configured it answers only requests bearing it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { bearerMatches } from './access';

export type MetricsServer = { url: string; port: number; stop(): Promise<void> };

export async function startMetricsServer(opts: { host: string; port: number; registry: Registry; token?: string }): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://driver');
    if (req.method !== 'GET' || (url.pathname !== '/metrics' && url.pathname !== '/healthz')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'not_found', message: `no route for ${req.method} ${url.pathname}` } }));
      return;
    }
    if (url.pathname === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      return;
    }
    if (opts.token !== undefined && !bearerMatches(req.headers.authorization, opts.token)) {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'unauthenticated', message: 'metrics need the metrics bearer token' } }));
      return;
    }
    opts.registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': opts.registry.contentType }).end(body),
      (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${String(e).slice(0, 200)}`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${opts.host}:${port}/metrics`,
    port,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
