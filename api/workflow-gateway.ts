/**
 * The API's only door into Temporal: start or wake batch workflows, forward cancellation, and
 * poke job, scheduler and autoscaler workflows when workers report or admins act. Reports may repeat; every call here
 * is safe to repeat. A Temporal that does not answer is reported as `unavailable` (503) within
 * seconds rather than waited for: the SDK would otherwise retry a lost server for minutes.
 */
import { WithStartWorkflowOperation, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { batchWorkflow } from '../workflows/batch';
import { ApiError } from './errors';
import {
  BatchIdAttr,
  autoscalerPokeSignal,
  autoscalerWorkflowId,
  BatchUserAttr,
  BillingProjectAttr,
  batchWorkflowId,
  cancelBatchSignal,
  cancelJobGroupSignal,
  jobPokeSignal,
  jobWorkflowId,
  schedulerPokeSignal,
  rateLimitsQuery,
  schedulerWorkflowId,
  setRateLimitSignal,
  wakeBatchUpdate,
} from '../workflows/definitions';

export type WorkflowGateway = ReturnType<typeof createWorkflowGateway>;

/** A health answer is one local round trip; a server that has not answered in this long is down. */
const HEALTH_DEADLINE_MS = 2_000;
/** How long a healthy answer is trusted, so a burst of submissions costs one check. */
const HEALTH_CACHE_MS = 1_000;
/** A wake is an Update the batch workflow must take; under load that takes seconds, not minutes. */
const WAKE_DEADLINE_MS = 30_000;
/** A signal is one write on the server. */
const SIGNAL_DEADLINE_MS = 10_000;

export const TEMPORAL_UNAVAILABLE = 'Temporal is not reachable; nothing was changed, try again shortly';

export function createWorkflowGateway(client: Client, opts: { taskQueue: string; batchWindow: number; batchPartitions: number }) {
  let schedulerPokePending: Promise<void> | null = null;
  let healthyUntil = 0;

  /**
   * Whether the Temporal frontend answers (GetSystemInfo: the cheapest call it serves). A
   * recent healthy answer is reused unless `fresh` asks for a new one (health checks do).
   */
  async function available(opts: { fresh?: boolean } = {}): Promise<boolean> {
    if (!opts.fresh && Date.now() < healthyUntil) return true;
    try {
      await client.connection.withDeadline(Date.now() + HEALTH_DEADLINE_MS, () => client.connection.workflowService.getSystemInfo({}));
      healthyUntil = Date.now() + HEALTH_CACHE_MS;
      return true;
    } catch {
      healthyUntil = 0;
      return false;
    }
  }

  /**
   * One signal within a deadline; a failure while Temporal is down is `unavailable`. What a
   * signal asks for is in the database already, and is found again without it (a batch
   * workflow's periodic look; for a job's poke, the autoscaler's loop, which pokes jobs whose
   * stored attempt end was not applied), so a signal lost this way is late, never lost for good.
   */
  async function signalBounded(send: () => Promise<void>): Promise<void> {
    try {
      await client.withDeadline(Date.now() + SIGNAL_DEADLINE_MS, send);
    } catch (e) {
      if (e instanceof WorkflowNotFoundError) return;
      healthyUntil = 0;
      if (!(await available())) throw new ApiError('unavailable', TEMPORAL_UNAVAILABLE);
      throw e;
    }
  }

  /** A call the scheduler workflow must answer; no scheduler or no Temporal is a 503. */
  async function schedulerCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await client.withDeadline(Date.now() + SIGNAL_DEADLINE_MS, call);
    } catch (e) {
      if (e instanceof WorkflowNotFoundError) throw new ApiError('unavailable', 'the scheduler is not running (no driver has started yet); try again shortly');
      healthyUntil = 0;
      if (!(await available())) throw new ApiError('unavailable', TEMPORAL_UNAVAILABLE);
      // Temporal answers but the scheduler did not in time: no driver is polling, or all are busy.
      throw new ApiError('unavailable', `the scheduler did not answer (${e instanceof Error ? e.name : 'error'}); is a driver running? try again shortly`);
    }
  }

  return {
    available,

    /** Throws `unavailable` (503) unless Temporal answers: for requests that must not half-happen. */
    async requireAvailable(): Promise<void> {
      if (!(await available())) throw new ApiError('unavailable', TEMPORAL_UNAVAILABLE);
    },

    /** Starts the batch's workflow, or wakes the running one, and waits until it has heard. */
    async wakeBatch(b: { id: number; user: string; billingProject: string }): Promise<void> {
      for (let attempt = 1; ; attempt++) {
        const start = new WithStartWorkflowOperation<typeof batchWorkflow>('batchWorkflow', {
          workflowId: batchWorkflowId(b.id),
          taskQueue: opts.taskQueue,
          workflowIdConflictPolicy: 'USE_EXISTING',
          args: [{ batchId: b.id, user: b.user, billingProject: b.billingProject, window: opts.batchWindow, partitions: opts.batchPartitions }],
          typedSearchAttributes: [
            { key: BatchIdAttr, value: String(b.id) },
            { key: BatchUserAttr, value: b.user },
            { key: BillingProjectAttr, value: b.billingProject },
            // No BatchState: the run sets it once it sees committed work (workflows/batch.ts).
          ],
        });
        try {
          await client.withDeadline(Date.now() + WAKE_DEADLINE_MS, () =>
            client.workflow.executeUpdateWithStart(wakeBatchUpdate, { startWorkflowOperation: start }),
          );
          return;
        } catch (e) {
          healthyUntil = 0;
          if (!(await available())) throw new ApiError('unavailable', TEMPORAL_UNAVAILABLE);
          // The run we reached completed before taking the update: the next try starts a new one.
          if (attempt >= 5) throw e;
        }
      }
    },

    async cancelBatch(batchId: number): Promise<void> {
      await signalBounded(() => client.workflow.getHandle(batchWorkflowId(batchId)).signal(cancelBatchSignal));
    },

    async cancelJobGroup(batchId: number, jobGroupId: number): Promise<void> {
      await signalBounded(() => client.workflow.getHandle(batchWorkflowId(batchId)).signal(cancelJobGroupSignal, jobGroupId));
    },

    async pokeJob(batchId: number, jobId: number): Promise<void> {
      await signalBounded(() => client.workflow.getHandle(jobWorkflowId(batchId, jobId)).signal(jobPokeSignal));
    },

    /** Coalesced: a burst of reports becomes one signal in flight at a time. */
    pokeScheduler(): Promise<void> {
      if (!schedulerPokePending) {
        schedulerPokePending = client
          .withDeadline(Date.now() + SIGNAL_DEADLINE_MS, () => client.workflow.getHandle(schedulerWorkflowId(opts.taskQueue)).signal(schedulerPokeSignal))
          .catch(() => undefined)
          .finally(() => {
            schedulerPokePending = null;
          });
      }
      return schedulerPokePending;
    },

    /**
     * Sets or removes a pool's rate limit: a signal to the scheduler workflow, which holds the
     * limits (and carries them across continue-as-new). A signal rather than an Update: it is
     * recorded at once even while the scheduler's worker is busy, and applies at its next round.
     */
    async setRateLimit(pool: string, jobsPerSecond: number | null): Promise<void> {
      await schedulerCall(() =>
        client.workflow.getHandle(schedulerWorkflowId(opts.taskQueue)).signal(setRateLimitSignal, { pool, jobs_per_second: jobsPerSecond }),
      );
    },

    async rateLimits(): Promise<Record<string, number>> {
      return schedulerCall(() => client.workflow.getHandle(schedulerWorkflowId(opts.taskQueue)).query(rateLimitsQuery));
    },

    /**
     * Asks the autoscaler for a loop now rather than at its next period: a preemption to carry
     * out, a job-private VM that came up. Best effort; the periodic loop does the same later.
     */
    async pokeAutoscaler(): Promise<void> {
      await client
        .withDeadline(Date.now() + SIGNAL_DEADLINE_MS, () => client.workflow.getHandle(autoscalerWorkflowId(opts.taskQueue)).signal(autoscalerPokeSignal))
        .catch(() => undefined);
    },
  };
}
