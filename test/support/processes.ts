/**
 * The service as separate OS processes (api, driver), the production shape, so tests can
 * kill -9 either one mid-batch and start it again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, open } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { loadConfig } from '../../config';
import { openDatabase, type Database } from '../../db/client';
import { addProjectMember, addToken, ensureBillingProject, ensureUser } from '../../db/queries/users';
import { liveInstances } from '../../db/queries/instances';
import { createInstanceLifecycle } from '../../activities/instances';
import { createLocalDriver } from '../../activities/cloud/local';
import { createLogger } from '../../cli/logger';
import { createTestDatabase, type TestDatabase } from './db-url';
import { testTemporal, uniqueTaskQueue } from './temporal';
import { waitFor } from './service';
import { billingLimitsWorkflowId, callbacksWorkflowId } from '../../workflows/definitions';

const CLI = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.once('error', reject);
  });
}

export type ProcessService = {
  url: string;
  token: string;
  database: Database;
  dataDir: string;
  start(kind: 'api' | 'driver'): Promise<void>;
  kill9(kind: 'api' | 'driver'): void;
  api(pathname: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
  stop(): Promise<void>;
};

export async function startProcessService(opts: {
  name: string;
  executor: 'docker' | 'process';
  pools: string;
  env?: Record<string, string>;
}): Promise<ProcessService> {
  const temporal = await testTemporal();
  const tdb: TestDatabase = await createTestDatabase(opts.name);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), `hb-${opts.name}-`));
  const port = await freePort();
  const env: Record<string, string> = {
    DATABASE_URL: tdb.url,
    HB_DATA_DIR: dataDir,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
    HB_TASK_QUEUE: uniqueTaskQueue(opts.name),
    HB_API_PORT: String(port),
    HB_API_URL: `http://127.0.0.1:${port}`,
    HB_DRIVER_METRICS_PORT: '0',
    HB_EXECUTOR: opts.executor,
    HB_LOCAL_POOLS: opts.pools,
    HB_AGENT_CORES: '4',
    HB_LOG_LEVEL: 'info',
    HB_AUTOSCALER_LOOP_MS: '2000',
    ...opts.env,
  };
  const config = loadConfig(env);
  const database = await openDatabase(config.database);
  await database.db.execute(sql.raw(`ALTER SEQUENCE batches_id_seq RESTART WITH ${randomInt(1_000_000, 1_000_000_000)}`));
  const token = `tok-${randomInt(1e9)}`;
  await ensureUser(database.db, 'alice');
  await addToken(database.db, 'alice', token);
  await ensureBillingProject(database.db, 'test');
  await addProjectMember(database.db, 'test', 'alice');

  const procs: Partial<Record<'api' | 'driver', ChildProcess>> = {};
  const url = `http://127.0.0.1:${port}`;

  const service: ProcessService = {
    url,
    token,
    database,
    dataDir,
    async start(kind) {
      const log = await open(path.join(dataDir, `${kind}.log`), 'a');
      const child = spawn(process.execPath, ['--import', 'tsx', CLI, kind], {
        env: { ...process.env, ...env },
        stdio: ['ignore', log.fd, log.fd],
      });
      await log.close();
      procs[kind] = child;
      if (kind === 'api') {
        await waitFor('api to listen', async () => {
          try {
            return (await fetch(`${url}/healthz`)).ok;
          } catch {
            return false;
          }
        });
      } else {
        const expected = config.localPool.pools.reduce((n, p) => n + p.count, 0);
        await waitFor('agents to be active', async () => (await liveInstances(database.db)).filter((i) => i.state === 'active').length >= expected);
      }
    },
    kill9(kind) {
      procs[kind]?.kill('SIGKILL');
      delete procs[kind];
    },
    api(pathname, init = {}) {
      const { json, ...rest } = init;
      const headers = new Headers(rest.headers);
      headers.set('authorization', `Bearer ${token}`);
      if (json !== undefined) headers.set('content-type', 'application/json');
      return fetch(`${url}${pathname}`, { ...rest, headers, body: json !== undefined ? JSON.stringify(json) : rest.body });
    },
    async stop() {
      for (const kind of ['driver', 'api'] as const) {
        const p = procs[kind];
        if (p && p.exitCode === null) {
          p.kill('SIGTERM');
          await new Promise((r) => p.once('exit', r));
        }
      }
      // The enforcer and the callback deliverer loop forever; end them so they do not outlive the test's task queue.
      for (const id of [billingLimitsWorkflowId, callbacksWorkflowId]) {
        await temporal.client.workflow
          .getHandle(id(config.temporal.taskQueue))
          .terminate('test finished')
          .catch(() => undefined);
      }
      // Agents outlive the driver by design (they are the "VMs"): delete them as the cloud would.
      await createInstanceLifecycle({ db: database.db, config, log: createLogger('error') }, createLocalDriver(config), url).deleteAll('test finished');
      await database.close();
      await tdb.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return service;
}
