/**
 * Cloud object URLs a job may name in input_files / output_files, in the forms Hail's client
 * writes them: `gs://<bucket>/<object>` and `https://<account>.blob.core.windows.net/<container>/<blob>`.
 * Parsing is strict (Google's bucket and Azure's account and container grammars, an object
 * name without `.`/`..` segments, NUL or control characters), so a URL names exactly one
 * object of one bucket and cannot be read as a path or another host.
 */

export type CloudStorageKind = 'gcp' | 'azure';

export type CloudObject =
  | { cloud: 'gcp'; bucket: string; name: string }
  | { cloud: 'azure'; account: string; container: string; name: string };

export type ParsedCloudUrl = { ok: true; object: CloudObject } | { ok: false; reason: string } | null;

const GCS_BUCKET = /^[a-z0-9][a-z0-9_.-]{1,220}[a-z0-9]$/;
const GCS_PART = /^[a-z0-9_-]{1,63}$/;
const AZURE_ACCOUNT = /^[a-z0-9]{3,24}$/;
const AZURE_CONTAINER = /^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/;
const AZURE_HOST = /^([a-z0-9]{3,24})\.blob\.core\.windows\.net$/;
const MAX_NAME_BYTES = 1024;

/** Which cloud a location names; null when it is no cloud URL at all (a host path, another scheme). */
export function cloudOf(location: string): CloudStorageKind | null {
  if (location.startsWith('gs://')) return 'gcp';
  if (/^https:\/\/([^/@]*@)?[^/@:]*\.blob\.core\.windows\.net(:\d*)?(\/|$)/i.test(location)) return 'azure';
  return null;
}

function nameProblem(name: string): string | null {
  if (name === '') return 'names no object';
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) return `has an object name over ${MAX_NAME_BYTES} bytes`;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(name)) return 'has control characters in its object name';
  const segments = name.replace(/\/$/, '').split('/');
  if (segments.some((s) => s === '.' || s === '..' || s === '')) return "has an empty, '.' or '..' segment in its object name";
  return null;
}

export function parseCloudUrl(location: string): ParsedCloudUrl {
  const cloud = cloudOf(location);
  if (cloud === null) return null;
  const bad = (why: string): ParsedCloudUrl => ({ ok: false, reason: `${JSON.stringify(location)} ${why}` });
  if (cloud === 'gcp') {
    const rest = location.slice('gs://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const name = slash < 0 ? '' : rest.slice(slash + 1);
    if (!GCS_BUCKET.test(bucket) || !bucket.split('.').every((p) => GCS_PART.test(p))) return bad('does not name a valid GCS bucket');
    const problem = nameProblem(name);
    return problem ? bad(problem) : { ok: true, object: { cloud, bucket, name } };
  }
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    return bad('is not a valid URL');
  }
  const account = AZURE_HOST.exec(url.hostname)?.[1];
  if (!account || !AZURE_ACCOUNT.test(account)) return bad('does not name a valid storage account');
  if (url.port !== '' || url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    return bad('must be https://<account>.blob.core.windows.net/<container>/<blob> without port, credentials, query or fragment');
  }
  // The raw path, not URL's normalized one, so `..` cannot be hidden by normalization.
  const rawPath = location.slice(location.indexOf(url.host) + url.host.length);
  const [container, ...parts] = rawPath.slice(1).split('/');
  if (container === undefined || !AZURE_CONTAINER.test(container)) return bad('does not name a valid container');
  let name: string;
  try {
    name = decodeURIComponent(parts.join('/'));
  } catch {
    return bad('has a malformed percent-encoding');
  }
  const problem = nameProblem(name);
  return problem ? bad(problem) : { ok: true, object: { cloud, account, container, name } };
}
