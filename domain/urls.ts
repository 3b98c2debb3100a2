/**
 * URLs the service itself will call, such as a batch's completion callback. Only absolute
 * http(s) URLs: a `file:`, `gopher:` or scheme-less value would make the service read local
 * files or speak other protocols on the user's behalf.
 */
import { SpecError, showValue } from './errors';
import { MAX_URL_LENGTH } from './limits';

export function parseHttpUrl(text: string, field: string): string {
  if (text.length > MAX_URL_LENGTH) {
    throw new SpecError(field, `must be a URL of at most ${MAX_URL_LENGTH} characters, found ${text.length}`);
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new SpecError(field, `${showValue(text)} is not an absolute URL; expected http://… or https://…`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SpecError(field, `unsupported URL scheme ${showValue(url.protocol.slice(0, -1))}; only http and https are allowed`);
  }
  if (url.hostname === '') throw new SpecError(field, `${showValue(text)} has no host`);
  return text;
}
