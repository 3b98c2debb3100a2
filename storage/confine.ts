/**
 * Storage confinement in local mode: a job may read and write host files only inside the
 * storage roots of its billing project. A location is a `file://` URL or an absolute path;
 * it counts as inside a root only after `..` is normalized and every symlink is followed, so
 * neither `root/../etc` nor a link planted inside a root leads out of it. The API checks at
 * submission, the agent again at copy time (links can be planted in between).
 */
import { lstat, realpath } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCloudUrl, type CloudStorageKind } from './cloud-urls';

export type FileTransfer = { from: string; to: string };

export type Confined = { ok: true; path: string } | { ok: false; reason: string };

/** The host path a location names, normalized; null unless a `file://` URL or absolute path. */
export function hostPathOf(location: string): string | null {
  if (location.includes('\0')) return null;
  let p = location;
  if (location.startsWith('file:')) {
    try {
      // Only file:///abs and file://localhost/abs name this host; file://other/x is a UNC-style share.
      p = fileURLToPath(location);
    } catch {
      return null;
    }
  } else if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(location)) {
    return null;
  }
  return path.posix.isAbsolute(p) ? path.posix.resolve(p) : null;
}

/** Whether `p` is `root` or lies below it (both already resolved). */
export function isWithin(p: string, root: string): boolean {
  if (p === root) return true;
  return p.startsWith(root.endsWith('/') ? root : `${root}/`);
}

/**
 * The real path of `p`: the realpath of its nearest existing ancestor plus the rest. A
 * component that exists but cannot be resolved (a dangling link, a loop) is refused, since
 * writing through it would create whatever it points at.
 */
export async function resolveHostPath(p: string): Promise<Confined> {
  const missing: string[] = [];
  for (let at = path.posix.resolve(p); ; at = path.posix.dirname(at)) {
    try {
      const real = await realpath(at);
      return { ok: true, path: path.posix.join(real, ...missing.reverse()) };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') return { ok: false, reason: `${p} cannot be resolved (${code ?? String(err)})` };
      if (await exists(at)) return { ok: false, reason: `${p} goes through a symbolic link that points nowhere` };
      if (at === '/') return { ok: false, reason: `${p} cannot be resolved` };
      missing.push(path.posix.basename(at));
    }
  }
}

/** Resolves the roots themselves: a data directory reached through a symlink still matches. */
export async function resolveRoots(roots: readonly string[]): Promise<string[]> {
  const resolved: string[] = [];
  for (const r of roots) {
    const real = await resolveHostPath(r);
    if (real.ok) resolved.push(real.path);
  }
  return resolved;
}

/** Resolves `location` and checks it lies inside one of `realRoots` (from resolveRoots). */
export async function confineLocation(location: string, realRoots: readonly string[]): Promise<Confined> {
  const host = hostPathOf(location);
  if (host === null) return { ok: false, reason: `${JSON.stringify(location)} is not a file:// URL or an absolute path` };
  const real = await resolveHostPath(host);
  if (!real.ok) return real;
  if (!realRoots.some((root) => isWithin(real.path, root))) {
    return { ok: false, reason: `${JSON.stringify(location)} is outside the storage this job's billing project may use` };
  }
  return real;
}

export type StorageViolation = { field: string; message: string };

/**
 * The first host location of a bunch that its billing project may not use, naming the field
 * as the API does (`bunch[0].input_files[1].from`); null when every location is allowed.
 */
/** The cloud object stores a deployment serves user files from (none in local mode). */
export type CloudStorageAccess = Readonly<Record<CloudStorageKind, boolean>>;

const NO_CLOUD: CloudStorageAccess = { gcp: false, azure: false };
const CLOUD_NAMES: Record<CloudStorageKind, string> = { gcp: 'gs:// URLs need a deployment with GCS storage', azure: 'Azure Blob URLs need a deployment with Azure storage' };

/**
 * Whether a cloud object URL may be named: its cloud's storage is configured and it parses.
 * Null when `location` is no cloud URL (the host-path rules apply). Which objects of the
 * cloud a user may reach is the cloud's IAM over the user's own identity, at copy time.
 */
export function cloudLocationProblem(location: string, clouds: CloudStorageAccess): string | null | 'ok' {
  const parsed = parseCloudUrl(location);
  if (parsed === null) return null;
  if (!parsed.ok) return parsed.reason;
  return clouds[parsed.object.cloud] ? 'ok' : `${JSON.stringify(location)}: ${CLOUD_NAMES[parsed.object.cloud]}`;
}

export async function firstStorageViolation(
  jobs: readonly { input_files: readonly FileTransfer[]; output_files: readonly FileTransfer[] }[],
  roots: readonly string[],
  clouds: CloudStorageAccess = NO_CLOUD,
): Promise<StorageViolation | null> {
  const realRoots = await resolveRoots(roots);
  for (const [i, job] of jobs.entries()) {
    for (const [side, files, end] of [
      ['input_files', job.input_files, 'from'],
      ['output_files', job.output_files, 'to'],
    ] as const) {
      for (const [k, f] of files.entries()) {
        const cloud = cloudLocationProblem(f[end], clouds);
        if (cloud === 'ok') continue;
        if (cloud !== null) return { field: `bunch[${i}].${side}[${k}].${end}`, message: cloud };
        const checked = await confineLocation(f[end], realRoots);
        if (!checked.ok) return { field: `bunch[${i}].${side}[${k}].${end}`, message: checked.reason };
      }
    }
  }
  return null;
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}
