import { bigint, boolean, index, integer, jsonb, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { batchStoredState } from './enums';
import { ms } from './columns';

/**
 * Job groups other than the batch's root group 0, whose counts live on the batch row. Counts
 * cover the group's subtree: a job completing is counted in its group and every ancestor.
 */
export const jobGroups = pgTable(
  'job_groups',
  {
    batchId: bigint('batch_id', { mode: 'number' }).notNull(),
    jobGroupId: integer('job_group_id').notNull(),
    updateId: integer('update_id').notNull(),
    /** Absolute id of the parent; 0 is the root group. */
    parentId: integer('parent_id').notNull(),
    attributes: jsonb('attributes').$type<Record<string, string>>().notNull().default({}),
    callback: text('callback'),
    cancelAfterNFailures: integer('cancel_after_n_failures'),
    /** open until its update commits, then running or complete, as a batch's. */
    storedState: batchStoredState('stored_state').notNull().default('open'),
    cancelled: boolean('cancelled').notNull().default(false),
    nJobs: integer('n_jobs').notNull().default(0),
    nCompleted: integer('n_completed').notNull().default(0),
    nSucceeded: integer('n_succeeded').notNull().default(0),
    nFailed: integer('n_failed').notNull().default(0),
    nCancelled: integer('n_cancelled').notNull().default(0),
    timeCreated: ms('time_created').notNull(),
    timeCompleted: ms('time_completed'),
  },
  (t) => [
    primaryKey({ columns: [t.batchId, t.jobGroupId] }),
    index('job_groups_parent').on(t.batchId, t.parentId, t.jobGroupId),
  ],
);

/**
 * Every committed group with itself and each ancestor other than the root (Hail's
 * job_group_self_and_ancestors), so counts roll up and cancellation reaches down in one
 * set-based statement. `level` is the distance from the group to that ancestor.
 */
export const jobGroupSelfAndAncestors = pgTable(
  'job_group_self_and_ancestors',
  {
    batchId: bigint('batch_id', { mode: 'number' }).notNull(),
    jobGroupId: integer('job_group_id').notNull(),
    ancestorId: integer('ancestor_id').notNull(),
    level: integer('level').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.batchId, t.jobGroupId, t.ancestorId] }),
    index('job_group_ancestors_ancestor').on(t.batchId, t.ancestorId),
  ],
);
