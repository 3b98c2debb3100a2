/**
 * Docker image references, checked against the grammar of distribution/reference (the one
 * `docker pull` uses), so a name no registry could serve is refused at submission instead of
 * reaching an agent:
 *
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ domain "/" ] path-component ( "/" path-component )*
 *   domain     := host [ ":" port ]            host: DNS labels (may be upper case), IPv4 or [IPv6]
 *   path-component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
 *   digest     := algorithm ":" hex            algorithm: [A-Za-z][A-Za-z0-9]* ( [+._-] ... )*
 *
 * The first component is the domain when it contains '.' or ':', is `localhost`, or has an
 * upper-case letter (docker's own rule); otherwise the name is a Docker Hub path.
 */
import { SpecError, showValue } from './errors';

/** distribution/reference's NameTotalLengthMax. */
export const MAX_IMAGE_NAME_LENGTH = 255;

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_LABEL = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const IPV6 = /^\[[a-fA-F0-9:]+\]$/;
const PORT = /^[0-9]+$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*):([0-9a-fA-F]{32,})$/;
/** Digest lengths of the registered algorithms; other algorithms need at least 128 bits. */
const DIGEST_HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

export type ImageRef = { domain: string | null; path: string; tag: string | null; digest: string | null };

function looksLikeDomain(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost' || component !== component.toLowerCase();
}

function domainProblem(domain: string): string | null {
  let host = domain;
  let port: string | null = null;
  const portAt = domain.startsWith('[') ? domain.indexOf(']:') + 1 : domain.lastIndexOf(':');
  if (portAt > 0) {
    host = domain.slice(0, portAt);
    port = domain.slice(portAt + 1);
  }
  if (port !== null && (!PORT.test(port) || Number(port) > 65535)) return `registry port ${showValue(port)} is not a port number`;
  if (IPV6.test(host)) return null;
  if (host.split('.').every((label) => DOMAIN_LABEL.test(label))) return null;
  return `registry host ${showValue(host)} is not a host name`;
}

/** The parts of a reference, or why it is not one. */
export function imageRefProblem(ref: string): string | ImageRef {
  if (ref.length === 0) return 'must not be empty';
  let rest = ref;
  let digest: string | null = null;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    const m = DIGEST.exec(digest);
    if (!m) return `digest ${showValue(digest)} is not algorithm:hex, such as sha256:<64 hex digits>`;
    const want = DIGEST_HEX_LENGTH[m[1]!];
    if (want !== undefined && m[2]!.length !== want) return `a ${m[1]} digest has ${want} hex digits, found ${m[2]!.length}`;
  }
  let tag: string | null = null;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.indexOf(':', lastSlash + 1);
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) return `tag ${showValue(tag)} is not a tag (up to 128 of A-Z, a-z, 0-9, _, . and -, not starting with . or -)`;
  }
  if (rest.length > MAX_IMAGE_NAME_LENGTH) return `the repository name is longer than ${MAX_IMAGE_NAME_LENGTH} characters`;
  const components = rest.split('/');
  let domain: string | null = null;
  if (components.length > 1 && looksLikeDomain(components[0]!)) {
    domain = components.shift()!;
    const problem = domainProblem(domain);
    if (problem !== null) return problem;
  }
  for (const c of components) {
    if (PATH_COMPONENT.test(c)) continue;
    if (c !== c.toLowerCase() && PATH_COMPONENT.test(c.toLowerCase())) return 'repository name must be lowercase';
    return `repository path component ${showValue(c)} is not lower-case letters and digits joined by ., _, __ or -`;
  }
  const path = components.join('/');
  // Docker reads a bare 64-hex name as an image id, never as a repository.
  if (domain === null && /^[a-f0-9]{64}$/.test(path)) return 'a 64-hex-digit name is an image id, not a repository';
  return { domain, path, tag, digest };
}

/** A user's image reference, unchanged, or a SpecError on `field` saying what is wrong with it. */
export function parseImageRef(ref: string, field: string): string {
  const result = imageRefProblem(ref);
  if (typeof result === 'string') {
    throw new SpecError(field, `invalid image reference ${showValue(ref)}: ${result}`);
  }
  return ref;
}

/** True when `ref` is a reference Docker would accept (the agent checks before any engine call). */
export function isImageReference(ref: string): boolean {
  return typeof imageRefProblem(ref) !== 'string';
}
