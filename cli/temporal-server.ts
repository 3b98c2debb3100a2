/**
 * Local mode's Temporal: `temporal server start-dev` with a SQLite file in the data directory,
 * so a restart comes back with the same workflows, tuned by temporal.config.ts.
 *
 * The server is recorded in the data directory (cli/process-records.ts). On start, a server
 * is adopted only when it is provably this data directory's: it serves our SQLite file (the
 * very file, not a deleted one of the same name) and listens on our port. Any other dev server
 * of ours is killed; a foreign process on the port is a refusal, never a silent reuse. While
 * the service runs, a server that dies is started again on the same file, so workflows resume.
 * stop() stops the server whether this process started it or adopted it.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, mkdirSync, openSync, closeSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Config } from '../config';
import { devServerFlags } from '../temporal.config';
import type { Logger } from './logger';
import {
  commandLine,
  hasOpen,
  isRunning,
  killRecorded,
  listenerOf,
  recordFor,
  recordOf,
  setRecord,
  type ProcessRecord,
} from './process-records';

export function temporalCliPath(config: Config): string {
  if (config.temporal.cliPath) return config.temporal.cliPath;
  const recorded = path.resolve('.tools/temporal-path');
  if (existsSync(recorded)) return readFileSync(recorded, 'utf8').trim();
  return 'temporal';
}

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port }, () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
    sock.setTimeout(1000, () => {
      sock.destroy();
      resolve(false);
    });
  });
}

const THIS_MACHINE = new Set(['127.0.0.1', 'localhost', '::1', '0.0.0.0']);
/** How often the supervisor looks at the server it runs. */
const WATCH_MS = 1000;
const START_TIMEOUT_MS = 30_000;

export type TemporalServer = {
  uiUrl: string;
  /** False for an external server (a non-local address that already answered): not ours to run. */
  started: boolean;
  /** The dev server's pid while one runs for us. */
  pid(): number | null;
  stop(): Promise<void>;
};

/** Whether `pid` is a dev server serving this data directory's SQLite file on our port. */
function servesOurData(pid: number, dbFile: string, port: number): boolean {
  const argv = commandLine(pid);
  const i = argv.indexOf('--db-filename');
  return argv.includes('start-dev') && i >= 0 && argv[i + 1] === dbFile && hasOpen(pid, dbFile) && listenerOf(port) === pid;
}

/** A dev server started for this data directory's file, whatever it serves now (e.g. a deleted file). */
function startedForOurData(pid: number, dbFile: string): boolean {
  const argv = commandLine(pid);
  const i = argv.indexOf('--db-filename');
  return argv.includes('start-dev') && i >= 0 && argv[i + 1] === dbFile;
}

export async function ensureTemporalServer(config: Config, log?: Logger): Promise<TemporalServer> {
  const [host = '127.0.0.1', portText = '7233'] = config.temporal.address.split(':');
  const port = Number(portText);
  const uiUrl = `http://${host}:${config.temporal.uiPort}`;
  const dbFile = config.temporal.dbFile;
  const dataDir = config.dataDir;
  const local = THIS_MACHINE.has(host);

  if (!local && (await reachable(host, port))) return { uiUrl, started: false, pid: () => null, stop: async () => {} };

  let current: ProcessRecord | null = null;
  const previous = recordFor(dataDir, 'temporal');
  if (previous && isRunning(previous)) {
    if (servesOurData(previous.pid, dbFile, port)) {
      current = previous;
      log?.info('adopted the Temporal dev server of the previous run', { pid: previous.pid });
    } else if (startedForOurData(previous.pid, dbFile)) {
      log?.warn('stopping a previous Temporal dev server that no longer serves this data directory', { pid: previous.pid });
      await killRecorded(previous);
    }
    // Otherwise the record names a process that is no dev server of ours (a hand-edited
    // file): it is left alone and the record replaced below.
  }
  if (!current && local) {
    const holder = listenerOf(port);
    if (holder !== null) {
      if (servesOurData(holder, dbFile, port)) {
        current = recordOf('temporal', holder);
        log?.info('adopted a Temporal dev server serving this data directory', { pid: holder });
      } else if (startedForOurData(holder, dbFile)) {
        const stale = recordOf('temporal', holder);
        log?.warn('stopping a Temporal dev server whose data file is gone', { pid: holder });
        if (stale) await killRecorded(stale);
      } else {
        throw new Error(
          `port ${port} (TEMPORAL_ADDRESS ${config.temporal.address}) is held by pid ${holder} (${commandLine(holder).slice(0, 4).join(' ')}), ` +
            `which is not the Temporal server of ${dataDir}; stop it or choose another TEMPORAL_ADDRESS`,
        );
      }
    } else if (await reachable(host, port)) {
      throw new Error(`something answers on ${config.temporal.address} that is not the Temporal server of ${dataDir}; choose another TEMPORAL_ADDRESS`);
    }
  }

  const start = async (): Promise<ProcessRecord> => {
    mkdirSync(dataDir, { recursive: true });
    const logFile = path.join(dataDir, 'temporal.log');
    const out = openSync(logFile, 'a');
    const child = spawn(
      temporalCliPath(config),
      [
        'server', 'start-dev',
        '--ip', host,
        '--port', String(port),
        '--ui-port', String(config.temporal.uiPort),
        '--log-level', 'error',
        ...devServerFlags({ dbFile }),
      ],
      // Its own process group: a terminal's Ctrl-C reaches us, and we stop it in order.
      { stdio: ['ignore', out, out], detached: true },
    );
    closeSync(out);
    const exited = new Promise<string>((resolve) => {
      child.once('exit', (code, signal) => resolve(`exited with ${signal ?? `code ${code}`}`));
      child.once('error', (e) => resolve(`could not be started: ${e.message}`));
    });
    const rec = child.pid === undefined ? null : recordOf('temporal', child.pid);
    if (!rec) throw new Error(`temporal server ${await exited} (see ${logFile})`);
    setRecord(dataDir, 'temporal', rec);
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (await reachable(host, port)) return rec;
      const done = await Promise.race([exited, new Promise<'wait'>((r) => setTimeout(() => r('wait'), 100))]);
      if (done !== 'wait') throw new Error(`temporal server ${done} (see ${logFile})`);
      if (Date.now() > deadline) {
        await killRecorded(rec);
        throw new Error(`temporal server did not listen on ${config.temporal.address} within ${START_TIMEOUT_MS / 1000} s (see ${logFile})`);
      }
    }
  };

  if (current) setRecord(dataDir, 'temporal', current);
  else current = await start();

  let stopping = false;
  let restarting: Promise<void> | null = null;
  // Supervision: a dev server that died (killed, crashed) is started again on the same file;
  // workers and clients reconnect by themselves and workflows resume from its history.
  const watch = setInterval(() => {
    if (stopping || restarting || (current && isRunning(current))) return;
    log?.warn('Temporal dev server is gone; starting it again', { pid: current?.pid });
    current = null;
    restarting = start().then(
      (rec) => {
        current = rec;
        log?.info('Temporal dev server restarted', { pid: rec.pid });
      },
      (e: unknown) => log?.error('Temporal dev server restart failed; trying again', { error: String(e) }),
    ).finally(() => {
      restarting = null;
    });
  }, WATCH_MS);

  return {
    uiUrl,
    started: true,
    pid: () => current?.pid ?? null,
    async stop() {
      stopping = true;
      clearInterval(watch);
      await restarting;
      if (current) {
        // Graceful first, so SQLite checkpoints its WAL; killed if it does not go in time.
        if (!(await killRecorded(current, 'SIGTERM', 10_000))) await killRecorded(current);
      }
      setRecord(dataDir, 'temporal', null);
      current = null;
    },
  };
}
