import { bigint, bigserial, index, integer, jsonb, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { ms } from './columns';

/**
 * The callback outbox: one row per completion of a batch (job group 0) or job group that has
 * a callback, written in the transaction that completes it, so no crash can lose it. The
 * delivery loop claims due rows (state `in_flight` with an attempt token and a lease), POSTs
 * them, and marks them `delivered`, `pending` again (with the next try's time) or `failed`.
 */
export const callbacks = pgTable(
  'callbacks',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    batchId: bigint('batch_id', { mode: 'number' }).notNull(),
    jobGroupId: integer('job_group_id').notNull(),
    /** 1 for the group's first completion, 2 after an update made it run and complete again… */
    completion: integer('completion').notNull(),
    url: text('url').notNull(),
    /** The batch or group JSON as it was when it completed. */
    body: jsonb('body').$type<Record<string, unknown>>().notNull(),
    /** pending | in_flight | delivered | failed */
    state: text('state').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: ms('next_attempt_at').notNull(),
    /** Who holds an in-flight row, and until when; only that holder may mark it. */
    attemptToken: text('attempt_token'),
    leaseUntil: ms('lease_until'),
    lastStatus: integer('last_status'),
    lastError: text('last_error'),
    timeCreated: ms('time_created').notNull(),
    timeDelivered: ms('time_delivered'),
  },
  (t) => [
    uniqueIndex('callbacks_completion').on(t.batchId, t.jobGroupId, t.completion),
    index('callbacks_due').on(t.state, t.nextAttemptAt),
  ],
);
