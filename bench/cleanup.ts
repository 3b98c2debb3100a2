/**
 * Everything the bench starts registers how to stop it here. Steps run last-in first-out, each
 * with its own time limit, on normal exit, on error and on Ctrl-C / SIGTERM, so a bench never
 * leaves agents, the Temporal server, containers or its database behind.
 */

type Step = { name: string; run: () => Promise<void> | void; timeoutMs: number };

const steps: Step[] = [];
let running: Promise<void> | null = null;
let signals = 0;

export const note = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

/** Registers a stop step; the returned function runs it now (once) and unregisters it. */
export function onCleanup(name: string, run: () => Promise<void> | void, timeoutMs = 30_000): () => Promise<void> {
  const step: Step = { name, run, timeoutMs };
  steps.push(step);
  return async () => {
    const i = steps.indexOf(step);
    if (i < 0) return;
    steps.splice(i, 1);
    await runStep(step);
  };
}

async function runStep(step: Step): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.resolve().then(step.run),
      new Promise<void>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${step.timeoutMs} ms`)), step.timeoutMs);
      }),
    ]);
  } catch (e) {
    note(`cleanup "${step.name}" failed: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs every registered step, newest first. Safe to call more than once. */
export function cleanupAll(): Promise<void> {
  running ??= (async () => {
    while (steps.length > 0) await runStep(steps.pop()!);
  })();
  return running;
}

export function isStopping(): boolean {
  return running !== null;
}

/** Ctrl-C / SIGTERM: stop everything, then exit. A third signal abandons the clean-up. */
export function installSignalHandlers(): void {
  const handler = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      note(`${sig}: stopping the service and cleaning up (Ctrl-C twice more to abandon)`);
      void cleanupAll().finally(() => process.exit(130));
    } else if (signals === 2) {
      note('still cleaning up; one more Ctrl-C abandons it and may leave processes behind');
    } else {
      process.exit(130);
    }
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  process.on('SIGHUP', handler);
}
