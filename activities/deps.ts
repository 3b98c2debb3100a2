import type { Db } from '../db/client';
import type { Config } from '../config';
import type { Logger } from '../cli/logger';

/** What every activity factory closes over; built once per driver process. */
export type ActivityDeps = {
  db: Db;
  config: Config;
  log: Logger;
  now?: () => number;
};

export const clock = (deps: ActivityDeps): number => (deps.now ?? Date.now)();
