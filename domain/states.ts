/**
 * The one job state machine. Every layer (db enum, workflows, API) imports these tuples and
 * the transition table from here; nothing else spells a job state.
 */
export const JOB_STATES = [
  'Pending',
  'Ready',
  'Creating',
  'Running',
  'Cancelled',
  'Error',
  'Failed',
  'Success',
] as const;
export type JobState = (typeof JOB_STATES)[number];

export const COMPLETE_JOB_STATES = ['Cancelled', 'Error', 'Failed', 'Success'] as const satisfies readonly JobState[];
export type CompleteJobState = (typeof COMPLETE_JOB_STATES)[number];

const TRANSITIONS: Record<JobState, readonly JobState[]> = {
  Pending: ['Ready', 'Cancelled'],
  Ready: ['Creating', 'Running', 'Cancelled', 'Error'],
  Creating: ['Ready', 'Running', 'Cancelled', 'Error'],
  Running: ['Ready', 'Cancelled', 'Error', 'Failed', 'Success'],
  Cancelled: [],
  Error: [],
  Failed: [],
  Success: [],
};

export function canTransition(from: JobState, to: JobState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** States a job may be in for a transition into `to` to be legal (used for conditional updates). */
export function statesLeadingTo(to: JobState): JobState[] {
  return JOB_STATES.filter((s) => TRANSITIONS[s].includes(to));
}

export function isComplete(state: JobState): state is CompleteJobState {
  return (COMPLETE_JOB_STATES as readonly string[]).includes(state);
}

/** What a worker reports for an attempt; mapped onto job states by attemptOutcomeToState. */
export const ATTEMPT_OUTCOMES = ['succeeded', 'failed', 'error'] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

export function attemptOutcomeToState(outcome: AttemptOutcome): CompleteJobState {
  switch (outcome) {
    case 'succeeded':
      return 'Success';
    case 'failed':
      return 'Failed';
    case 'error':
      return 'Error';
  }
}

/** Stored batch states: a batch is open until its first commit, then running or complete. */
export const BATCH_STORED_STATES = ['open', 'running', 'complete'] as const;
export type BatchStoredState = (typeof BATCH_STORED_STATES)[number];

export const BATCH_STATES = ['open', 'failure', 'cancelled', 'success', 'running'] as const;
export type BatchState = (typeof BATCH_STATES)[number];

/** Hail's derivation of the visible batch state (hail-batch-api §3), checked in order. */
export function deriveBatchState(b: {
  stored: BatchStoredState;
  cancelled: boolean;
  n_failed: number;
  n_cancelled: number;
}): BatchState {
  if (b.stored === 'open') return 'open';
  if (b.n_failed > 0) return 'failure';
  if (b.cancelled || b.n_cancelled > 0) return 'cancelled';
  if (b.stored === 'complete') return 'success';
  return 'running';
}
