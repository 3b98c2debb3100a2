import { pgEnum } from 'drizzle-orm/pg-core';
import { BATCH_STORED_STATES, JOB_STATES } from '../../domain/states';
import { INSTANCE_STATES } from '../../domain/instances';

export const jobState = pgEnum('job_state', JOB_STATES);
export const batchStoredState = pgEnum('batch_stored_state', BATCH_STORED_STATES);
export const instanceState = pgEnum('instance_state', INSTANCE_STATES);
