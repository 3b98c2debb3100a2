/**
 * A small real HTTP server playing our own API's worker-facing routes (activate, heartbeat,
 * job_started, job_complete, deactivate), recording what agents send it. It holds the API's
 * side of the contract, not a stand-in for anything outside the project.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Call = { route: string; name: string | undefined; token: string | undefined; body: any };

export type FakeApiOptions = {
  activationToken: string;
  sessionToken?: string;
  /** Status to answer for the first n calls of a route, e.g. {job_complete: [503, 503]}. */
  failFirst?: Record<string, number[]>;
};

export class FakeApi {
  readonly calls: Call[] = [];
  readonly rejected: Call[] = [];
  readonly sessionToken: string;
  private server: Server | undefined;
  private readonly failures: Record<string, number[]>;
  url = '';

  constructor(private readonly opts: FakeApiOptions) {
    this.sessionToken = opts.sessionToken ?? 'session-token-for-tests';
    this.failures = structuredClone(opts.failFirst ?? {});
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      void this.handle(req).then(({ status, body }) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  of(route: string): Call[] {
    return this.calls.filter((c) => c.route === route);
  }

  completions(): any[] {
    return this.of('job_complete').map((c) => c.body);
  }

  completionOf(batchId: number, jobId: number): any | undefined {
    return this.completions().find((b) => b.status.batch_id === batchId && b.status.job_id === jobId);
  }

  async waitFor<T>(what: () => T | undefined | false, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = what();
      if (v !== undefined && v !== false) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting; calls so far: ${this.calls.map((c) => c.route).join(', ')}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; body: unknown }> {
    const prefix = '/api/v1alpha/instances/';
    const route = (req.url ?? '').startsWith(prefix) ? (req.url ?? '').slice(prefix.length) : '';
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const call: Call = {
      route,
      name: header(req, 'x-hail-instance-name'),
      token: header(req, 'x-hail-instance-token'),
      body: text ? JSON.parse(text) : undefined,
    };
    const expected = route === 'activate' ? this.opts.activationToken : this.sessionToken;
    if (req.method !== 'POST' || call.token !== expected || !call.name) {
      this.rejected.push(call);
      return { status: 401, body: { error: 'unauthorized' } };
    }
    const planned = this.failures[route]?.shift();
    if (planned !== undefined) {
      this.rejected.push(call);
      return { status: planned, body: { error: 'planned failure' } };
    }
    this.calls.push(call);
    return { status: 200, body: route === 'activate' ? { token: this.sessionToken } : {} };
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
