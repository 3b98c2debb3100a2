/** The small HTTP plumbing both cloud emulators share: JSON in and out, a route table. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Req = { method: string; path: string; query: URLSearchParams; body: unknown; headers: http.IncomingHttpHeaders };
export type Res = { status: number; body?: unknown; headers?: Record<string, string> };
export type Route = { method: string; pattern: RegExp; handle: (req: Req, m: RegExpExecArray) => Promise<Res> | Res };

export type Server = { url: string; port: number; close(): Promise<void> };

export async function serve(port: number, routes: Route[], authorize: (req: Req) => Res | null): Promise<Server> {
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      void (async () => {
        const url = new URL(request.url ?? '/', 'http://emulator');
        const raw = Buffer.concat(chunks).toString('utf8');
        let body: unknown = null;
        try {
          body = raw ? JSON.parse(raw) : null;
        } catch {
          body = raw;
        }
        const req: Req = { method: request.method ?? 'GET', path: url.pathname, query: url.searchParams, body, headers: request.headers };
        let res: Res;
        try {
          res = authorize(req) ?? (await dispatch(routes, req));
        } catch (err) {
          res = { status: 500, body: { error: { code: 500, message: String(err) } } };
        }
        const text = res.body === undefined ? '' : JSON.stringify(res.body);
        response.writeHead(res.status, { 'content-type': 'application/json', ...(res.headers ?? {}) });
        response.end(text);
      })();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function dispatch(routes: Route[], req: Req): Promise<Res> {
  for (const r of routes) {
    if (r.method !== req.method) continue;
    const m = r.pattern.exec(req.path);
    if (m) return r.handle(req, m);
  }
  return { status: 404, body: { error: { code: 404, message: `no route ${req.method} ${req.path}` } } };
}

/** Errors a test asks for: the next `times` calls of `action` (optionally in one location) fail. */
export type Injection = { action: string; location?: string; status: number; code: string; message?: string; times: number };

export class Injections {
  private list: Injection[] = [];
  add(i: Injection): void {
    this.list.push({ ...i });
  }
  /** The injection that applies to this call, consumed; null if none. */
  take(action: string, location: string | null): Injection | null {
    const i = this.list.find((x) => x.action === action && x.times > 0 && (x.location === undefined || x.location === location));
    if (!i) return null;
    i.times--;
    this.list = this.list.filter((x) => x.times > 0);
    return i;
  }
}
