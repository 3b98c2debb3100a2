/**
 * An emulator of the subset of the Cloud Storage JSON API that @google-cloud/storage and
 * hailtop send: buckets (insert, get), objects (simple, multipart and resumable uploads,
 * download, metadata, list with prefix/delimiter/pages, delete), generation preconditions.
 * State lives on disk under `dir`, so a restarted emulator serves what was written before.
 * Served over HTTP, or HTTPS when given a key and certificate (clients that only talk to
 * https://storage.googleapis.com). Buckets given members (`iam.grant`) need a token of one of
 * them, as gcs-iam.ts checks; other buckets take any caller.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, writeFile, appendFile, stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { CRC32C } from '@google-cloud/storage';
import { AuthError, GcsIam } from './gcs-iam';

export type GcsEmulator = { url: string; port: number; dir: string; iam: GcsIam; stop(): Promise<void> };

type ObjectMeta = {
  name: string;
  bucket: string;
  generation: string;
  size: number;
  contentType: string;
  md5Hash: string;
  crc32c: string;
  timeCreated: string;
  metadata?: Record<string, string>;
};

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly reason = 'invalid') {
    super(message);
  }
}

/**
 * `tls`: a second listener over HTTPS on the same state, for clients that talk only to
 * https://storage.googleapis.com (its host name resolved to `tls.host` for them alone).
 */
export async function startGcsEmulator(opts: {
  dir: string;
  port?: number;
  host?: string;
  tls?: { key: string; cert: string; host: string; port: number };
}): Promise<GcsEmulator> {
  const root = path.resolve(opts.dir);
  mkdirSync(path.join(root, 'uploads'), { recursive: true });
  const store = new DiskState(root);
  const iam = new GcsIam(root);
  const handler = (scheme: string) => (req: http.IncomingMessage, res: http.ServerResponse) => {
    void handle(store, iam, req, res, scheme).catch((err: unknown) => {
      const e =
        err instanceof HttpError
          ? err
          : err instanceof AuthError
            ? new HttpError(err.status, err.message, err.status === 401 ? 'required' : 'forbidden')
            : new HttpError(500, String(err), 'backendError');
      if (!res.headersSent) res.writeHead(e.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: e.status, message: e.message, errors: [{ reason: e.reason, message: e.message }] } }));
    });
  };
  const servers: (http.Server | https.Server)[] = [http.createServer(handler('http'))];
  if (opts.tls) servers.push(https.createServer({ key: opts.tls.key, cert: opts.tls.cert }, handler('https')));
  const at = [
    { port: opts.port ?? 0, host: opts.host ?? '127.0.0.1' },
    ...(opts.tls ? [{ port: opts.tls.port, host: opts.tls.host }] : []),
  ];
  await Promise.all(
    servers.map(
      (server, i) =>
        new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(at[i]!.port, at[i]!.host, () => resolve());
        }),
    ),
  );
  const port = (servers[0]!.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    dir: root,
    iam,
    stop: () =>
      Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.closeAllConnections();
              server.close(() => resolve());
            }),
        ),
      ).then(() => undefined),
  };
}

async function handle(store: DiskState, iam: GcsIam, req: http.IncomingMessage, res: http.ServerResponse, scheme: string): Promise<void> {
  const url = new URL(req.url ?? '/', `${scheme}://${req.headers.host ?? '127.0.0.1'}`);
  const q = url.searchParams;
  const parts = url.pathname.split('/').filter((p) => p !== '').map(decodeURIComponent);
  const method = req.method ?? 'GET';
  const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers });
    res.end(JSON.stringify(body));
  };

  // Google's OAuth token endpoint (www.googleapis.com/oauth2/v4/token, oauth2.googleapis.com/token):
  // a service account's signed assertion for an access token.
  if (method === 'POST' && (url.pathname === '/oauth2/v4/token' || url.pathname === '/token')) {
    const form = new URLSearchParams((await readBody(req)).toString());
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') throw new HttpError(400, 'unsupported_grant_type', 'invalid');
    json(200, iam.exchange(form.get('assertion') ?? ''));
    return;
  }

  // /upload/storage/v1/b/{bucket}/o
  if (parts[0] === 'upload' && parts[1] === 'storage' && parts[3] === 'b' && parts[5] === 'o' && parts.length === 6) {
    const bucket = parts[4]!;
    iam.authorize(req.headers.authorization, bucket);
    await store.requireBucket(bucket);
    const body = await readBody(req);
    const uploadType = q.get('uploadType') ?? 'media';
    if (method === 'POST' && uploadType === 'resumable') {
      const meta = body.length > 0 ? (JSON.parse(body.toString()) as Partial<ObjectMeta>) : {};
      const name = q.get('name') ?? meta.name;
      if (!name) throw new HttpError(400, 'Required parameter: name', 'required');
      const id = randomBytes(12).toString('hex');
      await store.startUpload(id, { bucket, name, contentType: meta.contentType ?? String(req.headers['x-upload-content-type'] ?? 'application/octet-stream'), metadata: meta.metadata, ifGenerationMatch: q.get('ifGenerationMatch') });
      const location = `${url.origin}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&upload_id=${id}`;
      res.writeHead(200, { location, 'x-guploader-uploadid': id, 'content-length': '0' });
      res.end();
      return;
    }
    if ((method === 'PUT' || method === 'POST') && uploadType === 'resumable' && q.get('upload_id')) {
      const done = await store.continueUpload(q.get('upload_id')!, String(req.headers['content-range'] ?? ''), body);
      if ('received' in done) {
        const headers: Record<string, string> = { 'content-length': '0' };
        if (done.received > 0) headers.range = `bytes=0-${done.received - 1}`;
        res.writeHead(308, headers);
        res.end();
        return;
      }
      json(200, resource(done.meta, url.origin));
      return;
    }
    if (method === 'POST' && uploadType === 'multipart') {
      const { meta, data } = parseMultipart(String(req.headers['content-type'] ?? ''), body);
      const name = q.get('name') ?? meta.name;
      if (!name) throw new HttpError(400, 'Required parameter: name', 'required');
      const written = await store.write(bucket, name, data, { contentType: meta.contentType ?? 'application/octet-stream', metadata: meta.metadata }, q.get('ifGenerationMatch'));
      json(200, resource(written, url.origin));
      return;
    }
    if (method === 'POST' && uploadType === 'media') {
      const name = q.get('name');
      if (!name) throw new HttpError(400, 'Required parameter: name', 'required');
      const written = await store.write(bucket, name, body, { contentType: String(req.headers['content-type'] ?? 'application/octet-stream') }, q.get('ifGenerationMatch'));
      json(200, resource(written, url.origin));
      return;
    }
    if (method === 'DELETE' && q.get('upload_id')) {
      await store.cancelUpload(q.get('upload_id')!);
      res.writeHead(499);
      res.end();
      return;
    }
    throw new HttpError(400, `unsupported upload: ${method} uploadType=${uploadType}`);
  }

  // /storage/v1/b[/{bucket}[/o[/{object}]]]
  if (parts[0] === 'storage' && parts[1] === 'v1' && parts[2] === 'b') {
    await readBody(req);
    if (parts.length === 3 && method === 'POST') {
      throw new HttpError(400, 'create buckets with the emulator API (createBucket)');
    }
    const bucket = parts[3];
    if (bucket === undefined) throw new HttpError(404, 'Not Found', 'notFound');
    iam.authorize(req.headers.authorization, bucket);
    await store.requireBucket(bucket);
    if (parts.length === 4 && method === 'GET') {
      json(200, { kind: 'storage#bucket', id: bucket, name: bucket, location: 'US', storageClass: 'STANDARD' });
      return;
    }
    if (parts[4] !== 'o') throw new HttpError(404, 'Not Found', 'notFound');
    if (parts.length === 5 && method === 'GET') {
      json(200, await store.list(bucket, q.get('prefix') ?? '', q.get('delimiter'), q.get('pageToken'), Number(q.get('maxResults') ?? 1000), url.origin));
      return;
    }
    const name = parts.slice(5).join('/');
    if (method === 'GET') {
      const meta = await store.meta(bucket, name);
      if (q.get('alt') === 'media') {
        const data = await store.data(meta);
        res.writeHead(200, {
          'content-type': meta.contentType,
          'content-length': String(data.length),
          'x-goog-generation': meta.generation,
          'x-goog-metageneration': '1',
          'x-goog-stored-content-length': String(data.length),
          'x-goog-hash': `crc32c=${meta.crc32c},md5=${meta.md5Hash}`,
        });
        res.end(data);
        return;
      }
      json(200, resource(meta, url.origin));
      return;
    }
    if (method === 'DELETE') {
      await store.remove(bucket, name, q.get('ifGenerationMatch'));
      res.writeHead(204);
      res.end();
      return;
    }
  }
  throw new HttpError(404, `Not Found: ${method} ${url.pathname}`, 'notFound');
}

/** Creates a bucket directly in the emulator's state (buckets are made by terraform in real deployments). */
export async function createBucket(emulatorDir: string, bucket: string): Promise<void> {
  await mkdir(path.join(emulatorDir, 'b', bucket), { recursive: true });
}

function crc32c(data: Buffer): string {
  const c = new CRC32C();
  c.update(data);
  return c.toString();
}

function resource(m: ObjectMeta, origin: string) {
  const enc = encodeURIComponent(m.name);
  return {
    kind: 'storage#object',
    id: `${m.bucket}/${m.name}/${m.generation}`,
    selfLink: `${origin}/storage/v1/b/${m.bucket}/o/${enc}`,
    mediaLink: `${origin}/storage/v1/b/${m.bucket}/o/${enc}?generation=${m.generation}&alt=media`,
    name: m.name,
    bucket: m.bucket,
    generation: m.generation,
    metageneration: '1',
    contentType: m.contentType,
    storageClass: 'STANDARD',
    size: String(m.size),
    md5Hash: m.md5Hash,
    crc32c: m.crc32c,
    etag: m.md5Hash,
    timeCreated: m.timeCreated,
    updated: m.timeCreated,
    ...(m.metadata ? { metadata: m.metadata } : {}),
  };
}

function parseMultipart(contentType: string, body: Buffer): { meta: Partial<ObjectMeta>; data: Buffer } {
  const boundary = /boundary="?([^";]+)"?/.exec(contentType)?.[1];
  if (!boundary) throw new HttpError(400, 'multipart upload without a boundary');
  const delim = Buffer.from(`--${boundary}`);
  const pieces: Buffer[] = [];
  let at = body.indexOf(delim);
  while (at >= 0) {
    const next = body.indexOf(delim, at + delim.length);
    if (next < 0) break;
    pieces.push(body.subarray(at + delim.length, next));
    at = next;
  }
  const parts = pieces.map((p) => {
    const start = p.indexOf('\r\n') + 2;
    const split = p.indexOf('\r\n\r\n', start);
    if (split < 0) throw new HttpError(400, 'malformed multipart part');
    let content = p.subarray(split + 4);
    if (content.subarray(-2).toString() === '\r\n') content = content.subarray(0, -2);
    return content;
  });
  if (parts.length !== 2) throw new HttpError(400, `multipart upload with ${parts.length} parts, expected 2`);
  return { meta: JSON.parse(parts[0]!.toString()) as Partial<ObjectMeta>, data: parts[1]! };
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

type UploadSession = { bucket: string; name: string; contentType: string; metadata?: Record<string, string>; ifGenerationMatch: string | null };

/** Objects as `b/<bucket>/<hex name>.json` (metadata) pointing at `<hex name>.<generation>` (bytes). */
class DiskState {
  private generation = BigInt(Date.now()) * 1000n;
  constructor(private readonly root: string) {}

  async requireBucket(bucket: string): Promise<void> {
    if (!/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/.test(bucket) || !existsSync(path.join(this.root, 'b', bucket))) {
      throw new HttpError(404, `The specified bucket does not exist: ${bucket}`, 'notFound');
    }
  }

  private file(bucket: string, name: string): string {
    return path.join(this.root, 'b', bucket, Buffer.from(name).toString('hex'));
  }

  async meta(bucket: string, name: string): Promise<ObjectMeta> {
    try {
      return JSON.parse(await readFile(`${this.file(bucket, name)}.json`, 'utf8')) as ObjectMeta;
    } catch {
      throw new HttpError(404, `No such object: ${bucket}/${name}`, 'notFound');
    }
  }

  data(meta: ObjectMeta): Promise<Buffer> {
    return readFile(`${this.file(meta.bucket, meta.name)}.${meta.generation}`);
  }

  private async precondition(bucket: string, name: string, ifGenerationMatch: string | null): Promise<ObjectMeta | null> {
    const current = await this.meta(bucket, name).catch(() => null);
    if (ifGenerationMatch !== null && (current?.generation ?? '0') !== ifGenerationMatch) {
      throw new HttpError(412, 'At least one of the pre-conditions you specified did not hold.', 'conditionNotMet');
    }
    return current;
  }

  async write(bucket: string, name: string, data: Buffer, opts: { contentType: string; metadata?: Record<string, string> }, ifGenerationMatch: string | null): Promise<ObjectMeta> {
    if (name === '' || Buffer.byteLength(name) > 1024) throw new HttpError(400, 'Invalid object name', 'invalid');
    const previous = await this.precondition(bucket, name, ifGenerationMatch);
    const generation = String((this.generation += 1n));
    const base = this.file(bucket, name);
    await writeFile(`${base}.${generation}`, data);
    const meta: ObjectMeta = {
      name,
      bucket,
      generation,
      size: data.length,
      contentType: opts.contentType,
      md5Hash: createHash('md5').update(data).digest('base64'),
      crc32c: crc32c(data),
      timeCreated: new Date().toISOString(),
      ...(opts.metadata ? { metadata: opts.metadata } : {}),
    };
    // The metadata file is the commit point: a reader sees the old generation or the new one.
    const tmp = `${base}.json.${generation}.tmp`;
    await writeFile(tmp, JSON.stringify(meta));
    await rename(tmp, `${base}.json`);
    if (previous) await rm(`${base}.${previous.generation}`, { force: true });
    return meta;
  }

  async remove(bucket: string, name: string, ifGenerationMatch: string | null): Promise<void> {
    const meta = await this.meta(bucket, name);
    if (ifGenerationMatch !== null && meta.generation !== ifGenerationMatch) {
      throw new HttpError(412, 'At least one of the pre-conditions you specified did not hold.', 'conditionNotMet');
    }
    await rm(`${this.file(bucket, name)}.json`, { force: true });
    await rm(`${this.file(bucket, name)}.${meta.generation}`, { force: true });
  }

  async list(bucket: string, prefix: string, delimiter: string | null, pageToken: string | null, maxResults: number, origin: string) {
    const names = (await readdir(path.join(this.root, 'b', bucket)))
      .filter((f) => f.endsWith('.json'))
      .map((f) => Buffer.from(f.slice(0, -5), 'hex').toString())
      .filter((n) => n.startsWith(prefix))
      .sort();
    const items: ObjectMeta[] = [];
    const prefixes = new Set<string>();
    let nextPageToken: string | undefined;
    for (const n of names) {
      if (pageToken !== null && n <= pageToken) continue;
      if (items.length + prefixes.size >= Math.max(1, Math.min(maxResults || 1000, 1000))) {
        nextPageToken = items.length > 0 ? items[items.length - 1]!.name : [...prefixes].pop();
        break;
      }
      const rest = n.slice(prefix.length);
      const cut = delimiter ? rest.indexOf(delimiter) : -1;
      if (delimiter && cut >= 0) prefixes.add(prefix + rest.slice(0, cut + delimiter.length));
      else items.push(await this.meta(bucket, n));
    }
    return {
      kind: 'storage#objects',
      ...(items.length > 0 ? { items: items.map((m) => resource(m, origin)) } : {}),
      ...(prefixes.size > 0 ? { prefixes: [...prefixes] } : {}),
      ...(nextPageToken ? { nextPageToken } : {}),
    };
  }

  private upload(id: string): string {
    if (!/^[0-9a-f]{24}$/.test(id)) throw new HttpError(404, 'No such upload', 'notFound');
    return path.join(this.root, 'uploads', id);
  }

  async startUpload(id: string, session: UploadSession): Promise<void> {
    await writeFile(`${this.upload(id)}.data`, Buffer.alloc(0));
    await writeFile(`${this.upload(id)}.json`, JSON.stringify(session));
  }

  async cancelUpload(id: string): Promise<void> {
    await rm(`${this.upload(id)}.json`, { force: true });
    await rm(`${this.upload(id)}.data`, { force: true });
  }

  // Appends a chunk. Content-Range is `bytes a-b/total`, `bytes a-b/*` (total unknown yet) or `bytes */total` (a status query).
  async continueUpload(id: string, contentRange: string, chunk: Buffer): Promise<{ received: number } | { meta: ObjectMeta }> {
    const base = this.upload(id);
    let session: UploadSession;
    try {
      session = JSON.parse(await readFile(`${base}.json`, 'utf8')) as UploadSession;
    } catch {
      throw new HttpError(404, 'No such upload', 'notFound');
    }
    let received = (await stat(`${base}.data`)).size;
    const m = /^bytes (?:(\d+)-(\d+|\*)|\*)\/(\d+|\*)$/.exec(contentRange.trim());
    let total: number | null = null;
    if (contentRange === '') {
      total = received + chunk.length;
    } else if (!m) {
      throw new HttpError(400, `bad Content-Range: ${contentRange}`);
    } else {
      total = m[3] === '*' ? null : Number(m[3]);
      if (m[1] !== undefined) {
        const start = Number(m[1]);
        if (start > received) throw new HttpError(400, `chunk starts at ${start}, ${received} bytes received`);
        // A resent chunk overlaps what was already stored; keep only its new bytes.
        const fresh = chunk.subarray(received - start);
        await appendFile(`${base}.data`, fresh);
        received += fresh.length;
        // `bytes a-*/…`: one request streaming the rest of the object, complete when it ends.
        if (m[2] === '*') total = received;
      }
    }
    if (total === null || received < total) return { received };
    const data = await readFile(`${base}.data`);
    const meta = await this.write(session.bucket, session.name, data, { contentType: session.contentType, metadata: session.metadata }, session.ifGenerationMatch);
    await this.cancelUpload(id);
    return { meta };
  }
}
