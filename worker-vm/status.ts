/**
 * The status document (Hail's version 5) an agent keeps for each attempt: served live by
 * GET .../status, stored beside the logs, and sent with job_complete.
 */
import type { ContainerName } from '../domain/job-spec';
import type { AttemptOutcome } from '../domain/states';

export type Span = { start_time: number; finish_time: number | null; duration: number | null };
export type Timing = { pulling?: Span; creating?: Span; running?: Span };

export type ContainerState =
  | 'pending'
  | 'pulling'
  | 'creating'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'error'
  | 'cancelled';

/** The ending states a container run can reach. */
export type ContainerEnd = Extract<ContainerState, 'succeeded' | 'failed' | 'error' | 'cancelled'>;

export type ContainerStatus = {
  name: ContainerName;
  state: ContainerState;
  timing: Timing;
  error?: string;
  short_error?: string;
  container_status: { exit_code: number | null; out_of_memory: boolean };
};

export type AttemptState = AttemptOutcome | 'running' | 'cancelled';

export type Resource = { name: string; quantity: number };

export type StatusDocument = {
  version: 5;
  worker: string;
  batch_id: number;
  job_id: number;
  attempt_id: string;
  state: AttemptState;
  resources: Resource[];
  region: string;
  start_time: number | null;
  end_time: number | null;
  container_statuses: Partial<Record<ContainerName, ContainerStatus>>;
};

export function startSpan(now = Date.now()): Span {
  return { start_time: now, finish_time: null, duration: null };
}

export function finishSpan(span: Span | undefined, now = Date.now()): void {
  if (!span || span.finish_time !== null) return;
  span.finish_time = now;
  span.duration = now - span.start_time;
}

/** error beats failed beats succeeded: an infrastructure fault is not the user's doing. */
export function attemptOutcome(statuses: ContainerStatus[]): AttemptOutcome {
  if (statuses.some((s) => s.state === 'error')) return 'error';
  if (statuses.some((s) => s.state === 'failed')) return 'failed';
  return 'succeeded';
}

/**
 * Hail's job exit code (its client's Job.exit_code): input, main, output in order, the first
 * non-zero code wins; a container with an error (a timeout, a missing image) has no exit code,
 * and one without a code makes the whole answer null.
 */
export function attemptExitCode(statuses: Partial<Record<ContainerName, ContainerStatus>>): number | null {
  const ordered = [statuses.input, statuses.main, statuses.output].filter((s) => s !== undefined);
  if (ordered.length === 0) return null;
  for (const s of ordered) {
    const code = s.error !== undefined ? null : s.container_status.exit_code;
    if (code === null) return null;
    if (code > 0) return code;
  }
  return 0;
}
