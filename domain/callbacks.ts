/**
 * Rules of completion callbacks: when a failed delivery is tried again, when the service gives
 * up, and which URLs it never calls. Pure, so the delivery activity and the tests share them.
 */

/** Hail's root job group: the batch itself. */
export const ROOT_JOB_GROUP_ID = 0;

export type CallbackRetryPolicy = {
  /** Delay before the second try; doubles after each failure. */
  initialDelayMs: number;
  /** The doubling stops here. */
  maxDelayMs: number;
  /** Tries in all, the first included; after the last failure the callback is given up. */
  maxAttempts: number;
  /** A callback not delivered this long after its batch completed is given up. */
  maxAgeMs: number;
};

export const DEFAULT_CALLBACK_RETRY: CallbackRetryPolicy = {
  initialDelayMs: 1000,
  maxDelayMs: 5 * 60_000,
  maxAttempts: 20,
  maxAgeMs: 24 * 3600_000,
};

/** The delay after the `attempts`-th failed try (1-based): 1 s, 2 s, 4 s … capped. */
export function retryDelayMs(policy: CallbackRetryPolicy, attempts: number): number {
  const exp = Math.min(Math.max(attempts - 1, 0), 40);
  return Math.min(policy.initialDelayMs * 2 ** exp, policy.maxDelayMs);
}

/**
 * After a failed try: the time of the next one, or null when the callback is given up (tries
 * used up, or the next one would come after the callback's maximum age).
 */
export function nextAttemptAt(policy: CallbackRetryPolicy, attempts: number, createdAt: number, now: number): number | null {
  if (attempts >= policy.maxAttempts) return null;
  const at = now + retryDelayMs(policy, attempts);
  return at - createdAt > policy.maxAgeMs ? null : at;
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1', '0.0.0.0', '[::]']);

function portOf(u: URL): string {
  return u.port !== '' ? u.port : u.protocol === 'https:' ? '443' : '80';
}

function isLoopbackName(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return LOOPBACK_NAMES.has(h) || /^127\.\d+\.\d+\.\d+$/.test(h) || h.endsWith('.localhost');
}

/**
 * Why a callback URL is not called, or null when it may be. Storage only holds http(s) URLs
 * (checked at submission); this refuses, once more, anything else and the service itself: a
 * callback to it would let a user make the driver send requests to our API or our agents on
 * their behalf. `ownUrls` are the API's and the agents' addresses; a loopback name on one of
 * their ports counts as them too.
 */
export function callbackRefusal(target: string, ownUrls: readonly string[]): string | null {
  let u: URL;
  try {
    u = new URL(target);
  } catch {
    return 'not an absolute URL';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `scheme ${u.protocol} is not http or https`;
  if (u.username !== '' || u.password !== '') return 'URL carries credentials';
  for (const own of ownUrls) {
    let o: URL;
    try {
      o = new URL(own);
    } catch {
      continue;
    }
    if (portOf(u) !== portOf(o)) continue;
    const host = u.hostname.toLowerCase();
    if (host === o.hostname.toLowerCase() || (isLoopbackName(host) && isLoopbackName(o.hostname))) {
      return 'the URL is the batch service itself';
    }
  }
  return null;
}
