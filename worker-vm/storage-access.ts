/**
 * The agent's copy-time side of storage confinement (storage/confine.ts): every host path of
 * a transfer is resolved again, since a link may have been planted after submission, and
 * refused unless inside the job's roots; nothing is copied unless every path passes. Output
 * directories are made here, owned by the storage owner the copier runs as.
 */
import { chmod, chown, lchown, lstat, mkdir, readdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { confineLocation, isWithin, resolveRoots } from '../storage/confine';
import type { Transfer } from './executors/executor';

/** Host uid and gid; null when the agent is not root and so cannot hand files to anyone else. */
export type Owner = { uid: number; gid: number } | null;

export type AllowedTransfers = { ok: true; transfers: Transfer[] } | { ok: false; error: string };

export type JobStorage = {
  /** The roots of the job's billing project (config rootsFor). */
  roots: readonly string[];
  /** The project's default root: the service's own directory, made and owned by the agent. */
  defaultRoot: string;
  owner: Owner;
};

export async function allowTransfers(
  direction: 'input' | 'output',
  transfers: readonly Transfer[],
  storage: JobStorage,
): Promise<AllowedTransfers> {
  const { owner } = storage;
  const realRoots = await resolveRoots(storage.roots);
  if (realRoots.length === 0) return { ok: false, error: 'refused: this job has no storage roots (unknown billing project)' };
  const resolved: Transfer[] = [];
  for (const t of transfers) {
    const checked = await confineLocation(t.hostPath, realRoots);
    if (!checked.ok) return { ok: false, error: `refused: ${checked.reason}` };
    // Writing the root itself would mean mounting its parent, which is outside it.
    if (direction === 'output' && realRoots.includes(checked.path)) {
      return { ok: false, error: `refused: ${t.hostPath} is a storage root itself, not a file inside one` };
    }
    resolved.push({ ...t, hostPath: checked.path });
  }
  if (direction === 'output') {
    const [ownRoot] = await resolveRoots([storage.defaultRoot]);
    for (const t of resolved) {
      const made = await makeParent(t.hostPath, realRoots, ownRoot, owner);
      if (!made.ok) return made;
    }
  }
  return { ok: true, transfers: resolved };
}

/**
 * Creates the missing directories above an output one level at a time, each owned by the
 * storage owner, then checks the result is still the real path inside a root (nothing was
 * swapped for a link meanwhile).
 */
async function makeParent(
  hostPath: string,
  realRoots: readonly string[],
  ownRoot: string | undefined,
  owner: Owner,
): Promise<{ ok: true } | { ok: false; error: string }> {
  const parent = path.posix.dirname(hostPath);
  const root = realRoots.filter((r) => isWithin(parent, r)).sort((a, b) => b.length - a.length)[0];
  if (root === undefined) return { ok: false, error: `refused: ${hostPath} is outside the job's storage roots` };
  try {
    let at = root;
    if (root === ownRoot) {
      await mkdir(root, { recursive: true, mode: 0o755 });
      if (owner) await chown(root, owner.uid, owner.gid);
    } else {
      await mkdirOwned(root, owner);
    }
    for (const part of path.posix.relative(root, parent).split('/').filter((p) => p !== '')) {
      at = path.posix.join(at, part);
      await mkdirOwned(at, owner);
    }
    if ((await realpath(parent)) !== parent) return { ok: false, error: `refused: ${parent} changed into a link while it was being made` };
    return { ok: true };
  } catch (err) {
    return { ok: false, error: `making ${parent}: ${err instanceof Error ? err.message : String(err)}` };
  }
}

async function mkdirOwned(dir: string, owner: Owner): Promise<void> {
  try {
    await mkdir(dir, { mode: 0o755 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const st = await lstat(dir);
    if (!st.isDirectory()) throw new Error(`${dir} exists and is not a directory`);
    return;
  }
  if (owner) await chown(dir, owner.uid, owner.gid);
}

/**
 * Hands a tree the agent owns (an attempt's /io) to the storage owner so the unprivileged
 * copier can read and write it: owned by it, and readable (directories also searchable) by
 * it whatever mode main left. Links are changed themselves, never followed. Main has exited
 * by then, so nothing swaps an entry for a link while this walks.
 */
export async function handOver(dir: string, owner: Owner): Promise<void> {
  if (!owner) return;
  const st = await lstat(dir);
  await lchown(dir, owner.uid, owner.gid);
  if (st.isSymbolicLink()) return;
  if (st.isDirectory()) {
    await chmod(dir, (st.mode & 0o7777) | 0o700);
    for (const entry of await readdir(dir)) await handOver(path.join(dir, entry), owner);
  } else if (st.isFile()) {
    await chmod(dir, (st.mode & 0o7777) | 0o600);
  }
}
