import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
} from 'drizzle-orm/pg-core';
import type { JobSpec } from '../../domain/job-spec';
import { jobState } from './enums';
import { ms } from './columns';

export const jobs = pgTable(
  'jobs',
  {
    batchId: bigint('batch_id', { mode: 'number' }).notNull(),
    jobId: integer('job_id').notNull(),
    updateId: integer('update_id').notNull(),
    /** Absolute id of the job's group; 0 is the root group (the batch). */
    jobGroupId: integer('job_group_id').notNull().default(0),
    state: jobState('state').notNull(),
    /** Set when a parent did not succeed or the batch was cancelled; see domain/states. */
    cancelled: boolean('cancelled').notNull().default(false),
    alwaysRun: boolean('always_run').notNull(),
    nPendingParents: integer('n_pending_parents').notNull(),
    nMaxAttempts: integer('n_max_attempts').notNull(),
    coresMcpu: integer('cores_mcpu').notNull(),
    pool: text('pool').notNull(),
    name: text('name'),
    attributes: jsonb('attributes').$type<Record<string, string>>().notNull().default({}),
    /** The normalized spec; PostgreSQL compresses large values out of line (TOAST). */
    spec: jsonb('spec').$type<JobSpec>().notNull(),
    exitCode: integer('exit_code'),
    /** Attempt currently placed on an instance, if any. */
    attemptId: text('attempt_id'),
    nAttempts: integer('n_attempts').notNull().default(0),
    /** Which batch-workflow claim started this job's workflow; null until claimed. */
    launchToken: text('launch_token'),
    timeReady: ms('time_ready'),
    /** When the main container of the current attempt started (worker report). */
    startTime: ms('start_time'),
    endTime: ms('end_time'),
  },
  (t) => [
    primaryKey({ columns: [t.batchId, t.jobId] }),
    index('jobs_batch_state').on(t.batchId, t.state),
    index('jobs_batch_group').on(t.batchId, t.jobGroupId, t.jobId),
    index('jobs_ready_pool').on(t.pool, t.state, t.batchId, t.jobId),
    // A claim looks up the jobs it handed out by their token; without this it scanned the batch.
    index('jobs_launch_token').on(t.batchId, t.launchToken).where(sql`${t.launchToken} IS NOT NULL`),
    // The autoscaler's look for reports that never reached their job workflow reads the Running
    // jobs each loop: few at any time, among up to millions of rows.
    index('jobs_running').on(t.batchId, t.jobId).where(sql`${t.state} = 'Running'`),
    // What the scheduler may place: Ready jobs a job workflow owns, at most a window per batch
    // among a big batch's Ready rows (the demand aggregate and each round's candidates).
    index('jobs_schedulable').on(t.pool, t.batchId, t.jobId).where(sql`${t.state} = 'Ready' AND ${t.launchToken} IS NOT NULL`),
  ],
);

export const jobParents = pgTable(
  'job_parents',
  {
    batchId: bigint('batch_id', { mode: 'number' }).notNull(),
    jobId: integer('job_id').notNull(),
    parentId: integer('parent_id').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.batchId, t.jobId, t.parentId] }),
    index('job_parents_parent').on(t.batchId, t.parentId),
  ],
);

export const attempts = pgTable(
  'attempts',
  {
    batchId: bigint('batch_id', { mode: 'number' }).notNull(),
    jobId: integer('job_id').notNull(),
    attemptId: text('attempt_id').notNull(),
    instanceName: text('instance_name').notNull(),
    coresMcpu: integer('cores_mcpu').notNull(),
    timeScheduled: ms('time_scheduled').notNull(),
    /** Null until the agent has acknowledged the job; the scheduler re-sends such attempts. */
    timeDispatched: ms('time_dispatched'),
    startTime: ms('start_time'),
    endTime: ms('end_time'),
    /** succeeded | failed | error as reported by the agent, or null while running. */
    outcome: text('outcome'),
    exitCode: integer('exit_code'),
    reason: text('reason'),
    status: jsonb('status'),
    /**
     * What this attempt is billed for, fixed when it is placed: resource names with versions
     * and quantities per ms. Cost is derived from these and the main container's run time.
     */
    resources: jsonb('resources').$type<{ name: string; quantity: number }[]>().notNull().default([]),
  },
  (t) => [
    primaryKey({ columns: [t.batchId, t.jobId, t.attemptId] }),
    index('attempts_instance_open').on(t.instanceName, t.endTime),
  ],
);
