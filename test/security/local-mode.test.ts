/**
 * Local mode under hostile circumstances, as a user meets them: `npm start`'s process killed
 * with kill -9, its Temporal killed, its data directory deleted under a running Temporal, the
 * admin command run beside it, and a writer of the embedded database killed mid-write again
 * and again. Real processes throughout: the service, its dev server, its agents, the CLI.
 */
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../support/service';
import { agentProcesses, killProcessesOf } from '../support/agents';
import { isRunning, listenerOf, recordFor, type ProcessRecord } from '../../cli/process-records';

const CLI = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));
const WRITER = fileURLToPath(new URL('../support/db-writer.ts', import.meta.url));
const dirs: string[] = [];
let dataDir = '';
let child: ChildProcess | undefined;
let env: Record<string, string> = {};
let temporalPort = 0;

type Creds = { url: string; token: string; billing_project: string; pid: number };

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'hb-local-sec-'));
  dirs.push(dataDir);
  temporalPort = await freePort();
  env = {
    HB_DATA_DIR: dataDir,
    HB_API_PORT: String(await freePort()),
    HB_DRIVER_METRICS_PORT: '0',
    TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
    HB_TEMPORAL_UI_PORT: String(await freePort()),
    HB_TEMPORAL_CLI: inject('temporalCliPath'),
    HB_EXECUTOR: 'process',
    HB_LOCAL_POOLS: 'standard:1',
    HB_LOG_LEVEL: 'info',
  };
});

afterAll(async () => {
  if (child?.pid && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
  for (const dir of dirs) {
    killProcessesOf(dir);
    await rm(dir, { recursive: true, force: true });
  }
});

function processEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, ...env, ...extra };
  delete e['DATABASE_URL'];
  return e;
}

function start(): ChildProcess {
  mkdirSync(dataDir, { recursive: true });
  const out = openSync(path.join(dataDir, 'local.out'), 'a');
  const p = spawn(process.execPath, ['--import', 'tsx', CLI, 'local'], { env: processEnv(), stdio: ['ignore', out, out], detached: true });
  closeSync(out);
  return p;
}

/** Waits until `p` serves: its own credentials written and /healthz answering 200. */
async function up(p: ChildProcess): Promise<Creds> {
  const file = path.join(dataDir, 'dev-credentials.json');
  return waitFor('the service to serve', async () => {
    if (p.exitCode !== null) throw new Error(`service exited with ${p.exitCode}: ${readFileSync(path.join(dataDir, 'local.out'), 'utf8').slice(-2000)}`);
    try {
      const creds = JSON.parse(readFileSync(file, 'utf8')) as Creds;
      if (creds.pid !== p.pid) return null;
      return (await fetch(`${creds.url}/healthz`)).status === 200 ? creds : null;
    } catch {
      return null;
    }
  }, 180_000, 250);
}

async function interrupt(p: ChildProcess): Promise<void> {
  const exited = new Promise((r) => p.once('exit', r));
  process.kill(-p.pid!, 'SIGINT');
  await exited;
}

async function killNine(p: ChildProcess): Promise<void> {
  const exited = new Promise((r) => p.once('exit', r));
  process.kill(p.pid!, 'SIGKILL');
  await exited;
}

function api(creds: Creds, route: string, init: RequestInit = {}, token = creds.token): Promise<Response> {
  return fetch(`${creds.url}/api/v1alpha${route}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
}

async function submit(creds: Creds, token: string, first: string[]): Promise<number> {
  const res = await api(creds, '/batches/create-fast', {
    method: 'POST',
    body: JSON.stringify({
      batch: { billing_project: creds.billing_project, n_jobs: 2, token },
      bunch: [
        { job_id: 1, process: { type: 'docker', image: 'x', command: first } },
        { job_id: 2, process: { type: 'docker', image: 'x', command: ['echo', 'after'] }, in_update_parent_ids: [1] },
      ],
    }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { id: number }).id;
}

async function completes(creds: Creds, id: number): Promise<Record<string, unknown>> {
  return waitFor(`batch ${id} to complete`, async () => {
    const b = (await (await api(creds, `/batches/${id}`)).json()) as Record<string, unknown>;
    return b['complete'] ? b : null;
  }, 120_000, 250);
}

function admin(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', CLI, 'admin', ...args], { env: processEnv({ HB_LOG_LEVEL: 'warn' }) }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

const temporalRecord = (): ProcessRecord | undefined => recordFor(dataDir, 'temporal');

/** Nothing of this data directory runs: no Temporal, no agents, no API, no lock. */
async function nothingLeft(creds: Creds, temporal: ProcessRecord): Promise<void> {
  expect(isRunning(temporal)).toBe(false);
  expect(listenerOf(temporalPort)).toBeNull();
  expect(agentProcesses(dataDir)).toEqual([]);
  expect(temporalRecord()).toBeUndefined();
  expect(existsSync(path.join(dataDir, 'local.pid'))).toBe(false);
  await expect(fetch(`${creds.url}/healthz`)).rejects.toThrow();
}

it('the admin command beside the running service works through it', async () => {
  child = start();
  const creds = await up(child);
  expect(await admin('create-user', 'alice')).toMatchObject({ code: 0, stdout: 'created alice\n' });
  const made = await admin('create-token', 'alice');
  expect(made.code).toBe(0);
  const token = made.stdout.trim();
  // The service itself knows the token: it was written by the service, not by a second writer.
  const who = await api(creds, '/userinfo', {}, token);
  expect(who.status).toBe(200);
  expect(await who.json()).toMatchObject({ username: 'alice' });
  expect((await admin('list-users')).stdout).toMatch(/^alice\tuser\t1 token\(s\)$/m);
  expect((await admin('create-user', 'Not-Valid')).code).toBe(2);
}, 300_000);

it('a Temporal that dies is started again and an in-flight batch completes', async () => {
  const creds = await up(child!);
  const id = await submit(creds, 'temporal-dies', ['sleep', '2']);
  const before = temporalRecord()!;
  process.kill(before.pid, 'SIGKILL');
  const after = await waitFor('a new Temporal', async () => {
    const rec = temporalRecord();
    return rec && rec.pid !== before.pid && isRunning(rec) ? rec : null;
  }, 60_000, 100);
  expect(isRunning(before)).toBe(false);
  expect(await completes(creds, id)).toMatchObject({ state: 'success', n_succeeded: 2 });
  await waitFor('healthz ok', async () => (await fetch(`${creds.url}/healthz`)).status === 200, 30_000, 250);
  expect(temporalRecord()).toEqual(after);
}, 300_000);

it('after a kill -9 the next start adopts its own Temporal deliberately, and Ctrl-C stops it and everything else', async () => {
  const temporal = temporalRecord()!;
  await killNine(child!);
  // Left running by the crash, as a VM would be: the next start decides what to do with them.
  expect(isRunning(temporal)).toBe(true);
  child = start();
  const creds = await up(child);
  expect(temporalRecord()).toEqual(temporal);
  expect(readFileSync(path.join(dataDir, 'local.out'), 'utf8')).toMatch(/adopted the Temporal dev server of the previous run/);
  const id = await submit(creds, 'after-adoption', ['echo', 'hi']);
  expect(await completes(creds, id)).toMatchObject({ state: 'success' });
  await interrupt(child);
  await nothingLeft(creds, temporal);
}, 300_000);

it('a Temporal whose data directory was deleted is not reused: the next start replaces it', async () => {
  child = start();
  await up(child);
  const stale = temporalRecord()!;
  await killNine(child);
  await rm(dataDir, { recursive: true, force: true });
  expect(isRunning(stale)).toBe(true);

  child = start();
  const creds = await up(child);
  const fresh = temporalRecord()!;
  expect(fresh.pid).not.toBe(stale.pid);
  expect(isRunning(stale)).toBe(false);
  // Polls work: a batch on the fresh server completes.
  const id = await submit(creds, 'fresh-temporal', ['echo', 'hi']);
  expect(await completes(creds, id)).toMatchObject({ state: 'success', n_succeeded: 2 });
  await interrupt(child);
  await nothingLeft(creds, fresh);
}, 300_000);

it('a writer of the embedded database killed -9 again and again: it always opens, and no second writer gets in', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hb-kill-writes-'));
  dirs.push(dir);
  const writerEnv = processEnv({ HB_DATA_DIR: dir });
  let refusals = 0;
  for (let round = 0; round < 10; round++) {
    const out = openSync(path.join(dir, `writer-${round}.out`), 'w');
    const writer = spawn(process.execPath, ['--import', 'tsx', WRITER], { env: writerEnv, stdio: ['ignore', out, out] });
    closeSync(out);
    const exited = new Promise((r) => writer.once('exit', r));
    const log = () => readFileSync(path.join(dir, `writer-${round}.out`), 'utf8');
    // Even rounds kill while it opens (recovery, migrations); odd ones mid-write.
    if (round % 2 === 1) {
      await waitFor(`writer ${round} ready`, async () => {
        if (writer.exitCode !== null) throw new Error(`writer ${round} exited: ${log()}`);
        return log().includes('ready');
      }, 60_000, 50);
      if (round === 5) {
        const second = await new Promise<{ code: number; stderr: string }>((resolve) =>
          execFile(process.execPath, ['--import', 'tsx', CLI, 'admin', 'create-user', 'intruder'], { env: writerEnv }, (err, _o, stderr) =>
            resolve({ code: err ? Number(err.code) : 0, stderr }),
          ),
        );
        expect(second.code).toBe(1);
        expect(second.stderr).toMatch(/is using .* and is not serving yet/);
        refusals++;
      }
    }
    await new Promise((r) => setTimeout(r, 200 + Math.floor(Math.random() * 1500)));
    expect(writer.exitCode, log()).toBeNull();
    writer.kill('SIGKILL');
    await exited;
  }
  expect(refusals).toBe(1);
  // Opened once more, by the admin command (which takes the stale lock over): every user written is there.
  const listed = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(process.execPath, ['--import', 'tsx', CLI, 'admin', 'list-users'], { env: writerEnv }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
    ),
  );
  expect(listed.stderr).toBe('');
  expect(listed.code).toBe(0);
  expect(listed.stdout.split('\n').filter((l) => /^w\d+x\d+\t/.test(l)).length).toBeGreaterThan(0);
  expect(listed.stdout).not.toMatch(/intruder/);
}, 600_000);
