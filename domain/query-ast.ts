/**
 * The typed form of a batch or job list query (`q`), produced by the v1 and v2 parsers and
 * compiled to SQL by the db layer. Both languages land in the same clause types so there is
 * one compiler; a query is a list of clauses that must all hold.
 */
import type { JobState } from './states';

export type ExactOp = '=' | '!=';
export type MatchOp = ExactOp | '=~' | '!~';
export type ComparisonOp = ExactOp | '<' | '<=' | '>' | '>=';

export const BATCH_STATE_TERMS = ['open', 'closed', 'complete', 'running', 'cancelled', 'failure', 'success'] as const;
export type BatchStateTerm = (typeof BATCH_STATE_TERMS)[number];

/** The job state words of both languages and the states each one stands for. */
export const JOB_STATE_TERMS = {
  pending: ['Pending'],
  ready: ['Ready'],
  creating: ['Creating'],
  running: ['Running'],
  live: ['Ready', 'Creating', 'Running'],
  cancelled: ['Cancelled'],
  error: ['Error'],
  failed: ['Failed'],
  bad: ['Error', 'Failed'],
  success: ['Success'],
  done: ['Cancelled', 'Error', 'Failed', 'Success'],
} as const satisfies Record<string, readonly JobState[]>;
export type JobStateTerm = keyof typeof JOB_STATE_TERMS;

/** An attribute with this key whose value matches (`=~`/`!~` are substring matches). */
export type AttributeClause = { kind: 'attribute'; key: string; op: MatchOp; value: string };
export type HasAttributeClause = { kind: 'has_attribute'; key: string };
/**
 * v2 bare word: any attribute key or value contains `text` (exact: equals it); for jobs the
 * instance name counts too.
 */
export type KeywordClause = { kind: 'keyword'; text: string; exact: boolean };
export type TimeClause = { kind: 'start_time' | 'end_time'; op: ComparisonOp; time_ms: number };
export type DurationClause = { kind: 'duration'; op: ComparisonOp; duration_ms: number };
/** Cost in dollars. */
export type CostClause = { kind: 'cost'; op: ComparisonOp; value: number };

export type SharedClause =
  | AttributeClause
  | HasAttributeClause
  | KeywordClause
  | TimeClause
  | DurationClause
  | CostClause;

export type BatchClause =
  | SharedClause
  | { kind: 'batch_id'; op: ComparisonOp; value: number }
  | { kind: 'user'; op: ExactOp; value: string }
  | { kind: 'billing_project'; op: ExactOp; value: string }
  | { kind: 'state'; op: ExactOp; state: BatchStateTerm }
  /** v1 `!term`. */
  | { kind: 'not'; clause: BatchClause };

export type JobClause =
  | SharedClause
  | { kind: 'job_id'; op: ComparisonOp; value: number }
  | { kind: 'state'; op: ExactOp; term: JobStateTerm; states: readonly JobState[] }
  | { kind: 'instance' | 'instance_collection'; op: MatchOp; value: string }
  | { kind: 'exit_code'; op: ComparisonOp; value: number }
  | { kind: 'not'; clause: JobClause };

export type BatchQuery = BatchClause[];
export type JobQuery = JobClause[];

export function isBatchStateTerm(word: string): word is BatchStateTerm {
  return (BATCH_STATE_TERMS as readonly string[]).includes(word);
}

export function isJobStateTerm(word: string): word is JobStateTerm {
  return Object.prototype.hasOwnProperty.call(JOB_STATE_TERMS, word);
}
