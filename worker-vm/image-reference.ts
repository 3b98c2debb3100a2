/**
 * Docker's image reference grammar (distribution/reference). The agent checks an image before
 * any Docker call: a name such as `../../etc/passwd` becomes an engine URL path, and the
 * engine's redirect for it sent the client to a host called `etc`.
 */
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]+)?`;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const REFERENCE = new RegExp(`^(${NAME})(?::${TAG})?(?:@${DIGEST})?$`);
const MAX_NAME_LENGTH = 255;

export function isImageReference(image: string): boolean {
  // Bounded first: the grammar is ambiguous enough for a long string to backtrack for a while.
  if (image.length > 1024) return false;
  const m = REFERENCE.exec(image);
  return m !== null && m[1]!.length <= MAX_NAME_LENGTH;
}
