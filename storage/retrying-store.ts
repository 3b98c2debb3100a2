/**
 * An object store whose writes are retried. The agent writes each attempt's logs, resource
 * usage and status document once, when the attempt ends; a write lost to a passing failure
 * (a throttled request, an expired token, a network blip) would otherwise lose that log for
 * good once the VM is gone. Writes of the same key with the same bytes are idempotent, so
 * trying again is safe. Reads are not retried: a reader asks again itself.
 */
import type { ObjectStore } from './object-store';

export const PUT_RETRY_DELAYS_MS: readonly number[] = [500, 1000, 2000, 4000, 8000];

export function withRetriedPuts(
  store: ObjectStore,
  onRetry: (key: string, err: unknown, attempt: number) => void,
  delaysMs: readonly number[] = PUT_RETRY_DELAYS_MS,
): ObjectStore {
  return {
    get: (key) => store.get(key),
    async put(key, data) {
      for (let attempt = 0; ; attempt++) {
        try {
          return await store.put(key, data);
        } catch (err) {
          if (attempt >= delaysMs.length) throw err;
          onRetry(key, err, attempt + 1);
          await new Promise((r) => setTimeout(r, delaysMs[attempt]));
        }
      }
    },
  };
}
