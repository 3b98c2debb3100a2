/**
 * The whole service for end-to-end tests, in this test process: a fresh PostgreSQL database,
 * the run's Temporal dev server (own task queue), the API on a free port, the driver with the
 * run's workflow bundle, and real agent processes from the local cloud driver.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { sql } from 'drizzle-orm';
import { loadConfig, type Config } from '../../config';
import { openDatabase, type Database } from '../../db/client';
import { createLogger } from '../../cli/logger';
import { startApi, type ApiServer } from '../../cli/api';
import { startDriver, type Driver } from '../../cli/driver';
import { addProjectMember, addToken, ensureBillingProject, ensureUser } from '../../db/queries/users';
import { liveInstances } from '../../db/queries/instances';
import { autoscalerWorkflowId, billingLimitsWorkflowId, callbacksWorkflowId, pricesWorkflowId, schedulerWorkflowId } from '../../workflows/definitions';
import { createTestDatabase, type TestDatabase } from './db-url';
import { testTemporal, uniqueTaskQueue, workflowBundle } from './temporal';

export type ServiceOptions = {
  name: string;
  executor?: 'docker' | 'process';
  /** e.g. 'standard:2' */
  pools?: string;
  coresPerAgent?: number;
  batchWindow?: number;
  env?: Record<string, string>;
};

export type TestService = {
  url: string;
  /** The driver's Prometheus endpoint. */
  driverMetricsUrl: string;
  token: string;
  user: string;
  billingProject: string;
  config: Config;
  database: Database;
  client: Client;
  env: Record<string, string>;
  /** fetch against the API with the test user's token. */
  api(pathname: string, init?: RequestInit & { json?: unknown; token?: string | null }): Promise<Response>;
  addUser(username: string, opts?: { admin?: boolean; projects?: string[] }): Promise<string>;
  stop(): Promise<void>;
};

export async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function startTestService(opts: ServiceOptions): Promise<TestService> {
  const temporal = await testTemporal();
  const tdb: TestDatabase = await createTestDatabase(opts.name);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), `hb-${opts.name}-`));
  const env: Record<string, string> = {
    DATABASE_URL: tdb.url,
    HB_DATA_DIR: dataDir,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
    HB_TASK_QUEUE: uniqueTaskQueue(opts.name),
    HB_API_PORT: '0',
    HB_DRIVER_METRICS_PORT: '0',
    HB_EXECUTOR: opts.executor ?? 'process',
    HB_LOCAL_POOLS: opts.pools ?? 'standard:2',
    HB_AGENT_CORES: String(opts.coresPerAgent ?? 4),
    HB_BATCH_WINDOW: String(opts.batchWindow ?? 500),
    HB_LOG_LEVEL: 'warn',
    HB_AUTOSCALER_LOOP_MS: '1000',
    ...opts.env,
  };
  const config = loadConfig(env);
  const log = createLogger('warn', { test: opts.name });
  const database = await openDatabase(config.database);
  // Test databases share one namespace: give each its own batch ids so workflow ids never meet.
  await database.db.execute(sql.raw(`ALTER SEQUENCE batches_id_seq RESTART WITH ${randomInt(1_000_000, 1_000_000_000)}`));
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection, namespace: temporal.namespace });

  const api: ApiServer = await startApi({ config, db: database.db, log, client });
  const driver: Driver = await startDriver({
    config,
    db: database.db,
    log,
    client,
    workflowBundlePath: workflowBundle().codePath,
    apiUrl: api.url,
  });

  const service: TestService = {
    url: api.url,
    driverMetricsUrl: driver.metricsUrl,
    token: '',
    user: 'alice',
    billingProject: 'test',
    config,
    database,
    client,
    env: { ...env, HB_API_URL: api.url },
    async api(pathname, init = {}) {
      const { json, token, ...rest } = init;
      const headers = new Headers(rest.headers);
      const t = token === undefined ? service.token : token;
      if (t !== null) headers.set('authorization', `Bearer ${t}`);
      if (json !== undefined) headers.set('content-type', 'application/json');
      return fetch(`${api.url}${pathname}`, { ...rest, headers, body: json !== undefined ? JSON.stringify(json) : rest.body });
    },
    async addUser(username, o = {}) {
      const token = `tok-${username}-${randomInt(1e9)}`;
      await ensureUser(database.db, username, o.admin ?? false);
      await addToken(database.db, username, token);
      for (const p of o.projects ?? []) {
        await ensureBillingProject(database.db, p);
        await addProjectMember(database.db, p, username);
      }
      return token;
    },
    async stop() {
      await driver.stop({ deleteInstances: true });
      for (const id of [schedulerWorkflowId, autoscalerWorkflowId, billingLimitsWorkflowId, callbacksWorkflowId, pricesWorkflowId]) {
        await client.workflow
          .getHandle(id(config.temporal.taskQueue))
          .terminate('test finished')
          .catch(() => undefined);
      }
      await api.stop();
      await connection.close();
      await database.close();
      await tdb.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  service.token = await service.addUser('alice', { projects: ['test'] });
  const expected = config.localPool.pools.reduce((n, p) => n + p.count, 0);
  await waitFor('agents to activate', async () => {
    const live = await liveInstances(database.db);
    return live.filter((i) => i.state === 'active').length >= expected;
  });
  return service;
}

/** Polls a batch until it is complete; returns its JSON. */
export async function waitForBatch(s: TestService, batchId: number, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  return waitFor(`batch ${batchId} to complete`, async () => {
    const res = await s.api(`/api/v1alpha/batches/${batchId}`);
    const body = (await res.json()) as Record<string, unknown>;
    return body['complete'] === true ? body : null;
  }, timeoutMs, 200);
}

/** A docker job spec in the wire format. */
export function job(jobId: number, command: string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    job_id: jobId,
    process: { type: 'docker', image: 'hail-batch-busybox:latest', command },
    resources: { cpu: '0.25', memory: 'standard' },
    ...extra,
  };
}
