/**
 * Runs the ceiling model (bench/model/workflows.ts) on a dev server of its own, started for
 * the run with the settings of a profile: `default` is a stock `temporal server start-dev` on a
 * SQLite file, `tuned` the flags every dev server of the project gets (temporal.config.ts). The
 * service's rates are printed as ratios to these, measured in the same run on the same machine.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Worker } from '@temporalio/worker';
import { devServerFlags, workerTuning } from '../temporal.config';
import { loadConfig } from '../config';
import { endedSignal, type ModelActivities } from './model/workflows';
import { note, onCleanup } from './cleanup';

export type ModelProfile = 'default' | 'tuned';
export type ModelResult = { profile: ModelProfile; jobs: number; window: number; seconds: number; jobsPerSec: number } | { profile: ModelProfile; error: string };

const modelWorkflows = fileURLToPath(new URL('./model/workflows.ts', import.meta.url));

async function connectWithin(address: string, ms: number): Promise<Connection> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const c = await Connection.connect({ address, connectTimeout: 1000 });
      await c.workflowService.getSystemInfo({});
      return c;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

export async function runModel(opts: {
  profile: ModelProfile;
  jobs: number;
  window: number;
  dataDir: string;
  cli: string;
  port: number;
}): Promise<ModelResult> {
  const dir = path.join(opts.dataDir, `model-${opts.profile}`);
  mkdirSync(dir, { recursive: true });
  const dbFile = path.join(dir, 'temporal.sqlite');
  const flags = opts.profile === 'tuned' ? devServerFlags({ dbFile }) : ['--db-filename', dbFile];
  const out = openSync(path.join(dir, 'temporal.log'), 'a');
  const server = spawn(
    opts.cli,
    ['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(opts.port), '--log-level', 'error', ...flags],
    { stdio: ['ignore', out, out], detached: true },
  );
  closeSync(out);
  const stopServer = async () => {
    if (server.exitCode !== null || server.pid === undefined) return;
    const gone = new Promise((r) => server.once('exit', r));
    try {
      process.kill(-server.pid, 'SIGTERM');
    } catch {
      return;
    }
    await Promise.race([gone, new Promise((r) => setTimeout(r, 10_000))]);
    if (server.exitCode === null) process.kill(-server.pid, 'SIGKILL');
  };
  const cleanup = onCleanup(`stop the model's Temporal server (${opts.profile})`, stopServer, 15_000);
  const address = `127.0.0.1:${opts.port}`;
  try {
    const connection = await connectWithin(address, 60_000);
    const client = new Client({ connection });
    const activities: ModelActivities = {
      async look({ workflowId, first }) {
        // The job "runs" once it was looked at: its end arrives from outside, as a report.
        if (first) setImmediate(() => void client.workflow.getHandle(workflowId).signal(endedSignal).catch(() => undefined));
      },
    };
    const worker = await Worker.create({
      connection: await NativeConnection.connect({ address }),
      taskQueue: 'model',
      workflowBundle: await bundleWorkflowCode({ workflowsPath: modelWorkflows, logger: new DefaultLogger('WARN') }),
      activities,
      // The driver's own defaults: the model runs on the worker the service runs on.
      ...workerTuning(loadConfig({}).temporal.worker),
    });
    note(`model (${opts.profile} dev server): ${opts.jobs} jobs, window ${opts.window}`);
    const seconds = await worker.runUntil(async () => {
      const t0 = Date.now();
      await client.workflow.execute('modelBatch', { taskQueue: 'model', workflowId: `model-${Date.now()}`, args: [opts.jobs, opts.window] });
      return (Date.now() - t0) / 1000;
    });
    await connection.close();
    return { profile: opts.profile, jobs: opts.jobs, window: opts.window, seconds, jobsPerSec: opts.jobs / seconds };
  } catch (e) {
    return { profile: opts.profile, error: e instanceof Error ? e.message : String(e) };
  } finally {
    await cleanup();
  }
}
