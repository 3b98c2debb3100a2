import type { Db } from '../db/client';
import type { Config } from '../config';
import type { Logger } from '../cli/logger';
import type { DriverMetrics } from '../metrics/registry';

/** What every activity factory closes over; built once per driver process. */
export type ActivityDeps = {
  db: Db;
  config: Config;
  log: Logger;
  now?: () => number;
  /** The driver's registry; absent in tests that build activities alone. */
  metrics?: DriverMetrics;
};

export const clock = (deps: ActivityDeps): number => (deps.now ?? Date.now)();
