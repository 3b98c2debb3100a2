/**
 * Container logs and status documents: from the agent while the attempt runs, from the object
 * store once it has ended (the agent uploads both before it reports completion).
 */
import type { Services } from './context';
import type { JobRow } from '../db/queries/jobs';
import { getAttempt } from '../db/queries/attempts';
import { getInstance } from '../db/queries/instances';
import { logKey, statusKey } from '../storage/keys';

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
