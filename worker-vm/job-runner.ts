/**
 * The life of one attempt: wait for cores, run input → main → output in a shared /io, keep
 * the status document current, upload logs and status, clean up, report job_complete.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ContainerName } from '../domain/job-spec';
import { resourceUsageHeader } from '../domain/resource-usage';
import { logKey, resourceUsageKey, statusKey } from '../storage/keys';
import type { ObjectStore } from '../storage/object-store';
import type { StorageEndpoints } from '../storage/user-buckets';
import type { Attempt } from './attempt';
import type { CpuSemaphore } from './cpu-semaphore';
import type { DriverClient } from './driver-client';
import type { ContainerResult, ContainerTask, Executor } from './executors/executor';
import type { Logger } from './logger';
import { attemptExitCode, attemptOutcome, type ContainerStatus } from './status';
import { copyCloud, type CloudTransfer } from './cloud-copy';
import { allowTransfers, type Owner } from './storage-access';
import type { ScratchVolumes } from './scratch-volume';
import { storageQuotaBytes } from './storage-quota';
import { planTransfers } from './transfers';

/** What the agent knows of storage: the config's roots per billing project, and the owner. */
export type AgentStorage = {
  rootsFor(project: string): string[];
  defaultBase: string;
  owner: Owner;
};

export type RunnerDeps = {
  executor: Executor;
  storage: AgentStorage;
  semaphore: CpuSemaphore;
  store: ObjectStore;
  client: DriverClient;
  log: Logger;
  /** Makes the per-attempt volumes that enforce storage quotas; null where they cannot be made. */
  volumes: ScratchVolumes | null;
  /** Where the clouds' storage APIs are, for jobs' gs:// and Azure Blob files. */
  cloudStorage: StorageEndpoints;
};

export async function runAttempt(a: Attempt, deps: RunnerDeps): Promise<void> {
  const release = await deps.semaphore.acquire(a.request.job_spec.resources.cores_mcpu, a.abort.signal);
  if (release === null) {
    // Deleted while waiting for cores: nothing ran, nothing to keep.
    a.state = 'cancelled';
    a.endTime = Date.now();
    a.containersStopped();
    return;
  }
  let killed = false;
  try {
    a.startTime = Date.now();
    const quota = storageQuotaBytes(a.request.job_spec.resources);
    if (deps.volumes !== null && quota > 0) a.volume = await deps.volumes.provision(a.volumeImage, a.volumeDir, quota);
    await runContainers(a, deps);
  } catch (err) {
    infrastructureError(a, err);
  } finally {
    // A kill that arrives after the last container ended changes nothing: report the outcome.
    killed = a.abort.signal.aborted;
    await a.volume?.release().catch((err: unknown) => deps.log.error('releasing scratch volume failed', { attempt: a.key, error: String(err) }));
    release();
    a.containersStopped();
  }
  a.endTime = Date.now();
  a.state = killed ? 'cancelled' : attemptOutcome(Object.values(a.containers));

  await upload(a, deps).catch((err) => deps.log.error('uploading attempt logs failed', { attempt: a.key, error: String(err) }));
  await rm(a.dir, { recursive: true, force: true }).catch((err) =>
    deps.log.warn('removing scratch dir failed', { dir: a.dir, error: String(err) }),
  );
  // The driver deleted this job (or the agent is going away): it already knows.
  if (a.state === 'cancelled') return;
  const marked = (await a.startedReport) ?? false;
  const delivered = await deps.client.jobComplete({
    status: {
      ...a.ref,
      job_group_id: a.jobGroupId,
      state: a.state,
      // Main's start (null if it never ran); main's end is in the status document's timing.
      start_time: a.mainStartTime,
      end_time: a.endTime,
      exit_code: attemptExitCode(a.containers),
      status: a.statusDocument(),
    },
    marked_job_started: marked,
  });
  if (!delivered) deps.log.warn('job_complete not delivered', { attempt: a.key });
}

async function runContainers(a: Attempt, deps: RunnerDeps): Promise<void> {
  const spec = a.request.job_spec;
  await mkdir(a.ioDir, { recursive: true });
  if (spec.input_files.length > 0) {
    const input = await runContainer(a, 'input', deps);
    if (input.state !== 'succeeded') return;
  }
  if (a.abort.signal.aborted) return;
  const main = await runContainer(a, 'main', deps);
  if (a.abort.signal.aborted || spec.output_files.length === 0) return;
  if (main.state === 'succeeded' || spec.always_copy_output) await runContainer(a, 'output', deps);
}

async function runContainer(a: Attempt, name: ContainerName, deps: RunnerDeps): Promise<ContainerStatus> {
  const status: ContainerStatus = {
    name,
    state: 'pending',
    timing: {},
    container_status: { exit_code: null, out_of_memory: false },
  };
  a.containers[name] = status;
  const logPath = a.logPath(name);
  await mkdir(path.dirname(logPath), { recursive: true });
  await writeFile(logPath, '');
  await writeFile(a.usagePath(name), resourceUsageHeader());

  const onProgress: ContainerTask['onProgress'] = (state, timing) => {
    status.state = state;
    status.timing = timing;
    // Billing starts when main does, not when inputs start downloading: report main's own start.
    if (name === 'main' && state === 'running' && a.startedReport === null) {
      a.mainStartTime = timing.running?.start_time ?? Date.now();
      a.startedReport = deps.client.jobStarted({ ...a.ref, start_time: a.mainStartTime, resources: a.resources });
    }
  };
  const step = await planStep(a, name, logPath, deps.storage, onProgress);
  let result: ContainerResult;
  if ('refused' in step) {
    // A location the job may not use (or no host file at all): an Error, nothing read or written.
    await writeFile(logPath, `${step.refused}\n`);
    result = { state: 'error', timing: {}, exitCode: null, outOfMemory: false, error: step.refused };
  } else {
    let ran: ContainerResult | null = step.task ? await deps.executor.run(step.task) : null;
    if (step.cloud.length > 0 && (ran === null || ran.state === 'succeeded')) ran = await runCloudCopies(a, name as 'input' | 'output', step.cloud, logPath, ran, onProgress, deps);
    result = ran!;
  }
  status.state = result.state;
  status.timing = result.timing;
  status.container_status = { exit_code: result.exitCode, out_of_memory: result.outOfMemory };
  if (result.error !== undefined) status.error = result.error;
  if (result.shortError !== undefined) status.short_error = result.shortError;
  return status;
}

/** What one step runs: a container (none for a copy step with only cloud files) and its cloud copies. */
type StepPlan = { task: ContainerTask | null; cloud: CloudTransfer[] } | { refused: string };

async function planStep(
  a: Attempt,
  name: ContainerName,
  logPath: string,
  storage: AgentStorage,
  onProgress: ContainerTask['onProgress'],
): Promise<StepPlan> {
  const spec = a.request.job_spec;
  const base = { name, attempt: a.labels, ioDir: a.ioDir, logPath, usagePath: a.usagePath(name), signal: a.abort.signal, onProgress };
  if (name === 'main') {
    return {
      task: {
        ...base,
        kind: 'command',
        image: spec.process.image,
        command: spec.process.command,
        env: mainEnv(a),
        coresMcpu: spec.resources.cores_mcpu,
        memoryBytes: spec.resources.memory_bytes,
        timeoutMs: spec.timeout === null ? null : spec.timeout * 1000,
        writableLayerDir: a.volume?.writableLayerDir ?? null,
      },
      cloud: [],
    };
  }
  const plan = planTransfers(name, name === 'input' ? spec.input_files : spec.output_files);
  if (!plan.ok) return { refused: `refused: ${plan.error}` };
  if (plan.transfers.length === 0) return { task: null, cloud: plan.cloud };
  const project = a.request.billing_project;
  const allowed = await allowTransfers(name, plan.transfers, {
    roots: storage.rootsFor(project),
    defaultRoot: path.join(storage.defaultBase, project),
    owner: storage.owner,
  });
  if (!allowed.ok) return { refused: allowed.error };
  return { task: { ...base, kind: 'copy', direction: name, transfers: allowed.transfers }, cloud: plan.cloud };
}

/**
 * A step's cloud files, copied by the agent after its host files (if any) as one step: one
 * log, one running span from the first copy's start to the last one's end.
 */
async function runCloudCopies(
  a: Attempt,
  direction: 'input' | 'output',
  cloud: CloudTransfer[],
  logPath: string,
  before: ContainerResult | null,
  onProgress: ContainerTask['onProgress'],
  deps: RunnerDeps,
): Promise<ContainerResult> {
  const start = before?.timing.running?.start_time ?? Date.now();
  onProgress('running', { ...before?.timing, running: { start_time: start, finish_time: null, duration: null } });
  const copied = await copyCloud(direction, cloud, {
    ioDir: a.ioDir,
    credentials: a.request.cloud_credentials ?? {},
    endpoints: deps.cloudStorage,
    owner: deps.storage.owner,
    user: a.request.user,
    logPath,
    signal: a.abort.signal,
  });
  const end = Date.now();
  const timing = { ...before?.timing, running: { start_time: start, finish_time: end, duration: end - start } };
  if (copied.ok) return { state: 'succeeded', timing, exitCode: 0, outOfMemory: false };
  if (a.abort.signal.aborted) return { state: 'cancelled', timing, exitCode: null, outOfMemory: false };
  // A refusal is the job's Error (as for host paths); a copy that failed is the step failing,
  // with its reason in the step's log, as the host copier's would be.
  if (copied.refused) return { state: 'error', timing, exitCode: null, outOfMemory: false, error: copied.error };
  return { state: 'failed', timing, exitCode: 1, outOfMemory: false };
}

/** The spec's env, then Hail's own variables, which the job cannot override. */
function mainEnv(a: Attempt): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { name, value } of a.request.job_spec.env) env[name] = value;
  env.HAIL_REGION = a.region;
  env.HAIL_BATCH_ID = String(a.request.batch_id);
  env.HAIL_JOB_ID = String(a.request.job_id);
  env.HAIL_JOB_GROUP_ID = String(a.jobGroupId);
  env.HAIL_ATTEMPT_ID = a.request.attempt_id;
  return env;
}

function infrastructureError(a: Attempt, err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  const running = Object.values(a.containers).find((c) => !['succeeded', 'failed', 'error', 'cancelled'].includes(c.state));
  const target: ContainerStatus = running ?? {
    name: 'main',
    state: 'error',
    timing: {},
    container_status: { exit_code: null, out_of_memory: false },
  };
  target.state = 'error';
  target.error = message;
  a.containers[target.name] = target;
}

async function upload(a: Attempt, deps: RunnerDeps): Promise<void> {
  for (const name of Object.keys(a.containers) as ContainerName[]) {
    const log = await readFile(a.logPath(name)).catch(() => Buffer.alloc(0));
    await deps.store.put(logKey({ ...a.labels, container: name }), log);
    const usage = await readFile(a.usagePath(name)).catch(() => resourceUsageHeader());
    await deps.store.put(resourceUsageKey({ ...a.labels, container: name }), usage);
  }
  await deps.store.put(statusKey(a.labels), JSON.stringify(a.statusDocument()));
  a.uploaded = true;
}
