/**
 * One wire JobSpec (hail-batch-api §2) into the normalized JobSpec. The bunch-level rules
 * (contiguous ids) live in spec.ts; this file knows the fields of a single job.
 */
import { SpecError, UnsatisfiableError, showValue } from './errors';
import type { CloudfuseMount, FileTransfer, JobSpec, NormalizedResources, ProcessSpec, SecretMount } from './job-spec';
import { parseImageRef } from './image-ref';
import { MAX_NAME_LENGTH, MAX_REGIONS, MAX_TIMEOUT_SECONDS, MAX_URL_LENGTH } from './limits';
import { parseBucketName, parseIoPath, parseMountPath } from './mounts';
import { choosePool, type PoolDefinition, type ResourceRequest } from './pools';
import { MEMORY_KEYWORDS, SIZE_PATTERN, parseCpu, parseMemory, parseStorageGib, type MemoryRequest } from './resources';
import {
  fieldPath,
  isPlainObject,
  optional,
  readBoolean,
  readInteger,
  readList,
  readNumber,
  readObject,
  readOptional,
  readString,
  readStringMap,
} from './wire';

export type BunchContext = {
  /** Absolute id of the update's first job: in-update id n is job startJobId + n - 1. */
  startJobId: number;
  nJobsInUpdate: number;
  pools: readonly PoolDefinition[];
  /** The submitting user; only 'ci' may use secrets, service accounts, unconfined or private networks. */
  user: string;
  /** Absolute id of the update's first job group (in-update group n is startJobGroupId + n - 1). */
  startJobGroupId?: number;
  nJobGroupsInUpdate?: number;
  /** The supported regions (GET supported_regions); a job asking for any other is rejected. */
  regions: readonly string[];
  /** Name of the bunch in error messages; 'bunch' unless the caller says otherwise. */
  path?: string;
};

export const JOB_DEFAULTS = {
  cpu: '1',
  memory: 'standard',
  storage: '0Gi',
  preemptible: true,
  always_run: false,
  n_max_attempts: 20,
  always_copy_output: true,
} as const;

const JOB_KEYS = [
  'job_id', 'process', 'resources', 'always_run', 'always_copy_output', 'n_max_attempts', 'timeout',
  'env', 'attributes', 'input_files', 'output_files', 'parent_ids', 'absolute_parent_ids',
  'in_update_parent_ids', 'absolute_job_group_id', 'in_update_job_group_id', 'cloudfuse', 'gcsfuse',
  'port', 'regions', 'requester_pays_project', 'user_code', 'mount_tokens', 'secrets',
  'service_account', 'unconfined', 'network',
];
const CI_USER = 'ci';

const nonEmpty = (v: unknown, f: string) => readString(v, f, { nonEmpty: true });
const name = (v: unknown, f: string) => readString(v, f, { nonEmpty: true, maxLength: MAX_NAME_LENGTH });
const url = (v: unknown, f: string) => readString(v, f, { maxLength: MAX_URL_LENGTH });
/** POSIX's portable environment variable names; anything else cannot be passed to a container as NAME=value. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function parseProcess(value: unknown, field: string): ProcessSpec {
  if (isPlainObject(value) && value.type === 'jvm') {
    throw new SpecError(`${field}.type`, 'jvm jobs are not supported; use a docker process');
  }
  const keys = ['type', 'image', 'command', 'mount_docker_socket'];
  const obj = readObject(value, field, keys, ['type', 'image', 'command']);
  if (obj.type !== 'docker') {
    throw new SpecError(`${field}.type`, `unknown process type ${showValue(obj.type)}; expected docker`);
  }
  if (readOptional(obj, field, 'mount_docker_socket', readBoolean, false)) {
    // Hail's own text, which its tests and old clients look for.
    throw new SpecError(
      `${field}.mount_docker_socket`,
      'mount_docker_socket is no longer supported but was set to True in request. Please upgrade.',
    );
  }
  return {
    type: 'docker',
    image: parseImageRef(readString(obj.image, `${field}.image`, { maxLength: MAX_URL_LENGTH }), `${field}.image`),
    command: readList(obj.command, `${field}.command`, readString),
  };
}

/** A request value as Hail's resource messages show it: bare, cut short. */
function shownRequest(value: unknown): string {
  // Objects (some without a prototype, which String() cannot convert) as showValue shows them.
  const text =
    typeof value === 'string'
      ? value
      : value === undefined || value === null
        ? 'None'
        : typeof value === 'object'
          ? showValue(value)
          : String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * The job's resources and its pool. Invalid cpu or memory and requests no worker can run are
 * worded as Hail words them ("bad resource request for job …", "resource requests for job …
 * are unsatisfiable: …"), since Hail's clients and tests match those texts.
 */
function parseResources(
  value: unknown,
  field: string,
  pools: readonly PoolDefinition[],
  jobId: number,
): { resources: NormalizedResources; pool: string } {
  const keys = ['cpu', 'memory', 'storage', 'machine_type', 'preemptible'];
  const obj = value === undefined ? {} : readObject(value, field, keys);
  const cpu = optional(obj, 'cpu');
  const memory = optional(obj, 'memory');
  const storage = optional(obj, 'storage') ?? JOB_DEFAULTS.storage;
  const machineType = readOptional(obj, field, 'machine_type', name, null);
  const preemptible = readOptional(obj, field, 'preemptible', readBoolean, JOB_DEFAULTS.preemptible);
  if (machineType !== null && (cpu !== undefined || memory !== undefined)) {
    throw new SpecError(`${field}.machine_type`, 'machine_type cannot be combined with cpu or memory');
  }
  const unsatisfiable = (at: string, why: string) =>
    new SpecError(
      at,
      `resource requests for job ${jobId} are unsatisfiable: ` +
        `cpu=${machineType === null ? shownRequest(cpu ?? JOB_DEFAULTS.cpu) : 'None'}, ` +
        `memory=${machineType === null ? shownRequest(memory ?? JOB_DEFAULTS.memory) : 'None'}, ` +
        `storage=${shownRequest(storage)}, preemptible=${preemptible ? 'True' : 'False'}, ` +
        `machine_type=${shownRequest(machineType)} (${why})`,
    );
  const fits = <T>(parse: () => T): T => {
    try {
      return parse();
    } catch (e) {
      throw e instanceof UnsatisfiableError ? unsatisfiable(e.field, e.why) : e;
    }
  };
  const request: ResourceRequest =
    machineType !== null
      ? { machine_type: machineType }
      : { cores_mcpu: readCpu(cpu, `${field}.cpu`, jobId), memory: readMemory(memory, `${field}.memory`) };
  const storageGib = fits(() => parseStorageGib(storage, `${field}.storage`));
  const choice = fits(() => choosePool(request, pools, field));
  return {
    pool: choice.pool,
    resources: {
      cores_mcpu: choice.cores_mcpu,
      memory_bytes: choice.memory_bytes,
      storage_gib: storageGib,
      preemptible,
      machine_type: machineType,
    },
  };
}

function readCpu(cpu: unknown, field: string, jobId: number): number {
  try {
    return parseCpu(cpu ?? JOB_DEFAULTS.cpu, field);
  } catch (e) {
    if (!(e instanceof SpecError)) throw e;
    throw new SpecError(
      field,
      `bad resource request for job ${jobId}: cpu must be a power of two with a min of 0.25; found ${shownRequest(cpu)}.`,
    );
  }
}

/** Hail's validator reports a bad memory as failing both of its forms; its clients match that text. */
function readMemory(memory: unknown, field: string): MemoryRequest {
  try {
    return parseMemory(memory ?? JOB_DEFAULTS.memory, field);
  } catch (e) {
    if (!(e instanceof SpecError)) throw e;
    throw new SpecError(
      field,
      `${e.detail}: ${field} must match regex: ${SIZE_PATTERN.source} or ${field} must be one of: ${MEMORY_KEYWORDS.join(', ')}`,
    );
  }
}

/** Absolute parent ids, in the order given; every parent must come before the job itself. */
function parseParents(obj: Record<string, unknown>, path: string, inUpdateId: number, jobId: number, start: number) {
  const parents: number[] = [];
  const seen = new Set<number>();
  const add = (id: number, field: string) => {
    if (seen.has(id)) throw new SpecError(field, `duplicate parent: job ${id} is already a parent of this job`);
    seen.add(id);
    parents.push(id);
  };
  for (const key of ['absolute_parent_ids', 'parent_ids']) {
    readOptional(obj, path, key, (ids, field) => readList(ids, field, (v, f) => {
      const id = readInteger(v, f);
      if (id < 1 || id >= jobId) {
        throw new SpecError(f, `parent ${id} must be an earlier job of this batch (1 to ${jobId - 1})`);
      }
      add(id, f);
    }), null);
  }
  readOptional(obj, path, 'in_update_parent_ids', (ids, field) => readList(ids, field, (v, f) => {
    const id = readInteger(v, f);
    if (id < 1 || id >= inUpdateId) {
      throw new SpecError(f, `parent ${id} must be an earlier job of this update (1 to ${inUpdateId - 1})`);
    }
    add(start + id - 1, f);
  }), null);
  return parents;
}

function parseJobGroupId(obj: Record<string, unknown>, path: string, ctx: BunchContext): number {
  const inUpdateField = fieldPath(path, 'in_update_job_group_id');
  const groupId = (v: unknown, f: string) => readInteger(v, f, { min: 0 });
  const absolute = readOptional(obj, path, 'absolute_job_group_id', groupId, null);
  const inUpdate = readOptional(obj, path, 'in_update_job_group_id', groupId, null);
  if (absolute !== null && inUpdate !== null) {
    throw new SpecError(inUpdateField, 'give absolute_job_group_id or in_update_job_group_id, not both');
  }
  if (absolute !== null) return absolute;
  // Group 0 is the batch's root group, which exists before any update.
  if (inUpdate === null || inUpdate === 0) return 0;
  const n = ctx.nJobGroupsInUpdate ?? 0;
  if (inUpdate > n) {
    throw new SpecError(inUpdateField, `job group ${inUpdate} is not in this update, which has ${n} job groups`);
  }
  return (ctx.startJobGroupId ?? 1) + inUpdate - 1;
}

function parseFileTransfer(value: unknown, field: string): FileTransfer {
  const obj = readObject(value, field, ['from', 'to'], ['from', 'to']);
  return { from: url(obj.from, `${field}.from`), to: url(obj.to, `${field}.to`) };
}

/** The container side of a transfer is checked at submission; the other side is the agent's to reach. */
function transferReader(containerSide: 'from' | 'to') {
  return (value: unknown, field: string): FileTransfer => {
    const transfer = parseFileTransfer(value, field);
    parseIoPath(transfer[containerSide], `${field}.${containerSide}`);
    return transfer;
  };
}

function parseCloudfuse(value: unknown, field: string): CloudfuseMount {
  const keys = ['bucket', 'mount_path', 'read_only'];
  const obj = readObject(value, field, keys, keys);
  const bucket = parseBucketName(name(obj.bucket, `${field}.bucket`), `${field}.bucket`);
  const mountPath = parseMountPath(nonEmpty(obj.mount_path, `${field}.mount_path`), `${field}.mount_path`);
  if (!readBoolean(obj.read_only, `${field}.read_only`)) {
    throw new SpecError(`${field}.read_only`, 'only read-only cloudfuse mounts are supported');
  }
  return { bucket, mount_path: mountPath, read_only: true };
}

function parseSecret(value: unknown, field: string): SecretMount {
  const keys = ['namespace', 'name', 'mount_path'];
  const obj = readObject(value, field, keys, keys);
  return {
    namespace: name(obj.namespace, `${field}.namespace`),
    name: name(obj.name, `${field}.name`),
    mount_path: parseMountPath(nonEmpty(obj.mount_path, `${field}.mount_path`), `${field}.mount_path`),
  };
}

function parseServiceAccount(value: unknown, field: string): { namespace: string; name: string } {
  const obj = readObject(value, field, ['namespace', 'name'], ['namespace', 'name']);
  return { namespace: name(obj.namespace, `${field}.namespace`), name: name(obj.name, `${field}.name`) };
}

function parseEnv(value: unknown, field: string): { name: string; value: string } {
  const obj = readObject(value, field, ['name', 'value'], ['name', 'value']);
  const envName = name(obj.name, `${field}.name`);
  if (!ENV_NAME.test(envName)) {
    throw new SpecError(`${field}.name`, `invalid environment variable name ${showValue(envName)}; expected a letter or _, then letters, digits or _`);
  }
  return { name: envName, value: readString(obj.value, `${field}.value`) };
}

function regionsReader(supported: readonly string[]) {
  return (value: unknown, field: string): string[] => {
    if (Array.isArray(value) && value.length > MAX_REGIONS) {
      throw new SpecError(field, `must list fewer than ${MAX_REGIONS + 1} regions, found ${value.length}`);
    }
    const regions = readList(value, field, name);
    if (regions.length === 0) throw new SpecError(field, 'must not be an empty list; leave it out to run anywhere');
    const unknown = regions.filter((r) => !supported.includes(r));
    if (unknown.length > 0) {
      throw new SpecError(field, `unknown regions ${unknown.join(', ')}; choose from ${supported.join(', ')}`);
    }
    return regions;
  };
}

function timeoutSeconds(value: unknown, field: string): number {
  const seconds = readNumber(value, field);
  if (seconds <= 0) throw new SpecError(field, `must be a number of seconds > 0, found ${seconds}`);
  if (seconds > MAX_TIMEOUT_SECONDS) {
    throw new SpecError(field, `must be at most ${MAX_TIMEOUT_SECONDS} seconds (366 days), found ${seconds}`);
  }
  return seconds;
}

function parseNetwork(value: unknown, field: string): 'public' | 'private' {
  if (value !== 'public' && value !== 'private') {
    throw new SpecError(field, `invalid network ${showValue(value)}; expected public or private`);
  }
  return value;
}

function checkJobId(inUpdateId: number, field: string, ctx: BunchContext, expected: number | null): void {
  if (inUpdateId < 1 || inUpdateId > ctx.nJobsInUpdate) {
    throw new SpecError(field, `job id ${inUpdateId} is out of range; this update has jobs 1 to ${ctx.nJobsInUpdate}`);
  }
  if (expected !== null && inUpdateId !== expected) {
    throw new SpecError(
      field,
      `job ids in a bunch must be contiguous; expected ${expected} after ${expected - 1}, found ${inUpdateId}`,
    );
  }
}

/** One wire job spec; `expectedJobId` is the in-update id contiguity demands, if any. */
export function parseJob(value: unknown, path: string, ctx: BunchContext, expectedJobId: number | null): JobSpec {
  const obj = readObject(value, path, JOB_KEYS, ['job_id', 'process']);
  const at = (key: string) => fieldPath(path, key);
  const read = <T, D>(key: string, reader: (v: unknown, f: string) => T, fallback: D) =>
    readOptional(obj, path, key, reader, fallback);
  const list = <T>(key: string, item: (v: unknown, f: string) => T) =>
    read(key, (v, f) => readList(v, f, item), [] as T[]);

  const inUpdateId = readInteger(obj.job_id, at('job_id'));
  checkJobId(inUpdateId, at('job_id'), ctx, expectedJobId);
  const jobId = ctx.startJobId + inUpdateId - 1;
  const processSpec = parseProcess(obj.process, at('process'));
  const { resources, pool } = parseResources(optional(obj, 'resources'), at('resources'), ctx.pools, jobId);

  const spec: JobSpec = {
    job_id: jobId,
    parent_ids: parseParents(obj, path, inUpdateId, jobId, ctx.startJobId),
    process: processSpec,
    resources,
    pool,
    env: list('env', parseEnv),
    attributes: read('attributes', readStringMap, {}),
    always_run: read('always_run', readBoolean, JOB_DEFAULTS.always_run),
    n_max_attempts: read('n_max_attempts', (v, f) => readInteger(v, f, { min: 1 }), JOB_DEFAULTS.n_max_attempts),
    always_copy_output: read('always_copy_output', readBoolean, JOB_DEFAULTS.always_copy_output),
    timeout: read('timeout', timeoutSeconds, null),
    input_files: list('input_files', transferReader('to')),
    output_files: list('output_files', transferReader('from')),
    regions: read('regions', regionsReader(ctx.regions), null),
    job_group_id: parseJobGroupId(obj, path, ctx),
    port: read('port', (v, f) => readInteger(v, f, { min: 1, max: 65535 }), null),
  };

  if (optional(obj, 'cloudfuse') !== undefined && optional(obj, 'gcsfuse') !== undefined) {
    throw new SpecError(at('gcsfuse'), 'gcsfuse is the old name of cloudfuse; give only one of them');
  }
  const fuseKey = optional(obj, 'gcsfuse') !== undefined ? 'gcsfuse' : 'cloudfuse';
  const extras: Partial<JobSpec> = {
    cloudfuse: read(fuseKey, (v, f) => readList(v, f, parseCloudfuse), undefined),
    requester_pays_project: read('requester_pays_project', name, undefined),
    user_code: read('user_code', readString, undefined),
    mount_tokens: read('mount_tokens', readBoolean, undefined),
    network: read('network', parseNetwork, undefined),
    unconfined: read('unconfined', readBoolean, undefined),
    secrets: read('secrets', (v, f) => readList(v, f, parseSecret), undefined),
    service_account: read('service_account', parseServiceAccount, undefined),
  };
  // Refused with Hail's texts ("unauthorized network private", …), which its clients match.
  const firstSecret = extras.secrets?.[0];
  const sa = extras.service_account;
  const privileged: [key: string, used: boolean, what: string][] = [
    ['network', extras.network === 'private', 'unauthorized network private'],
    ['unconfined', extras.unconfined === true, 'unauthorized use of unconfined=True'],
    ['secrets', firstSecret !== undefined, `unauthorized secret (${firstSecret?.namespace}, ${firstSecret?.name})`],
    ['service_account', sa !== undefined, `unauthorized service account (${sa?.namespace}, ${sa?.name})`],
  ];
  for (const [key, used, what] of privileged) {
    if (used && ctx.user !== CI_USER) {
      throw new SpecError(at(key), `${what} for user ${showValue(ctx.user)}: only the ci user may use it`);
    }
  }
  // The extras are stored only when given, to keep stored specs small.
  return { ...spec, ...Object.fromEntries(Object.entries(extras).filter(([, v]) => v !== undefined)) };
}
