/**
 * Object keys of an attempt's logs and status document, in Hail's layout, so that the API
 * can find them from (instance, batch, job, attempt) alone once the worker is gone.
 */
export type AttemptRef = {
  instance: string;
  batchId: number;
  jobId: number;
  attemptId: string;
};

function attemptPrefix(a: AttemptRef): string {
  return `batch/logs/${a.instance}/batch/${a.batchId}/${a.jobId}/${a.attemptId}`;
}

export function logKey(a: AttemptRef & { container: string }): string {
  return `${attemptPrefix(a)}/${a.container}/log`;
}

export function statusKey(a: AttemptRef): string {
  return `${attemptPrefix(a)}/status.json`;
}

/** Hail's per-container resource usage file (see domain/resource-usage.ts), beside the log. */
export function resourceUsageKey(a: AttemptRef & { container: string }): string {
  return `${attemptPrefix(a)}/${a.container}/resource_usage`;
}
