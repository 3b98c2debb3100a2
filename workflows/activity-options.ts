import type { ActivityOptions, LocalActivityOptions, RetryPolicy } from '@temporalio/workflow';

const retry: RetryPolicy = { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '30s' };

/**
 * Short, frequent activities run as local activities: one history event each instead of a
 * task round trip, which is most of the Temporal cost of a job. Database activities are
 * idempotent and retried forever. The start-to-close timeout is also
 * how long a task lost with a killed worker waits before it is retried elsewhere, so it is
 * kept as short as the work allows.
 */
export const dbActivity: ActivityOptions = { startToCloseTimeout: '2 minutes', retry };

/** Per-job work: one transaction (a cancelled chain's cascade is the longest). */
export const jobActivity: LocalActivityOptions = { startToCloseTimeout: '30 seconds', retry };

/** One scheduling round: a bounded page of jobs and 2 s dispatch calls. */
export const schedulerActivity: LocalActivityOptions = { startToCloseTimeout: '15 seconds', retry };

/** Claiming a page of Ready jobs: one short transaction. */
export const claimActivity: LocalActivityOptions = { startToCloseTimeout: '30 seconds', retry };

/**
 * Autoscaler steps create and delete VMs, which can take a while (an agent gets 10 s to stop);
 * they heartbeat while they work, so a step lost with a killed driver is retried after the
 * heartbeat timeout rather than the whole start-to-close timeout.
 */
export const autoscalerActivity: ActivityOptions = { startToCloseTimeout: '10 minutes', heartbeatTimeout: '10 seconds', retry };
