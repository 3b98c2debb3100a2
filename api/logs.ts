/**
 * Container logs and status documents: from the agent while the attempt runs, from the object
 * store once it has ended (the agent uploads both before it reports completion).
 */
import type { Services } from './context';
import type { JobRow } from '../db/queries/jobs';
import { getAttempt } from '../db/queries/attempts';
import { getInstance } from '../db/queries/instances';
import { logKey, resourceUsageKey, statusKey } from '../storage/keys';
import { CONTAINER_NAMES } from '../domain/job-spec';
import { decodeResourceUsage, resourceUsageFrame, type ResourceUsageFrame } from '../domain/resource-usage';

async function fromAgent(address: string, path: string): Promise<Buffer | null> {
  try {
    const res = await fetch(`${address}${path}`, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) return null;
    return Buffer.from(await res.arrayBuffer());
  } catch {
    return null;
  }
}

async function currentAttempt(s: Services, job: JobRow) {
  if (!job.attemptId) return null;
  return getAttempt(s.db, { batchId: job.batchId, jobId: job.jobId, attemptId: job.attemptId });
}

export async function readLog(s: Services, job: JobRow, container: string): Promise<Buffer | null> {
  const attempt = await currentAttempt(s, job);
  if (!attempt) return null;
  const ref = { instance: attempt.instanceName, batchId: job.batchId, jobId: job.jobId, attemptId: attempt.attemptId };
  if (attempt.endTime === null) {
    const inst = await getInstance(s.db, attempt.instanceName);
    if (inst?.address) {
      const live = await fromAgent(inst.address, `/api/v1alpha/batches/${job.batchId}/jobs/${job.jobId}/log/${container}`);
      if (live) return live;
    }
  }
  return s.objects.get(logKey({ ...ref, container }));
}

export async function readStatus(s: Services, job: JobRow): Promise<unknown> {
  const attempt = await currentAttempt(s, job);
  if (!attempt) return null;
  if (attempt.status) return attempt.status;
  if (attempt.endTime === null) {
    const inst = await getInstance(s.db, attempt.instanceName);
    if (inst?.address) {
      const live = await fromAgent(inst.address, `/api/v1alpha/batches/${job.batchId}/jobs/${job.jobId}/status`);
      if (live) return JSON.parse(live.toString('utf8'));
    }
  }
  const stored = await s.objects.get(
    statusKey({ instance: attempt.instanceName, batchId: job.batchId, jobId: job.jobId, attemptId: attempt.attemptId }),
  );
  return stored ? JSON.parse(stored.toString('utf8')) : null;
}

/**
 * Each container's CPU, memory and storage samples as Hail's `Job.resource_usage()` reads them
 * (a pandas "split" frame per container): live from the agent while the attempt runs, else the
 * files the agent stored beside the logs. Containers that left no readable file are left out.
 */
export async function readResourceUsage(s: Services, job: JobRow): Promise<Record<string, ResourceUsageFrame>> {
  const attempt = await currentAttempt(s, job);
  if (!attempt) return {};
  const ref = { instance: attempt.instanceName, batchId: job.batchId, jobId: job.jobId, attemptId: attempt.attemptId };
  const files = new Map<string, Uint8Array>();
  if (attempt.endTime === null) {
    const inst = await getInstance(s.db, attempt.instanceName);
    const live = inst?.address
      ? await fromAgent(inst.address, `/api/v1alpha/batches/${job.batchId}/jobs/${job.jobId}/resource_usage`)
      : null;
    const parsed = live ? liveUsage(live) : null;
    if (parsed) for (const [name, b64] of Object.entries(parsed)) files.set(name, Buffer.from(b64, 'base64'));
  }
  if (files.size === 0) {
    for (const container of CONTAINER_NAMES) {
      const stored = await s.objects.get(resourceUsageKey({ ...ref, container }));
      if (stored) files.set(container, stored);
    }
  }
  const out: Record<string, ResourceUsageFrame> = {};
  for (const container of CONTAINER_NAMES) {
    const data = files.get(container);
    const samples = data ? decodeResourceUsage(data) : null;
    if (samples) out[container] = resourceUsageFrame(samples);
  }
  return out;
}

/** The agent's `{container: base64}`; anything else counts as no answer. */
function liveUsage(body: Buffer): Record<string, string> | null {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
    return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return null;
  }
}
