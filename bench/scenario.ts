/**
 * The start every `--scenario` shares: its options (a usage error prints the usage, and the
 * caller exits 2), signal handlers, and a stamped data directory under .tmp that is removed
 * after success and kept, for its logs, when the scenario fails or on --keep.
 */
import path from 'node:path';
import { rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { installSignalHandlers, note, onCleanup } from './cleanup';

export type Scenario<O> = { opts: O; stamp: string; dataDir: string; run(body: () => Promise<number>): Promise<number> };

export function beginScenario<O extends { keep: boolean }>(argv: string[], parse: (argv: string[]) => O, usage: string): Scenario<O> | null {
  let opts: O;
  try {
    opts = parse(argv);
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n\n${usage}`);
    return null;
  }
  installSignalHandlers();
  const stamp = `${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}_${randomBytes(2).toString('hex')}`;
  const dataDir = path.resolve('.tmp', `bench-${stamp}`);
  let failed = false;
  onCleanup('remove bench data directory', () => {
    if (failed || opts.keep) note(`kept ${dataDir}`);
    else rmSync(dataDir, { recursive: true, force: true });
  });
  return {
    opts,
    stamp,
    dataDir,
    async run(body) {
      try {
        return await body();
      } catch (e) {
        // Its logs (temporal.log, agents/*.log) explain what went wrong.
        failed = true;
        throw e;
      }
    },
  };
}
