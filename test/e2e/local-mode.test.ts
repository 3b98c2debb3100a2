/**
 * `npm start`'s service as a user runs it: one process with embedded PGlite, its own Temporal
 * dev server and agents. It writes credentials, runs a batch, stops cleanly on SIGINT (nothing
 * left running), and comes back with the same batches and workflow history.
 */
import { afterAll, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync, openSync, closeSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import { waitFor } from '../support/service';
import { killProcessesOf } from '../support/agents';
import { processAlive } from '../../activities/cloud/pids';
import { Client, Connection } from '@temporalio/client';
import { batchWorkflowId } from '../../workflows/definitions';

const CLI = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));
let dataDir = '';
let child: ChildProcess | undefined;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  // After a failure the service may not have stopped what it started (its dev server and
  // agents run detached, as they would on a crash): take them down by their data directory.
  if (dataDir) {
    killProcessesOf(dataDir);
    await rm(dataDir, { recursive: true, force: true });
  }
});

function start(env: Record<string, string>): ChildProcess {
  const out = openSync(path.join(dataDir, 'local.out'), 'a');
  // Its own process group, as a terminal would make, so SIGINT can go to the whole group.
  const p = spawn(process.execPath, ['--import', 'tsx', CLI, 'local'], { env: { ...process.env, ...env }, stdio: ['ignore', out, out], detached: true });
  closeSync(out);
  return p;
}

async function interrupt(p: ChildProcess): Promise<void> {
  const exited = new Promise((r) => p.once('exit', r));
  process.kill(-p.pid!, 'SIGINT');
  await exited;
}

it('starts, serves, stops cleanly and comes back with its history', async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'hb-local-'));
  const [apiPort, temporalPort, uiPort] = [await freePort(), await freePort(), await freePort()];
  const env = {
    HB_DATA_DIR: dataDir,
    HB_API_PORT: String(apiPort),
    HB_DRIVER_METRICS_PORT: '0',
    TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
    HB_TEMPORAL_UI_PORT: String(uiPort),
    HB_TEMPORAL_CLI: inject('temporalCliPath'),
    HB_EXECUTOR: 'process',
    HB_LOCAL_POOLS: 'standard:1',
    DATABASE_URL: '',
  };
  delete (env as Record<string, string | undefined>).DATABASE_URL;
  child = start(env);
  const credsFile = path.join(dataDir, 'dev-credentials.json');
  await waitFor('credentials', async () => existsSync(credsFile), 120_000, 250);
  const creds = JSON.parse(await readFile(credsFile, 'utf8')) as { url: string; token: string; billing_project: string; temporal_ui: string };
  expect(creds.url).toBe(`http://127.0.0.1:${apiPort}`);
  expect(creds.temporal_ui).toBe(`http://127.0.0.1:${uiPort}`);
  expect(existsSync(path.join(dataDir, 'pglite'))).toBe(true);
  // Health names both parts it depends on.
  const health = await fetch(`${creds.url}/healthz`);
  expect({ status: health.status, body: await health.json() }).toEqual({ status: 200, body: { ok: true, database: 'ok', temporal: 'ok' } });
  // The dev server it runs is recorded, with its start time, in the data directory.
  const [temporalRecord] = JSON.parse(await readFile(path.join(dataDir, 'processes.json'), 'utf8')) as { role: string; pid: number }[];
  expect(temporalRecord).toMatchObject({ role: 'temporal' });

  const api = (p: string, init: RequestInit = {}) =>
    fetch(`${creds.url}/api/v1alpha${p}`, { ...init, headers: { authorization: `Bearer ${creds.token}`, 'content-type': 'application/json' } });
  const res = await api('/batches/create-fast', {
    method: 'POST',
    body: JSON.stringify({
      batch: { billing_project: creds.billing_project, n_jobs: 2, token: 'local-1' },
      bunch: [
        { job_id: 1, process: { type: 'docker', image: 'x', command: ['echo', 'hi'] } },
        { job_id: 2, process: { type: 'docker', image: 'x', command: ['echo', 'there'] }, in_update_parent_ids: [1] },
      ],
    }),
  });
  expect(res.status).toBe(200);
  const { id } = (await res.json()) as { id: number };
  await waitFor('batch', async () => ((await (await api(`/batches/${id}`)).json()) as { complete: boolean }).complete, 60_000, 250);

  await interrupt(child);
  expect(existsSync(path.join(dataDir, 'local.pid'))).toBe(false);
  expect(processAlive(temporalRecord!.pid)).toBe(false);
  expect(JSON.parse(await readFile(path.join(dataDir, 'processes.json'), 'utf8'))).toEqual([]);
  // Nothing it started is left: no API, no Temporal server.
  await expect(fetch(`${creds.url}/healthz`)).rejects.toThrow();
  await waitFor('temporal server to stop', async () => {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect({ host: '127.0.0.1', port: temporalPort }, () => (s.destroy(), r(false)));
      s.once('error', () => r(true));
    });
    return ok;
  }, 15_000);

  child = start(env);
  await waitFor('api again', async () => {
    try {
      return (await fetch(`${creds.url}/healthz`)).ok;
    } catch {
      return false;
    }
  }, 120_000, 250);
  const again = JSON.parse(await readFile(credsFile, 'utf8')) as { token: string };
  expect(again.token).toBe(creds.token);
  const batch = (await (await api(`/batches/${id}`)).json()) as Record<string, unknown>;
  expect(batch).toMatchObject({ id, state: 'success', n_succeeded: 2 });
  // The workflow history is still there in the dev server's SQLite file. The batch may have
  // been stopped between its last job and its workflow's end: the restarted driver ends it.
  const connection = await Connection.connect({ address: `127.0.0.1:${temporalPort}` });
  const handle = new Client({ connection }).workflow.getHandle(batchWorkflowId(id));
  await waitFor('the batch workflow to complete', async () => (await handle.describe()).status.name === 'COMPLETED', 60_000, 250);
  await connection.close();
  await interrupt(child);
  expect(processAlive(child.pid!)).toBe(false);
}, 300_000);
