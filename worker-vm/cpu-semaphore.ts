/**
 * The agent's CPU budget: a job holds its cores (in mcpu) while its containers run. Waiters
 * are served first come, first served so a large job is not starved by a stream of small ones.
 */
export class CpuSemaphore {
  private free: number;
  private readonly waiters: { mcpu: number; resolve: () => void }[] = [];

  constructor(readonly totalMcpu: number) {
    this.free = totalMcpu;
  }

  get freeMcpu(): number {
    return this.free;
  }

  /**
   * Resolves with a release function once `mcpu` is available, or with null if `signal`
   * aborts first. A request beyond the total is clamped so it can still run alone.
   */
  acquire(requested: number, signal: AbortSignal): Promise<(() => void) | null> {
    const mcpu = Math.min(Math.max(0, requested), this.totalMcpu);
    if (signal.aborted) return Promise.resolve(null);
    return new Promise((resolve) => {
      const waiter = {
        mcpu,
        resolve: () => {
          signal.removeEventListener('abort', onAbort);
          resolve(this.releaser(mcpu));
        },
      };
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(null);
        this.dispatch();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
      this.dispatch();
    });
  }

  private releaser(mcpu: number): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.free += mcpu;
      this.dispatch();
    };
  }

  private dispatch(): void {
    for (let head = this.waiters[0]; head && head.mcpu <= this.free; head = this.waiters[0]) {
      this.waiters.shift();
      this.free -= head.mcpu;
      head.resolve();
    }
  }
}
