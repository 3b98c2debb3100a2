/**
 * The body of POST /api/v1alpha/batches/jobs/create as the agent reads it. The job spec is
 * already normalized by the API; only the fields the agent acts on are checked, the rest is
 * carried along untouched.
 */
import { z } from 'zod';
import type { JobSpec } from '../domain/job-spec';
import { CloudCredentialsSchema, type CloudCredentials } from '../storage/user-credentials';

const id = z.number().int().nonnegative();
const transfer = z.object({ from: z.string().min(1), to: z.string().min(1) });

const jobSpec = z.looseObject({
  process: z.looseObject({
    type: z.literal('docker'),
    image: z.string().min(1),
    command: z.array(z.string()).min(1),
  }),
  resources: z.looseObject({
    cores_mcpu: z.number().int().nonnegative(),
    memory_bytes: z.number().nonnegative(),
    storage_gib: z.number().nonnegative().default(0),
  }),
  env: z.array(z.object({ name: z.string().min(1), value: z.string() })).default([]),
  always_copy_output: z.boolean().default(false),
  timeout: z.number().positive().nullable().default(null),
  input_files: z.array(transfer).default([]),
  output_files: z.array(transfer).default([]),
  job_group_id: id.optional(),
});

const JobCreateRequestSchema = z.looseObject({
  batch_id: id,
  job_id: id,
  // Hail's attempt ids are short random strings; they become path segments and labels.
  attempt_id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
  /** Falls back to job_spec.job_group_id, then 0. */
  job_group_id: id.optional(),
  user: z.string().default(''),
  billing_project: z.string().default(''),
  /** The user's own cloud identities, sent only for jobs that name cloud files. */
  cloud_credentials: CloudCredentialsSchema.optional(),
  job_spec: jobSpec,
});

/** The request as the agent uses it; the spec's unchecked fields are whatever the API sent. */
export type JobCreateRequest = {
  batch_id: number;
  job_id: number;
  attempt_id: string;
  job_group_id?: number;
  user: string;
  billing_project: string;
  cloud_credentials?: CloudCredentials;
  job_spec: Pick<JobSpec, 'process' | 'env' | 'always_copy_output' | 'timeout' | 'input_files' | 'output_files'> & {
    resources: Pick<JobSpec['resources'], 'cores_mcpu' | 'memory_bytes' | 'storage_gib'>;
    job_group_id?: number;
  };
};

export function parseJobCreateRequest(body: unknown): { ok: true; value: JobCreateRequest } | { ok: false; error: string } {
  const parsed = JobCreateRequestSchema.safeParse(body);
  if (parsed.success) return { ok: true, value: parsed.data };
  return { ok: false, error: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
}
