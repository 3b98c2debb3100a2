/**
 * A partition of a batch: it claims Ready jobs of its batch (up to its window), starts a child
 * workflow for each, and claims again as they complete, so the DAG walk goes on in partitions
 * side by side. Its parent, the batch workflow, only starts partitions and forwards news: a
 * batch's per-job Temporal cost lands in its partitions' histories, which live on as many
 * history shards as there are partitions.
 *
 * A partition learns of a job's end from the child's completion (no signal), and ends when it
 * has no open job and nothing to claim. Before continuing as new it drains: it claims nothing
 * more and waits for its open children, whose completions only this run would hear of.
 */
import {
  ParentClosePolicy,
  WorkflowIdReusePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  proxyLocalActivities,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { claimActivity } from './activity-options';
import {
  batchWorkflowId,
  cancelJobSignal,
  jobWorkflowId,
  partitionLookSignal,
  partitionNewsSignal,
  type BatchPartitionInput,
} from './definitions';
import { jobWorkflow } from './job';
import { afterEnd, signalEach } from './children';

const local = proxyLocalActivities<Activities>(claimActivity);

export async function batchPartitionWorkflow(input: BatchPartitionInput): Promise<void> {
  const { batchId } = input;
  const open = new Set<number>();
  let claimSeq = input.claimSeq ?? 0;
  let cancelled = input.cancelled ?? false;
  let seenCancelledGroups = input.seenCancelledGroups ?? 0;
  let dirty = true;
  let look = false;
  /** Asked the batch for help since the last claim that left nothing over. */
  let askedForHelp = false;

  setHandler(partitionLookSignal, () => {
    look = true;
    dirty = true;
  });

  const cancelChildren = (ids: Iterable<number>) => signalEach([...ids].map((id) => jobWorkflowId(batchId, id)), cancelJobSignal);
  const tellBatch = (news: { moreWork?: boolean; cancelledGroups?: number }) =>
    getExternalWorkflowHandle(batchWorkflowId(batchId))
      .signal(partitionNewsSignal, news)
      .catch(() => undefined);

  const launch = async (jobId: number) => {
    try {
      const child = await startChild(jobWorkflow, {
        workflowId: jobWorkflowId(batchId, jobId),
        args: [{ batchId, jobId }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      });
      afterEnd(child, () => {
        open.delete(jobId);
        dirty = true;
      });
    } catch (e) {
      // A job is claimed once, so only a workflow started by other means (an operator by hand)
      // can hold the id: not ours to watch. The job's state is in the database, which is what
      // every claim reads.
      if (e instanceof Error && e.name === 'WorkflowExecutionAlreadyStartedError') {
        open.delete(jobId);
        dirty = true;
        return;
      }
      throw e;
    }
  };

  for (;;) {
    await condition(() => dirty);
    dirty = false;

    if (look) {
      look = false;
      if (!cancelled && open.size > 0) {
        const { stop } = await local.flaggedOpenJobs({ batchId, openJobIds: [...open] });
        await cancelChildren(stop);
      }
    }

    const draining = workflowInfo().continueAsNewSuggested;
    const room = draining ? 0 : Math.max(input.window - open.size, 0);
    const info = workflowInfo();
    const claim = await local.claimReadyJobs({ batchId, token: `${info.workflowId}/${info.runId}/${claimSeq++}`, limit: room });

    if (claim.cancelled && !cancelled) {
      // Cancelled through the API or a signal: owned jobs must stop too.
      cancelled = true;
      await cancelChildren(open);
    }
    if (claim.cancelledGroups > seenCancelledGroups) {
      // A group was cancelled in the database (its cancel_after_n_failures was reached, or the
      // API cancelled it): this partition stops its own open jobs of it, and the batch tells
      // the other partitions.
      seenCancelledGroups = claim.cancelledGroups;
      if (!cancelled && open.size > 0) {
        const { stop } = await local.flaggedOpenJobs({ batchId, openJobIds: [...open] });
        await cancelChildren(stop);
      }
      await tellBatch({ cancelledGroups: seenCancelledGroups });
    }

    if (claim.jobIds.length > 0) {
      // Open before started: a quick child may complete before its siblings have started.
      for (const id of claim.jobIds) open.add(id);
      await Promise.all(claim.jobIds.map(launch));
      if (cancelled) await cancelChildren(claim.jobIds);
    }

    if (claim.readyUnclaimed > 0 && !draining) {
      if (claim.jobIds.length < room) {
        // Another claim held some rows: look again.
        dirty = true;
      } else if (!askedForHelp) {
        askedForHelp = true;
        await tellBatch({ moreWork: true });
      }
    } else if (claim.readyUnclaimed === 0) {
      askedForHelp = false;
    }

    if (open.size === 0 && !dirty) {
      await condition(allHandlersFinished);
      if (draining && claim.readyUnclaimed > 0) {
        await continueAsNew<typeof batchPartitionWorkflow>({ ...input, claimSeq, cancelled, seenCancelledGroups });
      }
      return;
    }
  }
}
