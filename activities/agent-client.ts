/**
 * The driver's side of the driver → worker protocol (hail-batch-api §5). Every call is safe to
 * repeat: the agent answers 403 to a job it already has and 200 to a kill of a job it lacks.
 */
import type { JobSpec } from '../domain/job-spec';
import type { CloudCredentials } from '../storage/user-credentials';

export type DispatchBody = {
  batch_id: number;
  job_id: number;
  attempt_id: string;
  job_group_id: number;
  user: string;
  billing_project: string;
  /** Only for jobs that name cloud files; the agent uses them for the copies and nothing else. */
  cloud_credentials?: CloudCredentials;
  job_spec: JobSpec;
};

export type DispatchResult = 'accepted' | 'unavailable';

const TIMEOUT_MS = 2000;

export async function dispatchJob(address: string, body: DispatchBody): Promise<DispatchResult> {
  try {
    const res = await fetch(`${address}/api/v1alpha/batches/jobs/create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    await res.arrayBuffer();
    // 403: the agent already has this attempt, i.e. an earlier send got through.
    return res.ok || res.status === 403 ? 'accepted' : 'unavailable';
  } catch {
    return 'unavailable';
  }
}

/** Whether the agent answers its health check in time: the driver's call to an unheard instance. */
export async function probeAgent(address: string): Promise<boolean> {
  try {
    const res = await fetch(`${address}/healthcheck`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

export async function killJob(address: string, batchId: number, jobId: number): Promise<boolean> {
  try {
    const res = await fetch(`${address}/api/v1alpha/batches/${batchId}/jobs/${jobId}/delete`, {
      method: 'DELETE',
      signal: AbortSignal.timeout(10_000),
    });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}
