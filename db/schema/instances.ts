import { bigint, index, integer, pgTable, text } from 'drizzle-orm/pg-core';
import { instanceState } from './enums';
import { ms } from './columns';

export const instances = pgTable(
  'instances',
  {
    name: text('name').primaryKey(),
    pool: text('pool').notNull(),
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
    timeDeleted: ms('time_deleted'),
  },
  (t) => [index('instances_pool_state').on(t.pool, t.state)],
);
