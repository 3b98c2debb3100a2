/**
 * Hail's wire specs (hail-batch-api §2) as zod schemas: what /openapi.json publishes for batch
 * creation, updates and job bunches. The domain parsers (domain/spec*.ts) stay the authority
 * for Hail's messages and for the rules a schema cannot say (contiguous ids, parents before
 * children, cpu as 0.25 × a power of two, pool choice, the ci user's privileges). So these
 * schemas describe the shape, never more: every body the parsers accept, they accept
 * (test/api/wire-spec.test.ts holds them to the parsers' key sets and to accepted specs),
 * except for the counts stored in int4 columns, which the routes bound (checkStoredCounts).
 * As in the parsers, an optional key given as null counts as absent.
 */
import { z } from '@hono/zod-openapi';
import type { ZodType } from 'zod';
import { SpecError } from '../../domain/errors';

import { INT4_MAX } from '../contract';

const maybe = <T extends ZodType>(schema: T) => schema.nullable().optional();
const text = z.string();
const nonEmpty = z.string().min(1);
const stringMap = z.record(z.string(), z.string());
/** cpu, memory and storage: a string such as '250m', '7Gi', 'standard', or a bare number. */
const quantity = z.union([z.string(), z.number()]);

export const DockerProcess = z
  .strictObject({
    type: z.literal('docker'),
    image: nonEmpty,
    command: z.array(text),
    mount_docker_socket: maybe(z.boolean()).openapi({ description: 'not supported: must be false or absent' }),
  })
  .openapi('DockerProcess');

export const JobResources = z
  .strictObject({
    cpu: maybe(quantity).openapi({ description: "0.25 × a power of two: 0.25, 1, 4, '250m'; default 1" }),
    memory: maybe(quantity).openapi({ description: "lowmem, standard, highmem or a size like '7Gi'; default standard" }),
    storage: maybe(quantity).openapi({ description: "a size like '10Gi'; default 0Gi" }),
    machine_type: maybe(nonEmpty).openapi({ description: 'a job-private VM; not with cpu or memory' }),
    preemptible: maybe(z.boolean()),
  })
  .openapi('JobResources');

const FileTransfer = z.strictObject({ from: text, to: text });
const CloudfuseMount = z.strictObject({ bucket: nonEmpty, mount_path: nonEmpty, read_only: z.boolean() });
const SecretMount = z.strictObject({ namespace: nonEmpty, name: nonEmpty, mount_path: nonEmpty });
const EnvVar = z.strictObject({ name: nonEmpty, value: text });
const ids = z.array(z.int());

export const WireJobSpec = z
  .strictObject({
    job_id: z.int().openapi({ description: 'id within the update, contiguous through the bunch' }),
    process: DockerProcess,
    resources: maybe(JobResources),
    always_run: maybe(z.boolean()),
    always_copy_output: maybe(z.boolean()),
    n_max_attempts: maybe(z.int().min(1).max(INT4_MAX)),
    timeout: maybe(z.number().positive()).openapi({ description: "seconds, for the main container" }),
    env: maybe(z.array(EnvVar)),
    attributes: maybe(stringMap),
    input_files: maybe(z.array(FileTransfer)),
    output_files: maybe(z.array(FileTransfer)),
    parent_ids: maybe(ids).openapi({ description: 'legacy name of absolute_parent_ids' }),
    absolute_parent_ids: maybe(ids),
    in_update_parent_ids: maybe(ids),
    absolute_job_group_id: maybe(z.int().min(0)),
    in_update_job_group_id: maybe(z.int().min(0)),
    cloudfuse: maybe(z.array(CloudfuseMount)),
    gcsfuse: maybe(z.array(CloudfuseMount)).openapi({ description: 'old name of cloudfuse' }),
    port: maybe(z.int().min(1).max(65535)),
    regions: maybe(z.array(nonEmpty).min(1)),
    requester_pays_project: maybe(nonEmpty),
    user_code: maybe(text),
    mount_tokens: maybe(z.boolean()),
    secrets: maybe(z.array(SecretMount)).openapi({ description: 'ci user only' }),
    service_account: maybe(z.strictObject({ namespace: nonEmpty, name: nonEmpty })).openapi({ description: 'ci user only' }),
    unconfined: maybe(z.boolean()).openapi({ description: 'ci user only' }),
    network: maybe(z.enum(['public', 'private'])).openapi({ description: "'private' for the ci user only" }),
  })
  .openapi('JobSpec');

export const JobBunch = z.array(WireJobSpec).openapi('JobBunch');

export const WireBatchSpec = z
  .strictObject({
    billing_project: nonEmpty,
    n_jobs: z.int().min(0).max(INT4_MAX),
    token: nonEmpty.openapi({ description: 'makes creation idempotent per user' }),
    attributes: maybe(stringMap),
    callback: maybe(nonEmpty),
    cancel_after_n_failures: maybe(z.int().min(1).max(INT4_MAX)),
    n_job_groups: maybe(z.int().min(0)),
  })
  .openapi('BatchSpec');

export const WireUpdateSpec = z
  .strictObject({
    token: nonEmpty,
    n_jobs: z.int().min(0).max(INT4_MAX),
    n_job_groups: maybe(z.int().min(0)),
  })
  .openapi('UpdateSpec');

/** Job groups other than the root are not supported: a list is accepted and ignored. */
const JobGroups = maybe(z.array(z.unknown())).openapi({
  description: "Hail's job group specs; accepted and ignored (only the root group exists)",
});

/** The list `job_groups` must be when given, as Hail requires; its entries are ignored. */
export function checkJobGroups(value: unknown): void {
  if (value !== undefined && value !== null && !Array.isArray(value)) {
    throw new SpecError('job_groups', 'job_groups: expected a list of job group specs');
  }
}

/** The bunch of a -fast body is read after the rest, once the update's ids are known. */
export const CreateFastEnvelope = z.strictObject({ batch: WireBatchSpec, bunch: z.unknown().optional(), job_groups: JobGroups });
export const UpdateFastEnvelope = z.strictObject({ update: WireUpdateSpec, bunch: z.unknown().optional(), job_groups: JobGroups });

export const CreateFastBody = z
  .strictObject({ batch: WireBatchSpec, bunch: JobBunch, job_groups: JobGroups })
  .openapi('CreateFast');

export const UpdateFastBody = z
  .strictObject({ update: WireUpdateSpec, bunch: JobBunch, job_groups: JobGroups })
  .openapi('UpdateFast');

/**
 * Counts the parsers accept but PostgreSQL's `integer` columns cannot hold. The schemas above
 * publish the same maxima; the routes check raw bodies with this before parsing, so a count
 * too large is a 400 naming it rather than an overflow in a query.
 */
export function checkStoredCounts(raw: unknown, kind: 'batch' | 'update' | 'bunch', path: string): void {
  const at = (key: string) => (path === '' ? key : `${path}.${key}`);
  const check = (value: unknown, field: string) => {
    if (typeof value === 'number' && value > INT4_MAX) {
      throw new SpecError(field, `must be at most ${INT4_MAX}, found ${value}`);
    }
  };
  if (kind === 'bunch') {
    if (!Array.isArray(raw)) return;
    raw.forEach((job, i) => {
      if (typeof job === 'object' && job !== null) check((job as Record<string, unknown>).n_max_attempts, `${path}[${i}].n_max_attempts`);
    });
    return;
  }
  if (typeof raw !== 'object' || raw === null) return;
  const obj = raw as Record<string, unknown>;
  check(obj.n_jobs, at('n_jobs'));
  if (kind === 'batch') check(obj.cancel_after_n_failures, at('cancel_after_n_failures'));
}
