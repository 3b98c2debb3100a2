/**
 * The service under test, started in this process the way `npm start` starts it: its own
 * Temporal dev server (on a free port, data in the bench directory), a fresh PostgreSQL
 * database (or PGlite when no PostgreSQL is reachable), then per executor the API and the
 * driver with its local agent processes. Every piece registers its own stop step.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import postgres from 'postgres';
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { loadConfig, type Config } from '../config';
import { openDatabase, rawRows, type Database } from '../db/client';
import { sql } from 'drizzle-orm';
import { createLogger } from '../cli/logger';
import { ensureTemporalServer } from '../cli/temporal-server';
import { startApi } from '../cli/api';
import { startDriver } from '../cli/driver';
import { connectClient, workflowsPath } from '../temporal.config';
import { addProjectMember, addToken, ensureBillingProject, ensureUser } from '../db/queries/users';
import { liveInstances } from '../db/queries/instances';
import { newToken } from '../db/queries/tokens';
import { schedulerWorkflowId } from '../workflows/definitions';
import { note, onCleanup } from './cleanup';

export type Executor = 'process' | 'docker';

export type DatabaseInfo = { kind: 'postgres'; url: string; created: boolean } | { kind: 'pglite' };

export type Infra = {
  env: Record<string, string>;
  database: Database;
  databaseInfo: DatabaseInfo;
  client: Client;
  temporalAddress: string;
  token: string;
  user: string;
  billingProject: string;
  bundlePath: string;
};

export type Service = { url: string; driverMetricsUrl: string; config: Config; stop(): Promise<void> };

const LOCAL_PG = 'postgres://postgres@127.0.0.1:5432/postgres';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host: '127.0.0.1', port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** The first gRPC port from `from` whose port and UI port (+1000) are both free. */
export async function freeTemporalPort(from: number): Promise<number> {
  for (let p = from; p < from + 100; p++) if ((await portFree(p)) && (await portFree(p + 1000))) return p;
  throw new Error(`no free port pair for Temporal in ${from}..${from + 99}`);
}

/** The user's own settings that matter here (the config module is the one reader of the environment). */
function userSettings(): { databaseUrl?: string; temporalCli?: string } {
  try {
    const c = loadConfig();
    return { databaseUrl: c.database.kind === 'postgres' ? c.database.url : undefined, temporalCli: c.temporal.cliPath };
  } catch {
    return {};
  }
}

async function freshPostgres(stamp: string, keep: boolean): Promise<DatabaseInfo> {
  const admin = postgres(LOCAL_PG, { max: 1, connect_timeout: 3, onnotice: () => {} });
  const name = `hb_bench_${stamp}`;
  try {
    await admin.unsafe(`CREATE DATABASE "${name}"`);
  } catch (e) {
    await admin.end({ timeout: 1 }).catch(() => undefined);
    note(`no PostgreSQL at 127.0.0.1:5432 (${e instanceof Error ? e.message : String(e)}); using PGlite`);
    return { kind: 'pglite' };
  }
  await admin.end({ timeout: 1 });
  onCleanup(`drop database ${name}`, async () => {
    // Kept on request, to look at its plans afterwards (psql -d <name>).
    if (keep) {
      note(`kept database ${name}`);
      return;
    }
    const sql = postgres(LOCAL_PG, { max: 1, connect_timeout: 3, onnotice: () => {} });
    try {
      await sql.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
  const url = new URL(LOCAL_PG);
  url.pathname = `/${name}`;
  return { kind: 'postgres', url: url.toString(), created: true };
}

export async function startInfra(opts: { dataDir: string; stamp: string; temporalPort: number; keepDatabase?: boolean }): Promise<Infra> {
  mkdirSync(opts.dataDir, { recursive: true });
  // The Temporal worker's own log lines would drown the table.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const user = userSettings();

  const port = await freeTemporalPort(opts.temporalPort);
  const temporalAddress = `127.0.0.1:${port}`;
  const env: Record<string, string> = {
    HB_DATA_DIR: opts.dataDir,
    TEMPORAL_ADDRESS: temporalAddress,
    HB_TEMPORAL_UI_PORT: String(port + 1000),
    HB_API_HOST: '127.0.0.1',
    HB_API_PORT: '0',
    HB_LOG_LEVEL: 'warn',
  };
  if (user.temporalCli) env['HB_TEMPORAL_CLI'] = user.temporalCli;

  note(`starting Temporal dev server on ${temporalAddress}`);
  const temporal = await ensureTemporalServer(loadConfig(env));
  onCleanup('stop Temporal server', () => temporal.stop(), 20_000);

  const databaseInfo: DatabaseInfo = user.databaseUrl
    ? { kind: 'postgres', url: user.databaseUrl, created: false }
    : await freshPostgres(opts.stamp, opts.keepDatabase ?? false);
  if (databaseInfo.kind === 'postgres') env['DATABASE_URL'] = databaseInfo.url;
  const database = await openDatabase(loadConfig(env).database);
  onCleanup('close database', () => database.close());

  const { client, connection } = await connectClient(loadConfig(env).temporal);
  onCleanup('close Temporal client', () => connection.close());

  const token = newToken();
  const name = 'bench';
  await ensureUser(database.db, name, false);
  await addToken(database.db, name, token);
  await ensureBillingProject(database.db, name);
  await addProjectMember(database.db, name, name);

  // One bundle for every driver start (process and docker), instead of one webpack run each.
  note('bundling workflows');
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
  const bundlePath = path.join(opts.dataDir, 'workflow-bundle.js');
  writeFileSync(bundlePath, code);

  return { env, database, databaseInfo, client, temporalAddress, token, user: name, billingProject: name, bundlePath };
}

/** API + driver + local agents for one executor; resolves once every agent is active. */
export async function startService(
  infra: Infra,
  opts: { executor: Executor; agents: number; cores: number; pools?: string; env?: Record<string, string> },
): Promise<Service> {
  const env: Record<string, string> = {
    ...infra.env,
    HB_EXECUTOR: opts.executor,
    HB_LOCAL_POOLS: opts.pools ?? `standard:${opts.agents}`,
    HB_AGENT_CORES: String(opts.cores),
    // Own task queue (and so own scheduler workflow) per executor run.
    HB_TASK_QUEUE: `bench-${opts.executor}`,
    HB_DRIVER_METRICS_PORT: '0',
    // A scenario's own settings (e.g. the worker tuning it measures, a task queue per run).
    ...opts.env,
  };
  const config = loadConfig(env);
  const log = createLogger(config.logLevel, { proc: `bench-${opts.executor}` });
  const db = infra.database.db;

  const api = await startApi({ config, db, log, client: infra.client });
  const stopApi = onCleanup(`stop API (${opts.executor})`, () => api.stop(), 15_000);
  const driver = await startDriver({ config, db, log, client: infra.client, workflowBundlePath: infra.bundlePath, apiUrl: api.url });
  const stopDriver = onCleanup(
    `stop driver and agents (${opts.executor})`,
    async () => {
      await driver.stop({ deleteInstances: true });
      await infra.client.workflow
        .getHandle(schedulerWorkflowId(config.temporal.taskQueue))
        .terminate('bench finished')
        .catch(() => undefined);
    },
    60_000,
  );

  const deadline = Date.now() + 120_000;
  for (;;) {
    const live = await liveInstances(db);
    if (live.filter((i) => i.state === 'active').length >= opts.agents) break;
    if (Date.now() > deadline) {
      throw new Error(
        `agents did not activate within 120 s (states: ${live.map((i) => `${i.name}=${i.state}`).join(', ') || 'none'}; ` +
          `logs in ${path.join(config.dataDir, 'agents')})`,
      );
    }
    await sleep(200);
  }

  return {
    url: api.url,
    driverMetricsUrl: driver.metricsUrl,
    config,
    async stop() {
      await stopDriver();
      await stopApi();
    },
  };
}

/**
 * What the service looks like right now, for a scenario that failed: job states of the batch,
 * open attempts per instance, instance states, running workflows. Best effort.
 */
export async function diagnose(infra: Infra, batchId: number): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const db = infra.database.db;
  const attempt = async (key: string, f: () => Promise<unknown>) => {
    try {
      out[key] = await f();
    } catch (e) {
      out[key] = `unavailable: ${e instanceof Error ? e.message : String(e)}`;
    }
  };
  await attempt('jobStates', async () =>
    Object.fromEntries(
      (
        await rawRows<{ state: string; claimed: boolean; n: number }>(
          db,
          sql`SELECT state::text AS state, launch_token IS NOT NULL AS claimed, count(*)::int AS n
              FROM jobs WHERE batch_id = ${batchId} GROUP BY 1, 2 ORDER BY 1, 2`,
        )
      ).map((r) => [`${r.state}${r.claimed ? '' : ' (unclaimed)'}`, r.n]),
    ),
  );
  await attempt('openAttempts', async () =>
    rawRows(
      db,
      sql`SELECT instance_name, count(*)::int AS n, count(time_dispatched)::int AS dispatched, count(start_time)::int AS started
          FROM attempts WHERE batch_id = ${batchId} AND end_time IS NULL GROUP BY 1 ORDER BY 1`,
    ),
  );
  await attempt('instances', async () =>
    (await liveInstances(db)).map((i) => ({ name: i.name, state: i.state, freeCoresMcpu: i.freeCoresMcpu, failedRequests: i.failedRequests })),
  );
  await attempt('runningWorkflows', async () => (await infra.client.workflow.count('ExecutionStatus="Running"')).count);
  return out;
}
