/** The JSON shapes of api/serialize.ts (hail-batch-api §3), as the document publishes them. */
import { z } from '@hono/zod-openapi';
import { BATCH_STATES, JOB_STATES } from '../../domain/states';

const time = z.string().nullable().openapi({ description: 'ISO 8601 UTC, or null' });
const ms = z.int().nullable();

export const CostBreakdown = z.array(z.object({ resource: z.string(), cost: z.number() })).openapi('CostBreakdown');

export const Batch = z
  .object({
    id: z.int(),
    user: z.string(),
    billing_project: z.string(),
    token: z.string(),
    state: z.enum(BATCH_STATES),
    complete: z.boolean(),
    closed: z.boolean(),
    n_jobs: z.int(),
    n_completed: z.int(),
    n_succeeded: z.int(),
    n_failed: z.int(),
    n_cancelled: z.int(),
    time_created: time,
    time_closed: time,
    time_completed: time,
    duration_ms: ms,
    duration: ms,
    msec_mcpu: z.number(),
    cost: z.number(),
    cost_breakdown: CostBreakdown,
    attributes: z.record(z.string(), z.string()),
  })
  .openapi('Batch');

export const BatchPage = z
  .object({ batches: z.array(Batch), last_batch_id: z.int().optional().openapi({ description: 'present when there may be a next page' }) })
  .openapi('BatchPage');

export const JobEntry = z
  .object({
    batch_id: z.int(),
    job_id: z.int(),
    job_group_id: z.int(),
    name: z.string().nullable(),
    user: z.string(),
    billing_project: z.string(),
    state: z.enum(JOB_STATES),
    exit_code: z.int().nullable(),
    start_time: time,
    end_time: time,
    duration: ms,
    cost: z.number(),
    msec_mcpu: z.number(),
    cost_breakdown: CostBreakdown,
    always_run: z.boolean(),
    display_state: z.enum([...JOB_STATES, 'Cancelling']),
  })
  .openapi('JobEntry');

export const JobPage = z
  .object({ jobs: z.array(JobEntry), last_job_id: z.int().optional().openapi({ description: 'present when there may be a next page' }) })
  .openapi('JobPage');

export const JobDetail = JobEntry.extend({
  status: z.unknown().openapi({ description: "the current attempt's status document, or null" }),
  spec: z.record(z.string(), z.unknown()).openapi({ description: 'the normalized job spec' }),
  inst_coll: z.string(),
  attributes: z.record(z.string(), z.string()).optional().openapi({ description: 'absent when the job has none' }),
  n_attempts: z.int(),
}).openapi('Job');

export const Attempt = z
  .object({
    attempt_id: z.string(),
    instance_name: z.string(),
    start_time: time,
    start_time_ms: ms,
    end_time: time,
    end_time_ms: ms,
    duration: ms,
    duration_ms: ms,
    reason: z.string().nullable(),
  })
  .openapi('Attempt');

export const Attempts = z.array(Attempt).nullable().openapi('Attempts', { description: 'null until the job has an attempt' });

/** One container's samples in pandas' "split" orientation, as Hail's client reads them. */
export const ResourceUsageFrame = z
  .object({ columns: z.array(z.string()), index: z.array(z.number().int()), data: z.array(z.array(z.number())) })
  .openapi('ResourceUsageFrame');
export const ResourceUsage = z.record(z.string(), ResourceUsageFrame).openapi('ResourceUsage');

/** The deprecated all-containers log: each container's log, or null when there is none. */
export const JobLogs = z.record(z.string(), z.string().nullable()).openapi('JobLogs');
