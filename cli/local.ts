/**
 * `npm start`: the whole service on one machine. Temporal dev server (its own, supervised),
 * PostgreSQL or embedded PGlite, the driver, the API and the local pool of agent processes.
 * Ctrl-C stops all of it; the data directory keeps batches and workflow history for next time.
 */
import { loadConfig } from '../config';
import { openDatabase, type Database } from '../db/client';
import { createLogger } from './logger';
import { ensureTemporalServer, type TemporalServer } from './temporal-server';
import { connectClient } from '../temporal.config';
import { startDriver, type Driver } from './driver';
import { startApi, type ApiServer } from './api';
import type { Connection } from '@temporalio/client';
import { ensureDevUser, writeCredentials, credentialsPath } from './bootstrap';
import { lockDataDir, onShutdown } from './lifecycle';

export async function runLocal(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel, { proc: 'local' });
  const unlock = lockDataDir(config.dataDir);
  // Registered before anything starts, so a Ctrl-C during start-up stops what already runs.
  let temporal: TemporalServer | undefined;
  let database: Database | undefined;
  let connection: Connection | undefined;
  let api: ApiServer | undefined;
  let driver: Driver | undefined;
  const stop = async () => {
    log.info('stopping');
    await driver?.stop({ deleteInstances: true }).catch((e: unknown) => log.error('driver stop failed', { error: String(e) }));
    await api?.stop();
    await connection?.close().catch(() => undefined);
    await database?.close();
    await temporal?.stop();
    unlock();
  };
  onShutdown(stop, (m) => log.info(m));

  try {
    temporal = await ensureTemporalServer(config, log);
    database = await openDatabase(config.database);
    const connected = await connectClient(config.temporal);
    connection = connected.connection;
    const dev = await ensureDevUser(database.db, config.dataDir);
    api = await startApi({ config, db: database.db, log, client: connected.client });
    driver = await startDriver({ config, db: database.db, log, client: connected.client, apiUrl: api.url });

    const creds = { url: api.url, token: dev.token, billing_project: dev.billingProject, temporal_ui: temporal.uiUrl, user: dev.user, pid: process.pid };
    writeCredentials(config.dataDir, creds);
    process.stdout.write(
      [
        '',
        `  Batch API       ${api.url}/api/v1alpha/batches`,
        `  Temporal Web UI ${temporal.uiUrl}`,
        `  API metrics     ${api.url}/metrics (admin token)`,
        `  Driver metrics  ${driver.metricsUrl}`,
        `  Dev user        ${dev.user} (billing project ${dev.billingProject})`,
        `  Token           ${dev.token}`,
        `  Credentials     ${credentialsPath(config.dataDir)}`,
        '',
        '  Ctrl-C stops everything.',
        '',
      ].join('\n') + '\n',
    );
  } catch (e) {
    await stop().catch(() => undefined);
    throw e;
  }
}
