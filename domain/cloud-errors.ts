/**
 * What to do with an error a cloud API answered, pure. Rate limits and server errors are tried
 * again after a pause; capacity and quota refusals are not worth repeating in the same place:
 * the location is avoided for a while and the VM asked for elsewhere; anything else is a bug
 * or a setting and fails.
 */
export type CloudErrorKind = 'retry' | 'capacity' | 'quota' | 'not-found' | 'conflict' | 'fatal';

/** Reasons and codes the two clouds use (GCE `errors[].code`, ARM `error.code`). */
const CAPACITY = ['ZONE_RESOURCE_POOL_EXHAUSTED', 'ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS', 'AllocationFailed', 'ZonalAllocationFailed', 'OverconstrainedAllocationRequest', 'SkuNotAvailable'];
const QUOTA = ['QUOTA_EXCEEDED', 'OperationNotAllowed', 'QuotaExceeded'];

export function classifyCloudError(status: number | null, code: string | null): CloudErrorKind {
  if (code && CAPACITY.includes(code)) return 'capacity';
  if (code && QUOTA.includes(code)) return 'quota';
  if (status === 429 || (status !== null && status >= 500) || code === 'RATE_LIMIT_EXCEEDED' || code === 'TooManyRequests') return 'retry';
  if (status === 404 || code === 'ResourceNotFound' || code === 'NotFound') return 'not-found';
  if (status === 409 || code === 'alreadyExists') return 'conflict';
  // No status at all: the connection failed before an answer, worth another try.
  if (status === null && code === null) return 'retry';
  return 'fatal';
}

/** Pause before try `n` (1-based) of a retried call: 250 ms doubling, at most 8 s. */
export function retryDelayMs(n: number): number {
  return Math.min(8000, 250 * 2 ** Math.max(0, n - 1));
}
