/**
 * setTimeout for any delay. Node fires a timer over 2^31-1 ms (about 24.8 days) at once, so a
 * long job timeout is a chain of shorter timers.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Calls `fn` once after `ms`; the returned function cancels it. */
export function setLongTimeout(fn: () => void, ms: number): () => void {
  const deadline = Date.now() + ms;
  let timer: NodeJS.Timeout | undefined;
  let cancelled = false;
  const arm = () => {
    const left = deadline - Date.now();
    if (left <= 0) return fn();
    timer = setTimeout(() => {
      if (!cancelled) arm();
    }, Math.min(left, MAX_TIMER_MS));
  };
  arm();
  return () => {
    cancelled = true;
    clearTimeout(timer);
  };
}
