/**
 * One workflow per batch walks its DAG. The DAG lives in PostgreSQL; this workflow keeps only
 * the ids of its open job workflows (a bounded window) and continues-as-new when its history
 * grows, so a batch of any size fits Temporal's limits.
 */
import {
  ParentClosePolicy,
  WorkflowIdReusePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { claimActivity, dbActivity } from './activity-options';
import {
  BatchStateAttr,
  cancelBatchSignal,
  cancelJobSignal,
  jobDoneSignal,
  jobWorkflowId,
  schedulerPokeSignal,
  schedulerWorkflowId,
  wakeBatchUpdate,
  type BatchWorkflowInput,
} from './definitions';
import { jobWorkflow } from './job';

const acts = proxyActivities<Activities>(dbActivity);
const local = proxyLocalActivities<Activities>(claimActivity);

/** How long to sleep without news before looking at the database anyway. */
const SAFETY_POLL = '30 seconds';

/** Returns the batch's state when it has no more work: success, failure or cancelled. */
export async function batchWorkflow(input: BatchWorkflowInput): Promise<string> {
  const open = new Set<number>(input.openJobs ?? []);
  let claimSeq = input.claimSeq ?? 0;
  let cancelled = input.cancelled ?? false;
  let cancelRequested = false;
  let dirty = true;

  setHandler(jobDoneSignal, (jobId: number) => {
    open.delete(jobId);
    dirty = true;
  });
  setHandler(wakeBatchUpdate, () => {
    dirty = true;
  });
  setHandler(cancelBatchSignal, () => {
    cancelRequested = true;
    dirty = true;
  });

  const cancelChildren = async (ids: Iterable<number>) => {
    await Promise.all(
      [...ids].map((id) =>
        getExternalWorkflowHandle(jobWorkflowId(input.batchId, id))
          .signal(cancelJobSignal)
          .catch(() => undefined),
      ),
    );
  };

  for (;;) {
    await condition(() => dirty, SAFETY_POLL);
    dirty = false;

    if (cancelRequested && !cancelled) {
      await acts.cancelBatch({ batchId: input.batchId });
    }

    const room = input.window - open.size;
    const info = workflowInfo();
    const claim = await local.claimReadyJobs({
      batchId: input.batchId,
      token: `${info.workflowId}/${info.runId}/${claimSeq++}`,
      limit: Math.max(room, 0),
    });
    if (claim.cancelled && !cancelled) {
      // Cancelled through the API or a signal: owned jobs must stop too.
      cancelled = true;
      await cancelChildren(open);
    }
    if (claim.jobIds.length > 0) {
      // Open before started: a quick child may report jobDone before its siblings have started.
      for (const id of claim.jobIds) open.add(id);
      await Promise.all(
        claim.jobIds.map((jobId) =>
          startChild(jobWorkflow, {
            workflowId: jobWorkflowId(input.batchId, jobId),
            args: [{ batchId: input.batchId, jobId }],
            parentClosePolicy: ParentClosePolicy.ABANDON,
            workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
          }).catch((e: unknown) => {
            // Started by an earlier run that crashed before recording it: it is already ours.
            if (e instanceof Error && e.name === 'WorkflowExecutionAlreadyStartedError') return;
            throw e;
          }),
        ),
      );
      if (cancelled) await cancelChildren(claim.jobIds);
      await getExternalWorkflowHandle(schedulerWorkflowId(info.taskQueue)).signal(schedulerPokeSignal).catch(() => undefined);
      if (claim.jobIds.length === room) dirty = true;
    }

    // `dirty` again: a wake-up handled while we looked means there may be new work.
    if (claim.complete && open.size === 0 && !dirty) {
      upsertSearchAttributes([{ key: BatchStateAttr, value: claim.state }]);
      await condition(allHandlersFinished);
      return claim.state;
    }

    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof batchWorkflow>({ ...input, openJobs: [...open], claimSeq, cancelled: cancelled || cancelRequested });
    }
  }
}
