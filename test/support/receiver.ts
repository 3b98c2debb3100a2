/**
 * A real local HTTP server that records the requests it gets, for callback tests. `answer`
 * decides each response; `close` and `listen` let a test make it refuse connections for a while
 * on the same port.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Received = { method: string; path: string; headers: http.IncomingHttpHeaders; body: string; at: number };

export type Receiver = {
  url: string;
  port: number;
  received: Received[];
  /** Status to answer the n-th request (0-based) with, or 'hang' to never answer. */
  answer: (n: number, req: Received) => number | 'hang' | { status: number; headers: Record<string, string> };
  close(): Promise<void>;
  listen(): Promise<void>;
};

export async function startReceiver(port = 0): Promise<Receiver> {
  const hanging = new Set<http.ServerResponse>();
  let server: http.Server | undefined;
  const r: Receiver = {
    url: '',
    port,
    received: [],
    answer: () => 200,
    async listen() {
      server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const got: Received = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
          const a = r.answer(r.received.length, got);
          r.received.push(got);
          if (a === 'hang') {
            hanging.add(res);
            return;
          }
          const { status, headers } = typeof a === 'number' ? { status: a, headers: {} } : a;
          res.writeHead(status, headers).end('{}');
        });
      });
      await new Promise<void>((resolve) => server!.listen(r.port, '127.0.0.1', resolve));
      r.port = (server.address() as AddressInfo).port;
      r.url = `http://127.0.0.1:${r.port}`;
    },
    async close() {
      for (const res of hanging) res.destroy();
      hanging.clear();
      if (!server) return;
      const s = server;
      server = undefined;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
  await r.listen();
  return r;
}
