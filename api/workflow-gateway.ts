/**
 * The API's only door into Temporal: start or wake batch workflows, forward cancellation, and
 * poke job, scheduler and autoscaler workflows when workers report or admins act. Reports may repeat; every call here
 * is safe to repeat.
 */
import { WithStartWorkflowOperation, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { batchWorkflow } from '../workflows/batch';
import {
  BatchIdAttr,
  autoscalerPokeSignal,
  autoscalerWorkflowId,
  BatchUserAttr,
  BillingProjectAttr,
  batchWorkflowId,
  cancelBatchSignal,
  jobPokeSignal,
  jobWorkflowId,
  schedulerPokeSignal,
  schedulerWorkflowId,
  wakeBatchUpdate,
} from '../workflows/definitions';

export type WorkflowGateway = ReturnType<typeof createWorkflowGateway>;

const ignoreMissing = (e: unknown) => {
  if (e instanceof WorkflowNotFoundError) return;
  throw e;
};

export function createWorkflowGateway(client: Client, opts: { taskQueue: string; batchWindow: number }) {
  let schedulerPokePending: Promise<void> | null = null;

  return {
    /** Starts the batch's workflow, or wakes the running one, and waits until it has heard. */
    async wakeBatch(b: { id: number; user: string; billingProject: string }): Promise<void> {
      for (let attempt = 1; ; attempt++) {
        const start = new WithStartWorkflowOperation<typeof batchWorkflow>('batchWorkflow', {
          workflowId: batchWorkflowId(b.id),
          taskQueue: opts.taskQueue,
          workflowIdConflictPolicy: 'USE_EXISTING',
          args: [{ batchId: b.id, user: b.user, billingProject: b.billingProject, window: opts.batchWindow }],
          typedSearchAttributes: [
            { key: BatchIdAttr, value: String(b.id) },
            { key: BatchUserAttr, value: b.user },
            { key: BillingProjectAttr, value: b.billingProject },
            // No BatchState: the run sets it once it sees committed work (workflows/batch.ts).
          ],
        });
        try {
          await client.workflow.executeUpdateWithStart(wakeBatchUpdate, { startWorkflowOperation: start });
          return;
        } catch (e) {
          // The run we reached completed before taking the update: the next try starts a new one.
          if (attempt >= 5) throw e;
        }
      }
    },

    async cancelBatch(batchId: number): Promise<void> {
      await client.workflow.getHandle(batchWorkflowId(batchId)).signal(cancelBatchSignal).catch(ignoreMissing);
    },

    async pokeJob(batchId: number, jobId: number): Promise<void> {
      await client.workflow.getHandle(jobWorkflowId(batchId, jobId)).signal(jobPokeSignal).catch(ignoreMissing);
    },

    /** Coalesced: a burst of reports becomes one signal in flight at a time. */
    pokeScheduler(): Promise<void> {
      if (!schedulerPokePending) {
        schedulerPokePending = client.workflow
          .getHandle(schedulerWorkflowId(opts.taskQueue))
          .signal(schedulerPokeSignal)
          .catch(() => undefined)
          .finally(() => {
            schedulerPokePending = null;
          });
      }
      return schedulerPokePending;
    },

    /**
     * Asks the autoscaler for a loop now rather than at its next period: a preemption to carry
     * out, a job-private VM that came up. Best effort; the periodic loop does the same later.
     */
    async pokeAutoscaler(): Promise<void> {
      await client.workflow
        .getHandle(autoscalerWorkflowId(opts.taskQueue))
        .signal(autoscalerPokeSignal)
        .catch(() => undefined);
    },
  };
}
