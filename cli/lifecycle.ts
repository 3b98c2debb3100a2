/**
 * Process lifecycle shared by the entry points: one orderly shutdown however many signals
 * arrive (a terminal's Ctrl-C reaches a process both directly and relayed by npm/tsx), and
 * a lock so that two processes never open the same data directory's embedded database.
 */
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { isRunning, recordOf, type ProcessRecord } from './process-records';

export function onShutdown(stop: () => Promise<void>, log: (msg: string) => void = () => {}): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      log(`${signal} again: still stopping`);
      return;
    }
    stopping = true;
    stop().then(
      () => process.exit(0),
      (e: unknown) => {
        process.stderr.write(`shutdown failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}


const LOCK_FILE = 'local.pid';

/**
 * The live process holding the data directory, if any. The lock file holds "pid start-time",
 * so a pid recycled by an unrelated process after a kill -9 does not count as the holder.
 */
export function dataDirHolder(dataDir: string): ProcessRecord | null {
  let text: string;
  try {
    text = readFileSync(path.join(dataDir, LOCK_FILE), 'utf8').trim();
  } catch {
    return null;
  }
  const [pidText, startTime = ''] = text.split(/\s+/);
  const rec: ProcessRecord = { role: 'local', pid: Number(pidText), startTime };
  return Number.isInteger(rec.pid) && rec.pid > 0 && isRunning(rec) ? rec : null;
}

/**
 * Takes `<dataDir>/local.pid` for this process: the one writer of the data directory's
 * embedded database (the service, or the admin command when no service runs). Throws when a
 * live process holds it. Returns the release.
 */
export function lockDataDir(dataDir: string, what = 'another local service'): () => void {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, LOCK_FILE);
  const me = recordOf('local', process.pid);
  for (let tries = 0; tries < 3; tries++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, `${process.pid} ${me?.startTime ?? ''}`);
      closeSync(fd);
      return () => {
        // Only our own lock: never one a successor took after ours was judged stale.
        if (dataDirHolder(dataDir)?.pid === process.pid) rmSync(file, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = dataDirHolder(dataDir);
      if (holder && holder.pid !== process.pid) {
        throw new DataDirBusy(holder.pid, `${what} (pid ${holder.pid}) is using ${dataDir}; stop it first or set HB_DATA_DIR`);
      }
      // Stale (its writer was killed). Moved aside before it is judged again, so a lock another
      // starter took meanwhile is put back rather than removed.
      const aside = `${file}.${process.pid}.stale`;
      try {
        renameSync(file, aside);
      } catch {
        continue;
      }
      const moved = readFileSync(aside, 'utf8').trim().split(/\s+/);
      const movedRec: ProcessRecord = { role: 'local', pid: Number(moved[0]), startTime: moved[1] ?? '' };
      if (Number.isInteger(movedRec.pid) && movedRec.pid > 0 && isRunning(movedRec)) {
        try {
          linkSync(aside, file);
        } catch {
          // Someone else took it meanwhile; the next round judges that one.
        }
      }
      rmSync(aside, { force: true });
    }
  }
  throw new Error(`could not lock ${dataDir}`);
}

export class DataDirBusy extends Error {
  constructor(
    public readonly holderPid: number,
    message: string,
  ) {
    super(message);
  }
}
