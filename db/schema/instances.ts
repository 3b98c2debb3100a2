import { bigint, boolean, index, integer, pgTable, text } from 'drizzle-orm/pg-core';
import { instanceState } from './enums';
import { ms } from './columns';

export const instances = pgTable(
  'instances',
  {
    name: text('name').primaryKey(),
    pool: text('pool').notNull(),
    region: text('region').notNull().default('local'),
    preemptible: boolean('preemptible').notNull().default(true),
    /** Set for job-private instances: the machine type asked for and the job it belongs to. */
    machineType: text('machine_type'),
    batchId: bigint('batch_id', { mode: 'number' }),
    jobId: integer('job_id'),
    state: instanceState('state').notNull().default('pending'),
    coresMcpu: integer('cores_mcpu').notNull(),
    freeCoresMcpu: integer('free_cores_mcpu').notNull(),
    /** Where the agent listens; known once it activates. */
    address: text('address'),
    activationTokenHash: text('activation_token_hash').notNull(),
    tokenHash: text('token_hash'),
    /** Cloud-driver specific handle (a pid for local agents, a VM id in the cloud). */
    handle: text('handle'),
    failedRequests: integer('failed_requests').notNull().default(0),
    timeCreated: ms('time_created').notNull(),
    timeActivated: ms('time_activated'),
    lastHeartbeat: ms('last_heartbeat'),
    timeDeactivated: ms('time_deactivated'),
    timeDeleted: ms('time_deleted'),
    /** Why the instance was deactivated or deleted (idle, preempted, failed requests, ...). */
    reason: text('reason'),
  },
  (t) => [index('instances_pool_state').on(t.pool, t.state)],
);
