/** Exponential backoff with jitter, for calls that must eventually get through. */
export type Backoff = { initialMs: number; maxMs: number };

/** Resolves after `ms` (jittered ±20 %), or early when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  const jittered = ms * (0.8 + Math.random() * 0.4);
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, jittered);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** The delays of successive retries: initialMs, doubling, capped at maxMs. */
export function* delays(b: Backoff): Generator<number, never> {
  for (let d = b.initialMs; ; d = Math.min(b.maxMs, d * 2)) yield d;
}
