/**
 * `npm start`: the whole service on one machine. Temporal dev server (reused if one listens),
 * PostgreSQL or embedded PGlite, the driver, the API and the local pool of agent processes.
 * Ctrl-C stops all of it; the data directory keeps batches and workflow history for next time.
 */
import { loadConfig } from '../config';
import { openDatabase } from '../db/client';
import { createLogger } from './logger';
import { ensureTemporalServer } from './temporal-server';
import { connectClient } from '../temporal.config';
import { startDriver } from './driver';
import { startApi } from './api';
import { ensureDevUser, writeCredentials, credentialsPath } from './bootstrap';
import { lockDataDir, onShutdown } from './lifecycle';

export async function runLocal(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel, { proc: 'local' });
  const unlock = lockDataDir(config.dataDir);
  const temporal = await ensureTemporalServer(config);
  const database = await openDatabase(config.database);
  const { client, connection } = await connectClient(config.temporal);
  const dev = await ensureDevUser(database.db, config.dataDir);
  const api = await startApi({ config, db: database.db, log, client });
  const driver = await startDriver({ config, db: database.db, log, client, apiUrl: api.url });

  const creds = { url: api.url, token: dev.token, billing_project: dev.billingProject, temporal_ui: temporal.uiUrl, user: dev.user };
  writeCredentials(config.dataDir, creds);
  process.stdout.write(
    [
      '',
      `  Batch API       ${api.url}/api/v1alpha/batches`,
      `  Temporal Web UI ${temporal.uiUrl}`,
      `  Dev user        ${dev.user} (billing project ${dev.billingProject})`,
      `  Token           ${dev.token}`,
      `  Credentials     ${credentialsPath(config.dataDir)}`,
      '',
      '  Ctrl-C stops everything.',
      '',
    ].join('\n') + '\n',
  );

  onShutdown(async () => {
    log.info('stopping');
    await driver.stop({ deleteInstances: true }).catch((e: unknown) => log.error('driver stop failed', { error: String(e) }));
    await api.stop();
    await connection.close();
    await database.close();
    await temporal.stop();
    unlock();
  }, (m) => log.info(m));
}
