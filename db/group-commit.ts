/**
 * Group commit: calls for one key that arrive while that key's flush is running wait and go
 * together in the next flush, so N concurrent calls cost about one transaction instead of N
 * queued on the same lock. A call alone is flushed at once: nothing waits for company.
 *
 * A flush of several that throws is retried one item at a time, so one bad item fails only
 * its own caller. Each caller's promise settles with its own result.
 */
type Waiter<I, R> = { item: I; resolve(r: R): void; reject(e: unknown): void };

export function groupCommit<I, R>(
  flush: (key: string, items: I[]) => Promise<R[]>,
  maxItems = 500,
): (key: string, item: I) => Promise<R> {
  const queues = new Map<string, Waiter<I, R>[]>();

  const run = async (key: string, take: Waiter<I, R>[]): Promise<void> => {
    try {
      const results = await flush(key, take.map((w) => w.item));
      take.forEach((w, i) => w.resolve(results[i]!));
    } catch (e) {
      if (take.length === 1) take[0]!.reject(e);
      else for (const w of take) await run(key, [w]);
    }
  };

  const drain = async (key: string, q: Waiter<I, R>[]): Promise<void> => {
    // The queue stays in the map while it drains: later calls join it instead of starting a flush.
    while (q.length > 0) await run(key, q.splice(0, maxItems));
    queues.delete(key);
  };

  return (key, item) =>
    new Promise<R>((resolve, reject) => {
      const q = queues.get(key);
      if (q) {
        q.push({ item, resolve, reject });
        return;
      }
      const fresh: Waiter<I, R>[] = [{ item, resolve, reject }];
      queues.set(key, fresh);
      void drain(key, fresh);
    });
}
