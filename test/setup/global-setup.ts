/**
 * vitest globalSetup: runs once per `vitest run`, in the main process.
 *
 * Starts ONE Temporal dev server for the whole run (every test file shares it and uses its
 * own task queue), bundles the workflow code once (bundling per file is slow and crashes
 * the threads pool), and hands the addresses to the test files through vitest's
 * provide/inject. The helpers in test/support/ read them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { loadConfig } from '../../config';
import { devServerFlags } from '../../temporal.config';

declare module 'vitest' {
  export interface ProvidedContext {
    /** host:port of the run's Temporal dev server. */
    temporalAddress: string;
    /** Namespace to use on it (the dev server's `default`). */
    temporalNamespace: string;
    /** The `temporal` CLI the server was started with (for `temporal workflow show` etc.). */
    temporalCliPath: string;
    /** Bundled workflows/index.ts, for `Worker.create({ workflowBundle: { codePath } })`; null if bundling failed. */
    workflowBundlePath: string | null;
    /** Why there is no bundle, when workflowBundlePath is null. */
    workflowBundleError: string | null;
    /** Superuser URL of the real PostgreSQL; tests create their own databases through it. */
    databaseAdminUrl: string;
  }
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TMP_DIR = path.join(ROOT, '.tmp');
const WORKFLOWS_ENTRY = path.join(ROOT, 'workflows', 'index.ts');
const BUNDLE_PATH = path.join(TMP_DIR, 'workflow-bundle.js');
const DATABASE_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const NAMESPACE = 'default';
const SERVER_START_TIMEOUT_MS = 60_000;

const DYNAMIC_CONFIG = [
  // Tests list and count workflows a lot; the default visibility rate limit is low.
  'frontend.namespaceRPS.visibility=1000',
];

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cliPath = temporalCliPath();
  const [server, bundle] = await Promise.all([startDevServer(cliPath), bundleWorkflows()]);

  project.provide('temporalAddress', server.address);
  project.provide('temporalNamespace', NAMESPACE);
  project.provide('temporalCliPath', cliPath);
  project.provide('workflowBundlePath', bundle.path);
  project.provide('workflowBundleError', bundle.error);
  project.provide('databaseAdminUrl', DATABASE_ADMIN_URL);

  return server.stop;
}

/** HB_TEMPORAL_CLI wins; otherwise what scripts/setup.sh resolved. */
function temporalCliPath(): string {
  const fromEnv = loadConfig().temporal.cliPath;
  if (fromEnv) return fromEnv;
  const recorded = path.join(ROOT, '.tools', 'temporal-path');
  if (existsSync(recorded)) {
    const p = readFileSync(recorded, 'utf8').trim();
    if (p) return p;
  }
  throw new Error(
    'no Temporal CLI: run `bash scripts/setup.sh --test` (npm test does) or set HB_TEMPORAL_CLI=/path/to/temporal',
  );
}

interface DevServer {
  address: string;
  stop: () => Promise<void>;
}

async function startDevServer(cliPath: string): Promise<DevServer> {
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const args = ['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'error'];
  // In memory: a test run needs no persistence; the tuned dynamic config is the same as npm start's.
  args.push(...devServerFlags({ dynamicConfig: DYNAMIC_CONFIG }));

  // Own process group, so teardown can kill the server and anything it spawned.
  const child = spawn(cliPath, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = tailBuffer(child);
  let exited: string | null = null;
  child.once('exit', (code, signal) => {
    exited = `exited with ${signal ?? `code ${code}`}`;
  });
  child.once('error', (err) => {
    exited = `could not be started: ${err.message}`;
  });

  const killGroup = (signal: NodeJS.Signals) => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  // If vitest exits without running teardown (e.g. interrupted), do not leave a server behind.
  const onExit = () => killGroup('SIGKILL');
  process.once('exit', onExit);

  const stop = async () => {
    process.removeListener('exit', onExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    killGroup('SIGTERM');
    const timer = setTimeout(() => killGroup('SIGKILL'), 5_000);
    await gone;
    clearTimeout(timer);
  };

  const deadline = Date.now() + SERVER_START_TIMEOUT_MS;
  for (;;) {
    if (exited) {
      throw new Error(`temporal dev server (${cliPath}) ${exited}\n${output()}`);
    }
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      try {
        await connection.workflowService.describeNamespace({ namespace: NAMESPACE });
        return { address, stop };
      } finally {
        await connection.close();
      }
    } catch (err) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(
          `temporal dev server at ${address} did not accept connections within ${SERVER_START_TIMEOUT_MS / 1000} s: ${String(err)}\n${output()}`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Keeps the last few KB of the server's output for error messages (and drains the pipes). */
function tailBuffer(child: ChildProcess): () => string {
  let text = '';
  const keep = (chunk: Buffer) => {
    text = (text + chunk.toString('utf8')).slice(-8_192);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => text;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * A broken or missing workflow bundle must not stop the unit tests, so failure is passed on
 * as workflowBundleError and reported by the tests that need a bundle.
 */
async function bundleWorkflows(): Promise<{ path: string | null; error: string | null }> {
  if (!existsSync(WORKFLOWS_ENTRY)) {
    const error = `${path.relative(ROOT, WORKFLOWS_ENTRY)} does not exist; no workflow bundle`;
    console.warn(`[global-setup] ${error}`);
    return { path: null, error };
  }
  try {
    const { code } = await bundleWorkflowCode({
      workflowsPath: WORKFLOWS_ENTRY,
      logger: new DefaultLogger('WARN'),
    });
    await mkdir(TMP_DIR, { recursive: true });
    // Write then rename: another run may be reading the previous bundle.
    const partial = `${BUNDLE_PATH}.${process.pid}.tmp`;
    await writeFile(partial, code);
    await rename(partial, BUNDLE_PATH);
    return { path: BUNDLE_PATH, error: null };
  } catch (err) {
    const error = `bundling ${path.relative(ROOT, WORKFLOWS_ENTRY)} failed: ${err instanceof Error ? err.message : String(err)}`;
    console.error(`[global-setup] ${error}`);
    return { path: null, error };
  }
}
