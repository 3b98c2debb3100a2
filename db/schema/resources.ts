import { doublePrecision, integer, pgTable, text } from 'drizzle-orm/pg-core';
import { ms } from './columns';

/**
 * The billing catalogue: `<product>/<version>` resources with a rate in dollars per unit per
 * millisecond. A price change adds a new version; attempts keep the names they were billed
 * under, so old charges never move.
 */
export const resources = pgTable('resources', {
  name: text('name').primaryKey(),
  product: text('product').notNull(),
  version: integer('version').notNull(),
  rate: doublePrecision('rate').notNull(),
  timeCreated: ms('time_created').notNull(),
});
