/**
 * The input and output steps' cloud half: gs:// and Azure Blob files copied by the agent
 * itself, as the job's user (storage/user-buckets.ts), between the bucket and the attempt's
 * /io. The credentials stay in this process: no container, main least of all, sees them.
 *
 * /io is hostile on the way out (main wrote it): a path is read only if it is a regular file
 * or a directory reached without a link, inside /io; links fail the copy as they do in the
 * host copier. On the way in, object names under a prefix become paths only when each of
 * their segments is a plain name, so a bucket cannot write outside /io either.
 */
import { chown, lstat, mkdir, readdir, realpath, appendFile } from 'node:fs/promises';
import path from 'node:path';
import type { CloudObject } from '../storage/cloud-urls';
import { isWithin } from '../storage/confine';
import { BucketError, openUserBucket, type StorageEndpoints, type UserBucket } from '../storage/user-buckets';
import type { CloudCredentials } from '../storage/user-credentials';
import type { Owner } from './storage-access';

/** One cloud file of a step: its URL (as the user wrote it), the object, and the path under /io. */
export type CloudTransfer = { url: string; object: CloudObject; ioPath: string };

export type CloudCopyResult = { ok: true } | { ok: false; refused: boolean; error: string };

export type CloudCopyContext = {
  ioDir: string;
  credentials: CloudCredentials;
  endpoints: StorageEndpoints;
  owner: Owner;
  user: string;
  logPath: string;
  signal: AbortSignal;
};

const CLOUD_NAME = { gcp: 'Google Cloud Storage', azure: 'Azure Blob Storage' } as const;

export async function copyCloud(direction: 'input' | 'output', transfers: readonly CloudTransfer[], ctx: CloudCopyContext): Promise<CloudCopyResult> {
  const log = (line: string) => appendFile(ctx.logPath, `${line}\n`);
  const buckets: { t: CloudTransfer; bucket: UserBucket }[] = [];
  for (const t of transfers) {
    const bucket = await openUserBucket(t.object, ctx.credentials, ctx.endpoints).catch((err: unknown) => err as Error);
    if (bucket === null || bucket instanceof Error) {
      const why = bucket === null ? `user ${ctx.user} has no ${CLOUD_NAME[t.object.cloud]} identity in this deployment` : bucket.message;
      const error = `refused: ${t.url}: ${why}`;
      await log(error);
      return { ok: false, refused: true, error };
    }
    buckets.push({ t, bucket });
  }
  try {
    const ioReal = await realpath(ctx.ioDir);
    for (const { t, bucket } of buckets) {
      if (ctx.signal.aborted) return { ok: false, refused: false, error: 'cancelled' };
      if (direction === 'input') await copyIn(t, bucket, ioReal, ctx, log);
      else await copyOut(t, bucket, ioReal, log);
    }
    return { ok: true };
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    await log(error);
    return { ok: false, refused: false, error };
  }
}

function objectName(o: CloudObject): string {
  return o.name.replace(/\/$/, '');
}

async function copyIn(t: CloudTransfer, bucket: UserBucket, ioReal: string, ctx: CloudCopyContext, log: (l: string) => Promise<void>): Promise<void> {
  const dest = path.join(ioReal, t.ioPath);
  const name = objectName(t.object);
  await mkdirOwned(ioReal, path.dirname(dest), ctx.owner);
  await log(`copying ${t.url} -> /io/${t.ioPath}`);
  if (!t.object.name.endsWith('/') && (await bucket.download(name, dest))) {
    await own(dest, ctx.owner);
    return;
  }
  // No object of that name: a "directory", everything under name/.
  const prefix = `${name}/`;
  const names = await bucket.list(prefix);
  if (names.length === 0) throw new BucketError('not-found', `${t.url}: no such object`);
  for (const full of names) {
    const rel = full.slice(prefix.length);
    if (rel === '' || rel.endsWith('/')) continue; // a folder placeholder, not a file
    const parts = rel.split('/');
    if (parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\0'))) {
      throw new BucketError('other', `refused: object ${JSON.stringify(full)} does not name a path under ${t.url}`);
    }
    const file = path.join(dest, ...parts);
    if (!isWithin(file, dest)) throw new BucketError('other', `refused: object ${JSON.stringify(full)} leads outside /io`);
    await mkdirOwned(ioReal, path.dirname(file), ctx.owner);
    if (!(await bucket.download(full, file))) throw new BucketError('not-found', `${t.url}: ${full} vanished while being copied`);
    await own(file, ctx.owner);
  }
}

async function copyOut(t: CloudTransfer, bucket: UserBucket, ioReal: string, log: (l: string) => Promise<void>): Promise<void> {
  const src = path.join(ioReal, t.ioPath);
  await log(`copying /io/${t.ioPath} -> ${t.url}`);
  // Every component below /io must be a real directory: realpath equal to the joined path.
  let real: string;
  try {
    real = await realpath(src);
  } catch {
    throw new BucketError('not-found', `output /io/${t.ioPath}: No such file or directory`);
  }
  if (real !== src || !isWithin(real, ioReal)) throw new BucketError('other', `refused: /io/${t.ioPath} is or goes through a symbolic link`);
  const files: { file: string; name: string }[] = [];
  await collect(src, objectName(t.object), files);
  for (const f of files) await bucket.upload(f.file, f.name);
}

/** The regular files of a tree, with their object names; anything else refuses the copy. */
async function collect(at: string, name: string, out: { file: string; name: string }[]): Promise<void> {
  const st = await lstat(at);
  if (st.isFile()) {
    out.push({ file: at, name });
    return;
  }
  if (!st.isDirectory()) throw new BucketError('other', `refused: ${at} is not a regular file or directory`);
  for (const entry of (await readdir(at)).sort()) await collect(path.join(at, entry), `${name}/${entry}`, out);
}

/** Makes `dir` and its missing parents below `ioReal`, each a plain directory given to the owner. */
async function mkdirOwned(ioReal: string, dir: string, owner: Owner): Promise<void> {
  if (!isWithin(dir, ioReal)) throw new BucketError('other', `refused: ${dir} is outside /io`);
  let at = ioReal;
  for (const part of path.relative(ioReal, dir).split(path.sep).filter((p) => p !== '')) {
    at = path.join(at, part);
    try {
      await mkdir(at, { mode: 0o755 });
      await own(at, owner);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (!(await lstat(at)).isDirectory()) throw new BucketError('other', `refused: /io/${path.relative(ioReal, at)} exists and is not a directory`);
    }
  }
}

async function own(p: string, owner: Owner): Promise<void> {
  if (owner) await chown(p, owner.uid, owner.gid);
}
