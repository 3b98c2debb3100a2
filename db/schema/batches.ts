import {
  bigint,
  bigserial,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import { batchStoredState } from './enums';
import { ms } from './columns';

export const batches = pgTable(
  'batches',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    user: text('user').notNull(),
    billingProject: text('billing_project').notNull(),
    token: text('token').notNull(),
    attributes: jsonb('attributes').$type<Record<string, string>>().notNull().default({}),
    callback: text('callback'),
    cancelAfterNFailures: integer('cancel_after_n_failures'),
    storedState: batchStoredState('stored_state').notNull().default('open'),
    cancelled: boolean('cancelled').notNull().default(false),
    deleted: boolean('deleted').notNull().default(false),
    /** Jobs in committed updates: the denominator of completion. */
    nJobs: integer('n_jobs').notNull().default(0),
    nCompleted: integer('n_completed').notNull().default(0),
    nSucceeded: integer('n_succeeded').notNull().default(0),
    nFailed: integer('n_failed').notNull().default(0),
    nCancelled: integer('n_cancelled').notNull().default(0),
    /** Highest job id reserved by any update, committed or not. */
    nReservedJobs: integer('n_reserved_jobs').notNull().default(0),
    /** Highest job group id reserved by any update, committed or not. */
    nReservedJobGroups: integer('n_reserved_job_groups').notNull().default(0),
    timeCreated: ms('time_created').notNull(),
    timeClosed: ms('time_closed'),
    timeCompleted: ms('time_completed'),
  },
  (t) => [
    uniqueIndex('batches_user_token').on(t.user, t.token),
    index('batches_user_id').on(t.user, t.id),
    index('batches_billing_project_id').on(t.billingProject, t.id),
  ],
);

export const batchUpdates = pgTable(
  'batch_updates',
  {
    batchId: bigint('batch_id', { mode: 'number' })
      .notNull()
      .references(() => batches.id),
    updateId: integer('update_id').notNull(),
    token: text('token').notNull(),
    startJobId: integer('start_job_id').notNull(),
    nJobs: integer('n_jobs').notNull(),
    startJobGroupId: integer('start_job_group_id').notNull().default(1),
    nJobGroups: integer('n_job_groups').notNull().default(0),
    committed: boolean('committed').notNull().default(false),
    timeCreated: ms('time_created').notNull(),
    timeCommitted: ms('time_committed'),
  },
  (t) => [primaryKey({ columns: [t.batchId, t.updateId] }), uniqueIndex('batch_updates_token').on(t.batchId, t.token)],
);
