/**
 * Names shared by workflows, the API and the CLI: workflow ids, signals and search attributes.
 * Workflow-safe (no I/O), so both sides of the wire import the same definitions.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey } from '@temporalio/common';

export const batchWorkflowId = (batchId: number): string => `batch-${batchId}`;
export const jobWorkflowId = (batchId: number, jobId: number): string => `batch-${batchId}-job-${jobId}`;
/** A batch's partitions are slots 0…n-1; a slot is started again after its last run ended. */
export const batchPartitionWorkflowId = (batchId: number, slot: number): string => `batch-${batchId}-part-${slot}`;
/** One scheduler per task queue, so deployments (or test runs) sharing a namespace stay apart. */
export const schedulerWorkflowId = (taskQueue: string): string => `scheduler-${taskQueue}`;
/** One billing-limit enforcer per task queue, like the scheduler. */
export const billingLimitsWorkflowId = (taskQueue: string): string => `billing-limits-${taskQueue}`;
/** One reader of the cloud's list prices per task queue. */
export const pricesWorkflowId = (taskQueue: string): string => `prices-${taskQueue}`;

/**
 * An update was committed: there may be new Ready jobs. An Update rather than a signal: a
 * signal that reaches a run in the act of completing is lost, while an Update to such a run
 * fails, and the caller's Update-with-Start then lands on a fresh run.
 */
export const wakeBatchUpdate = defineUpdate<void>('wake');
/** Cancel the batch (also sent by operators with `temporal workflow signal --name cancel`). */
export const cancelBatchSignal = defineSignal('cancel');
/**
 * Cancel one job group and its descendants; the payload is its absolute id (0 cancels the
 * batch). Operators send it too: `temporal workflow signal -w batch-<id> --name cancelJobGroup --input 3`.
 */
export const cancelJobGroupSignal = defineSignal<[number]>('cancelJobGroup');
/**
 * To a partition, from its batch workflow: look again — a cancellation may concern open jobs,
 * or a commit may have made jobs Ready.
 */
export const partitionLookSignal = defineSignal('look');
/**
 * To a batch workflow, from a partition: `moreWork`, it is full and Ready jobs are left over
 * (another partition may help); `cancelledGroups`, it saw this many cancelled groups (the other
 * partitions must look at their open jobs).
 */
export type PartitionNews = { moreWork?: boolean; cancelledGroups?: number };
export const partitionNewsSignal = defineSignal<[PartitionNews]>('partitionNews');
/** Something about this job changed (attempt reported, instance lost): look again. */
export const jobPokeSignal = defineSignal('poke');
/** Cancel this job (from its batch workflow). */
export const cancelJobSignal = defineSignal('cancelJob');
/** New work or freed cores: run a scheduling round now. */
export const schedulerPokeSignal = defineSignal('poke');
/**
 * Set (a number) or remove (null) a pool's rate limit, in jobs scheduled per second. Operators:
 * `temporal workflow signal -w scheduler-<task queue> --name setRateLimit --input '{"pool": "standard", "jobs_per_second": 5}'`.
 * A value that is not a valid limit is ignored.
 */
export type RateLimitChange = { pool: string; jobs_per_second: number | null };
export const setRateLimitSignal = defineSignal<[RateLimitChange]>('setRateLimit');
/** The limits in force: pool → jobs per second. */
export const rateLimitsQuery = defineQuery<Record<string, number>>('rateLimits');

export const BatchIdAttr = defineSearchAttributeKey('BatchId', 'KEYWORD');
export const BatchUserAttr = defineSearchAttributeKey('BatchUser', 'KEYWORD');
export const BillingProjectAttr = defineSearchAttributeKey('BillingProject', 'KEYWORD');
export const BatchStateAttr = defineSearchAttributeKey('BatchState', 'KEYWORD');
/** One per cluster workflow: `temporal workflow list --query "ClusterName='ld14'"`. */
export const ClusterNameAttr = defineSearchAttributeKey('ClusterName', 'KEYWORD');
export const ClusterStateAttr = defineSearchAttributeKey('ClusterState', 'KEYWORD');

export const SEARCH_ATTRIBUTES = {
  BatchId: 'Keyword',
  BatchUser: 'Keyword',
  BillingProject: 'Keyword',
  BatchState: 'Keyword',
  ClusterName: 'Keyword',
  ClusterState: 'Keyword',
} as const;

export type BatchWorkflowInput = {
  batchId: number;
  user: string;
  billingProject: string;
  /** Open job workflows at most, over all partitions. */
  window: number;
  /** Partitions at most; each keeps up to window / partitions job workflows open. */
  partitions?: number;
  /** Carried across continue-as-new. */
  cancelled?: boolean;
  /** Job groups whose cancellation was asked for and not yet carried out. */
  cancelGroups?: number[];
  /** Cancelled job groups the run has acted on (their open jobs told to stop). */
  seenCancelledGroups?: number;
  /** The BatchState the run has shown, once it has seen committed work. */
  shownState?: string;
  /** Workflow time of the last wake-up, for the grace given to a commit on its way. */
  wokenAt?: number;
};

export type BatchPartitionInput = {
  batchId: number;
  slot: number;
  window: number;
  /** Carried across continue-as-new. */
  claimSeq?: number;
  cancelled?: boolean;
  seenCancelledGroups?: number;
};

export type JobWorkflowInput = { batchId: number; jobId: number };
/** `rateLimits` is carried across continue-as-new, which is how a limit survives restarts. */
export type SchedulerWorkflowInput = {
  intervalMs: number;
  rateLimits?: Record<string, number>;
  /** Continue as new once a run's history has this many events (default 1,000; tests set fewer). */
  maxEventsPerRun?: number;
};
export type BillingLimitsWorkflowInput = { intervalMs: number };
export type PricesWorkflowInput = { intervalMs: number };

/** One autoscaler per task queue: it owns the worker VMs of that deployment. */
export const autoscalerWorkflowId = (taskQueue: string): string => `autoscaler-${taskQueue}`;
/** Something changed about instances (e.g. a preemption was requested): run a loop now. */
export const autoscalerPokeSignal = defineSignal('poke');
export type AutoscalerWorkflowInput = { loops?: number };

/** One callback deliverer per task queue, like the scheduler. */
export const callbacksWorkflowId = (taskQueue: string): string => `callbacks-${taskQueue}`;
/** Look for due callbacks now (sent by the driver when it starts). */
export const callbacksPokeSignal = defineSignal('poke');
export type CallbacksWorkflowInput = { intervalMs: number };
