/**
 * The wire specs of batch creation, updates and job bunches (hail-batch-api §2), validated and
 * normalized. Every failure is a SpecError naming the field, which the API answers with 400.
 */
import { parseProjectName } from './accounts';
import { SpecError } from './errors';
import type { JobSpec } from './job-spec';
import { INT4_MAX, MAX_NAME_LENGTH } from './limits';
import { parseJob, type BunchContext } from './spec-job';
import { parseHttpUrl } from './urls';
import { fieldPath, readInteger, readObject, readOptional, readString, readStringMap } from './wire';

export { JOB_DEFAULTS, type BunchContext } from './spec-job';

const readToken = (v: unknown, f: string) => readString(v, f, { nonEmpty: true, maxLength: MAX_NAME_LENGTH });
/** The service POSTs to a batch's callback when it completes: only http(s) URLs. */
const readCallback = (v: unknown, f: string) => parseHttpUrl(readString(v, f, { nonEmpty: true }), f);

export type BatchSpec = {
  billing_project: string;
  n_jobs: number;
  token: string;
  attributes: Record<string, string>;
  callback: string | null;
  cancel_after_n_failures: number | null;
  n_job_groups: number;
};

export type UpdateSpec = {
  token: string;
  n_jobs: number;
  n_job_groups: number;
};

/**
 * The body of `batches/create`, or the `batch` of `create-fast` (pass path 'batch' so errors
 * read `batch.n_jobs`).
 */
export function parseBatchSpec(body: unknown, path = ''): BatchSpec {
  const obj = readObject(
    body,
    path,
    ['billing_project', 'n_jobs', 'token', 'attributes', 'callback', 'cancel_after_n_failures', 'n_job_groups'],
    ['billing_project', 'n_jobs', 'token'],
  );
  const at = (key: string) => fieldPath(path, key);
  const atLeast = (min: number) => (v: unknown, f: string) => readInteger(v, f, { min });
  return {
    billing_project: parseProjectName(readString(obj.billing_project, at('billing_project'), { nonEmpty: true }), at('billing_project')),
    n_jobs: readInteger(obj.n_jobs, at('n_jobs'), { min: 0 }),
    token: readToken(obj.token, at('token')),
    attributes: readOptional(obj, path, 'attributes', readStringMap, {}),
    callback: readOptional(obj, path, 'callback', readCallback, null),
    cancel_after_n_failures: readOptional(obj, path, 'cancel_after_n_failures', atLeast(1), null),
    n_job_groups: readOptional(obj, path, 'n_job_groups', atLeast(0), 0),
  };
}

/** The body of `updates/create`, or the `update` of `update-fast` (path 'update'). */
export function parseUpdateSpec(body: unknown, path = ''): UpdateSpec {
  const obj = readObject(body, path, ['token', 'n_jobs', 'n_job_groups'], ['token', 'n_jobs']);
  const at = (key: string) => fieldPath(path, key);
  const spec: UpdateSpec = {
    token: readToken(obj.token, at('token')),
    n_jobs: readInteger(obj.n_jobs, at('n_jobs'), { min: 0 }),
    n_job_groups: readOptional(obj, path, 'n_job_groups', (v, f) => readInteger(v, f, { min: 0 }), 0),
  };
  if (spec.n_jobs === 0 && spec.n_job_groups === 0) {
    throw new SpecError(at('n_jobs'), 'an update must add at least one job or job group');
  }
  return spec;
}

/**
 * A bunch of wire job specs for one update. The wire job_id is the id within the update
 * (1..nJobsInUpdate) and must run without gaps through the bunch; the returned specs carry
 * absolute ids (startJobId + job_id - 1), absolute parents and the chosen pool.
 */
export function parseJobBunch(bunch: unknown, ctx: BunchContext): JobSpec[] {
  const path = ctx.path ?? 'bunch';
  const lastJobId = ctx.startJobId + ctx.nJobsInUpdate - 1;
  if (lastJobId > INT4_MAX) {
    throw new SpecError(
      'n_jobs',
      `this update's ${ctx.nJobsInUpdate} jobs would take job ids up to ${lastJobId}, past the largest job id ${INT4_MAX}`,
    );
  }
  if (!Array.isArray(bunch)) throw new SpecError(path, 'expected a list of job specs');
  const specs: JobSpec[] = [];
  let expected: number | null = null;
  for (const [i, value] of bunch.entries()) {
    const spec = parseJob(value, `${path}[${i}]`, ctx, expected);
    expected = spec.job_id - ctx.startJobId + 2;
    specs.push(spec);
  }
  return specs;
}
