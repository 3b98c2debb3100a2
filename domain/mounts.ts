/**
 * Where things may be put inside a job's containers, and the names of the buckets mounted
 * there. A mount path is used as given by the agent, so it must already be a plain absolute
 * path: no `..` to climb out, not `/` (the whole container), and never /io or anything under
 * it, which holds the job's input and output files.
 */
import { SpecError, showValue } from './errors';
import { MAX_URL_LENGTH } from './limits';

export const IO_DIR = '/io';

/** Why `p` is not an absolute, normalized path (no empty, `.` or `..` segments), or null. */
function pathProblem(p: string): string | null {
  if (p.length > MAX_URL_LENGTH) return `must be at most ${MAX_URL_LENGTH} characters long`;
  if (!p.startsWith('/')) return `${showValue(p)} must be an absolute path`;
  const segments = p.replace(/\/$/, '').split('/').slice(1);
  if (segments.some((s) => s === '' || s === '.' || s === '..')) {
    return `${showValue(p)} must be a normalized path, without '//', '.' or '..'`;
  }
  return null;
}

/** A mount point for a bucket or secret: absolute, normalized, not `/`, not /io or under it. */
export function parseMountPath(p: string, field: string): string {
  const problem = pathProblem(p);
  if (problem !== null) throw new SpecError(field, problem);
  const trimmed = p.replace(/\/$/, '');
  if (trimmed === '') throw new SpecError(field, 'cannot mount over the root of the container');
  if (trimmed === IO_DIR || trimmed.startsWith(`${IO_DIR}/`)) {
    throw new SpecError(field, `cannot mount at ${showValue(p)}; /io holds the job's input and output files`);
  }
  return p;
}

/** The container side of an input or output file: a path under /io, which all three containers share. */
export function parseIoPath(p: string, field: string): string {
  const problem = pathProblem(p);
  if (problem !== null) throw new SpecError(field, problem);
  if (!p.startsWith(`${IO_DIR}/`) || p === `${IO_DIR}/`) {
    throw new SpecError(field, `${showValue(p)} must name a file or directory under /io, which the job's containers share`);
  }
  return p;
}

/** Google Cloud Storage: 3–63 characters per dot-separated name, 222 in all. */
const GCS_BUCKET = /^[a-z0-9](?:[a-z0-9_.-]{1,220})[a-z0-9]$/;
const GCS_PART = /^[a-z0-9_-]{1,63}$/;
/** Azure: `<storage account>/<container>` as Hail's cloudfuse spells it. */
const AZURE_BUCKET = /^[a-z0-9]{3,24}\/[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/;

export function parseBucketName(name: string, field: string): string {
  const gcs = GCS_BUCKET.test(name) && name.split('.').every((part) => GCS_PART.test(part));
  if (gcs || AZURE_BUCKET.test(name)) return name;
  throw new SpecError(
    field,
    `invalid bucket name ${showValue(name)}; expected 3 to 63 of a-z, 0-9, -, _ and . (up to 222 with dots), starting and ending with a letter or digit, or <account>/<container>`,
  );
}
