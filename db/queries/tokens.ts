import { createHash, randomBytes } from 'node:crypto';

/** Tokens are stored as SHA-256 hex digests, so a leaked table leaks no usable token. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function newToken(bytes = 24): string {
  return randomBytes(bytes).toString('base64url');
}
