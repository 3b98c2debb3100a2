import { jsonb, pgTable, text } from 'drizzle-orm/pg-core';
import type { PoolConfig } from '../../domain/autoscaler';
import { ms } from './columns';

/**
 * One row per worker pool (standard, highmem, highcpu). The autoscaler and the scheduler read
 * the config on every loop, so an admin's PATCH takes effect without a restart.
 */
export const pools = pgTable('pools', {
  name: text('name').primaryKey(),
  config: jsonb('config').$type<PoolConfig>().notNull(),
  timeUpdated: ms('time_updated').notNull(),
});
