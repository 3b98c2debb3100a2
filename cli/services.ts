/** `api` and `driver` as separate processes (production shape, and crash tests). */
import { loadConfig } from '../config';
import { openDatabase } from '../db/client';
import { createLogger } from './logger';
import { connectClient } from '../temporal.config';
import { startDriver } from './driver';
import { startApi } from './api';
import { onShutdown } from './lifecycle';

export async function runService(kind: 'api' | 'driver'): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel, { proc: kind });
  const database = await openDatabase(config.database);
  const { client, connection } = await connectClient(config.temporal);
  const svc =
    kind === 'api'
      ? await startApi({ config, db: database.db, log, client })
      : await startDriver({ config, db: database.db, log, client });
  onShutdown(async () => {
    await svc.stop();
    await connection.close();
    await database.close();
  });
}
