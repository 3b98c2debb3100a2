/**
 * A cluster's Jupyter server at /clusters/{name}/jupyter/, behind the user's sign-in: the
 * caller proves who they are with their API token (Authorization: Bearer, or the cookie set
 * by a first visit with ?hb_token=), must belong to the cluster's billing project, and the
 * proxy adds Jupyter's own secret token, which users never see. Websockets (kernel channels)
 * go through the same check in `jupyterUpgrade`, on the Node server's upgrade event.
 */
import net from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Context } from 'hono';
import type { AppEnv, Services } from './context';
import { ApiError } from './errors';
import { userForToken, isProjectMember } from '../db/queries/users';
import { getCluster, liveNodes } from '../db/queries/clusters';
import { CLUSTER_NAME } from '../domain/clusters/spec';

const COOKIE = 'hb_token';
const PATH = /^\/clusters\/([^/?#]+)\/jupyter(\/[^?#]*)?(\?.*)?$/;
/** Hop-by-hop headers and the caller's credentials never reach Jupyter. */
const DROP = new Set(['host', 'authorization', 'cookie', 'connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'origin', 'content-length']);

function cookieToken(header: string | undefined | null): string | null {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === COOKIE) return decodeURIComponent(v.join('='));
  }
  return null;
}

function bearer(header: string | undefined | null): string | null {
  const m = /^Bearer\s+(.+)$/i.exec((header ?? '').trim());
  return m?.[1]?.trim() || null;
}

/** The upstream Jupyter of a cluster the token's user may use, or the reason not. */
async function upstreamFor(s: Services, cluster: string, token: string | null): Promise<{ url: string; jupyterToken: string }> {
  if (!CLUSTER_NAME.test(cluster)) throw new ApiError('not_found', `cluster ${cluster} not found`, 'name');
  if (!token) throw new ApiError('unauthenticated', 'sign in: send your API token as a bearer token, or open this page once with ?hb_token=');
  const user = await userForToken(s.db, token);
  if (!user) throw new ApiError('unauthenticated', 'invalid or expired token');
  const row = await getCluster(s.db, cluster);
  if (!row || !(user.isAdmin || (await isProjectMember(s.db, row.billingProject, user.username)))) {
    throw new ApiError('not_found', `cluster ${cluster} not found`, 'name');
  }
  const master = (await liveNodes(s.db, cluster)).find((n) => n.role === 'master' && n.jupyterUrl);
  if (!master?.jupyterUrl) throw new ApiError('unavailable', `cluster ${cluster} has no running master`);
  return { url: master.jupyterUrl, jupyterToken: row.jupyterToken };
}

export async function jupyterProxy(c: Context<AppEnv>): Promise<Response> {
  const s = c.var.services;
  const url = new URL(c.req.url);
  const cluster = c.req.param('name') ?? '';
  const fromQuery = url.searchParams.get(COOKIE);
  const token = bearer(c.req.header('authorization')) ?? fromQuery ?? cookieToken(c.req.header('cookie'));
  const up = await upstreamFor(s, cluster, token);
  const base = `/clusters/${cluster}/jupyter/`;
  if (fromQuery !== null) {
    // Trade the token in the address for a cookie scoped to this cluster's Jupyter, then drop it from the address.
    url.searchParams.delete(COOKIE);
    return new Response(null, {
      status: 303,
      headers: {
        location: `${url.pathname}${url.search}`,
        'set-cookie': `${COOKIE}=${encodeURIComponent(token!)}; Path=${base}; HttpOnly; SameSite=Strict`,
      },
    });
  }
  const headers = new Headers();
  c.req.raw.headers.forEach((v, k) => {
    if (!DROP.has(k)) headers.set(k, v);
  });
  headers.set('authorization', `token ${up.jupyterToken}`);
  const path = url.pathname === base.slice(0, -1) ? base : url.pathname;
  const method = c.req.method;
  const res = await fetch(`${up.url}${path}${url.search}`, {
    method,
    headers,
    body: method === 'GET' || method === 'HEAD' ? undefined : await c.req.arrayBuffer(),
    redirect: 'manual',
  }).catch(() => {
    throw new ApiError('unavailable', `cluster ${cluster}'s Jupyter does not answer`);
  });
  const out = new Headers(res.headers);
  out.delete('content-encoding');
  out.delete('content-length');
  out.delete('transfer-encoding');
  return new Response(res.body, { status: res.status, headers: out });
}

function refuse(socket: Duplex, status: number, message: string): void {
  socket.end(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : 'Not Found'}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${message}\n`);
}

/**
 * The Node server's `upgrade` handler: a websocket to a cluster's Jupyter is checked as an
 * HTTP request is, then its bytes are piped to the master. Other upgrades are refused. A
 * browser's Origin must be this service (no other site may ride the user's cookie).
 */
export function jupyterUpgrade(s: Services) {
  // Nothing thrown here may reach the server: an upgrade handler's rejection would end the process.
  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => undefined);
    upgrade(req, socket, head).catch(() => socket.destroy());
  };
  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const m = PATH.exec(req.url ?? '');
    if (!m) return refuse(socket, 404, 'no such websocket');
    const origin = req.headers.origin;
    if (origin && URL.canParse(origin) && new URL(origin).host !== req.headers.host) return refuse(socket, 403, 'cross-origin websocket refused');
    if (origin && !URL.canParse(origin)) return refuse(socket, 403, 'bad Origin');
    let up: { url: string; jupyterToken: string };
    try {
      up = await upstreamFor(s, m[1]!, bearer(req.headers.authorization) ?? cookieToken(req.headers.cookie));
    } catch (e) {
      const status = e instanceof ApiError ? e.status : 500;
      return refuse(socket, status, e instanceof Error ? e.message : 'refused');
    }
    const target = new URL(up.url);
    const upstream = net.connect(Number(target.port), target.hostname);
    upstream.on('error', () => socket.destroy());
    upstream.on('connect', () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`, `host: ${target.host}`, `authorization: token ${up.jupyterToken}`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const k = req.rawHeaders[i]!;
        if (['host', 'authorization', 'cookie', 'origin'].includes(k.toLowerCase())) continue;
        lines.push(`${k}: ${req.rawHeaders[i + 1]}`);
      }
      upstream.write(lines.join('\r\n') + '\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    socket.on('close', () => upstream.destroy());
  }
}
