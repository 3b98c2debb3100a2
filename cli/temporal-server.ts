/**
 * Local mode's Temporal: `temporal server start-dev` with a SQLite file in the data directory,
 * so a restart comes back with the same workflows. Reuses a server already listening.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, mkdirSync, openSync, closeSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Config } from '../config';
import { searchAttributeFlags } from '../temporal.config';

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

export type TemporalServer = { uiUrl: string; started: boolean; stop(): Promise<void> };

export async function ensureTemporalServer(config: Config): Promise<TemporalServer> {
  const [host = '127.0.0.1', portText = '7233'] = config.temporal.address.split(':');
  const port = Number(portText);
  const uiUrl = `http://${host}:${config.temporal.uiPort}`;
  if (await reachable(host, port)) return { uiUrl, started: false, stop: async () => {} };

  mkdirSync(config.dataDir, { recursive: true });
  const log = openSync(path.join(config.dataDir, 'temporal.log'), 'a');
  const child: ChildProcess = spawn(
    temporalCliPath(config),
    [
      'server', 'start-dev',
      '--ip', host,
      '--port', String(port),
      '--ui-port', String(config.temporal.uiPort),
      '--db-filename', config.temporal.dbFile,
      '--log-level', 'error',
      ...searchAttributeFlags(),
    ],
    { stdio: ['ignore', log, log], detached: true },
  );
  closeSync(log);
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.once('error', () => undefined);
  for (let i = 0; i < 300; i++) {
    if (await reachable(host, port)) break;
    const done = await Promise.race([exited, new Promise((r) => setTimeout(() => r('wait'), 100))]);
    if (done !== 'wait') throw new Error(`temporal server exited (see ${path.join(config.dataDir, 'temporal.log')})`);
  }
  return {
    uiUrl,
    started: true,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
