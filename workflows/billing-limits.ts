/**
 * Enforces billing limits: every interval, cancel the running batches of each project whose
 * accrued cost has reached its limit (hail-batch-api §7). The activity cancels in the database;
 * this workflow then signals each batch workflow, which cancels its job workflows, which kill
 * the containers: the same path as a user's cancel. Continues-as-new to keep history short.
 */
import { continueAsNew, getExternalWorkflowHandle, proxyActivities, sleep, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { dbActivity } from './activity-options';
import { batchWorkflowId, cancelBatchSignal, type BillingLimitsWorkflowInput } from './definitions';

const acts = proxyActivities<Activities>(dbActivity);

/** Passes per run: about 12 history events each, far below Temporal's limits. */
const PASSES_PER_RUN = 500;

export async function billingLimitsWorkflow(input: BillingLimitsWorkflowInput): Promise<void> {
  for (let pass = 0; pass < PASSES_PER_RUN && !workflowInfo().continueAsNewSuggested; pass++) {
    const { batchIds } = await acts.enforceBillingLimits();
    // Re-sent each pass while the batch runs: a signal lost to a crash costs one interval.
    await Promise.all(
      batchIds.map((id) =>
        getExternalWorkflowHandle(batchWorkflowId(id))
          .signal(cancelBatchSignal)
          .catch(() => undefined),
      ),
    );
    await sleep(input.intervalMs);
  }
  await continueAsNew<typeof billingLimitsWorkflow>(input);
}
