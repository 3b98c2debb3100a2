/**
 * One workflow per batch walks its DAG through partitions: child workflows that each claim Ready
 * jobs and start a job workflow for each (workflows/batch-partition.ts). The DAG lives in
 * PostgreSQL; this workflow starts partitions while there is Ready work for them, forwards
 * cancellations and commits to them, and shows the batch's state. Its own history grows with
 * partitions started, not with jobs, so one batch is not one serial point, and it continues as
 * new when its history grows all the same.
 */
import {
  ParentClosePolicy,
  WorkflowIdReusePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
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
  cancelJobGroupSignal,
  batchPartitionWorkflowId,
  partitionLookSignal,
  partitionNewsSignal,
  wakeBatchUpdate,
  type BatchWorkflowInput,
} from './definitions';
import { batchPartitionWorkflow } from './batch-partition';
import { afterEnd, signalEach } from './children';

const acts = proxyActivities<Activities>(dbActivity);
const local = proxyLocalActivities<Activities>(claimActivity);

/** Partitions when the input names none (runs started before partitions existed). */
const DEFAULT_PARTITIONS = 4;

/** How long to sleep without news before looking at the database anyway. */
const SAFETY_POLL = '30 seconds';

/**
 * How long after a wake-up a run stays for a commit that is reserved but not yet seen. The API
 * wakes the workflow just before it commits (so a crash between the two leaves a run that
 * finds the committed jobs), and a commit is one transaction, so this is far longer than any
 * commit takes; an update whose client never commits keeps no run alive beyond it.
 */
const COMMIT_GRACE_MS = 5 * 60_000;

/** The BatchState values that say a batch is done; a run shows one only for work it walked. */
const FINAL_STATES = ['success', 'failure', 'cancelled'] as const;

/**
 * Walks the batch's committed work and returns its state when there is none left: success,
 * failure or cancelled; 'none' when it ended without ever seeing committed work (a wake-up for
 * a commit that did not happen).
 *
 * `BatchState` tells the truth about the batch: unset until the run sees committed work, then
 * `running` while there is work, then the final state. A batch has one run per phase of work
 * (from a commit until its jobs are complete); when a later update starts a new phase, the runs
 * that showed the earlier phase's final state are forgotten (`forgetFinishedRuns`), so each
 * state's query lists each batch at most once, in the state it is in.
 */
export async function batchWorkflow(input: BatchWorkflowInput): Promise<string> {
  const maxPartitions = Math.max(1, Math.min(input.partitions ?? DEFAULT_PARTITIONS, input.window));
  const partitionWindow = Math.max(1, Math.ceil(input.window / maxPartitions));
  /** Slots of the partitions running now. */
  const running = new Set<number>();
  let cancelled = input.cancelled ?? false;
  let shown: string | null = input.shownState ?? null;
  let wokenAt = input.wokenAt ?? Date.now();
  let cancelRequested = false;
  const cancelGroups = new Set<number>(input.cancelGroups ?? []);
  let seenCancelledGroups = input.seenCancelledGroups ?? 0;
  let dirty = true;
  /** Partitions must look at their open jobs (a cancellation) or claim again (a commit). */
  let tellPartitions = false;
  let moreWork = false;

  setHandler(wakeBatchUpdate, () => {
    wokenAt = Date.now();
    tellPartitions = true;
    dirty = true;
  });
  setHandler(cancelBatchSignal, () => {
    cancelRequested = true;
    dirty = true;
  });
  setHandler(cancelJobGroupSignal, (jobGroupId: number) => {
    // Group 0 is the batch itself; a malformed payload is ignored rather than kept forever.
    if (!Number.isSafeInteger(jobGroupId) || jobGroupId < 0) return;
    if (jobGroupId === 0) cancelRequested = true;
    else cancelGroups.add(jobGroupId);
    dirty = true;
  });
  setHandler(partitionNewsSignal, (news) => {
    if (typeof news !== 'object' || news === null) return;
    if (news.moreWork === true) moreWork = true;
    if (typeof news.cancelledGroups === 'number' && news.cancelledGroups > seenCancelledGroups) {
      seenCancelledGroups = news.cancelledGroups;
      tellPartitions = true;
    }
    dirty = true;
  });

  const show = async (state: string, laterUpdate = false) => {
    if (state === shown) return;
    if (state === 'running' && shown === null && laterUpdate) {
      // A new phase of a batch that may have had one before: earlier runs' final states are
      // no longer true. (With a single committed update there was no earlier phase to forget.)
      await acts.forgetFinishedRuns({ workflowId: workflowInfo().workflowId, runId: workflowInfo().runId });
    }
    upsertSearchAttributes([{ key: BatchStateAttr, value: state }]);
    shown = state;
  };

  const lookAll = () => signalEach([...running].map((slot) => batchPartitionWorkflowId(input.batchId, slot)), partitionLookSignal);

  const startPartition = async (slot: number) => {
    running.add(slot);
    const child = await startChild(batchPartitionWorkflow, {
      workflowId: batchPartitionWorkflowId(input.batchId, slot),
      args: [{ batchId: input.batchId, slot, window: partitionWindow, cancelled }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      // A slot is used again once its last run has ended: the id names the slot, not the run.
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    });
    afterEnd(child, () => {
      running.delete(slot);
      dirty = true;
    });
  };

  for (;;) {
    await condition(() => dirty, SAFETY_POLL);
    dirty = false;

    if (cancelRequested) {
      // A running batch's jobs stop; a complete one is only marked (the claim says which).
      cancelRequested = false;
      await acts.cancelBatch({ batchId: input.batchId });
      tellPartitions = true;
    }
    for (const jobGroupId of [...cancelGroups].sort((a, b) => a - b)) {
      // Only the open jobs of the group's subtree stop; parents and siblings run on.
      await acts.cancelJobGroup({ batchId: input.batchId, jobGroupId, openJobIds: [] });
      cancelGroups.delete(jobGroupId);
      tellPartitions = true;
    }

    const progress = await local.batchProgress({ batchId: input.batchId, readyCap: maxPartitions * partitionWindow });
    if (progress.cancelled && !cancelled) {
      cancelled = true;
      tellPartitions = true;
    }
    if (progress.cancelledGroups > seenCancelledGroups) {
      seenCancelledGroups = progress.cancelledGroups;
      tellPartitions = true;
    }
    if (tellPartitions) {
      tellPartitions = false;
      await lookAll();
    }

    const draining = workflowInfo().continueAsNewSuggested;
    if (!draining && progress.readyUnclaimed > 0 && running.size < maxPartitions) {
      // As many partitions as the Ready jobs can keep busy, one more when a full one asks.
      const wanted = Math.ceil(progress.readyUnclaimed / partitionWindow) + (moreWork ? 1 : 0);
      const free = [...Array(maxPartitions).keys()].filter((slot) => !running.has(slot));
      await Promise.all(free.slice(0, Math.max(0, wanted - running.size)).map(startPartition));
    }
    moreWork = false;

    if (progress.running || running.size > 0) await show('running', progress.laterUpdate);

    const idle = progress.complete && running.size === 0;
    // The phase this run walked is over: its final state is the batch's, even while the run
    // stays for a commit that may start the next phase.
    if (idle && shown !== null && (FINAL_STATES as readonly string[]).includes(progress.state)) await show(progress.state);
    // A batch cancelled after it completed (the API starts this run to say so): the final state
    // an earlier run shows is no longer true, and this run shows the new one.
    if (idle && shown === null && progress.cancelled && (FINAL_STATES as readonly string[]).includes(progress.state)) {
      await acts.forgetFinishedRuns({ workflowId: workflowInfo().workflowId, runId: workflowInfo().runId });
      await show(progress.state);
    }
    const awaitingCommit = progress.commitPending && Date.now() - wokenAt < COMMIT_GRACE_MS;
    // `dirty` again: a wake-up handled while we looked means there may be new work.
    if (idle && !dirty && !awaitingCommit) {
      await condition(allHandlersFinished);
      return shown ?? 'none';
    }

    // Partitions are children of this run (only it hears of their end): it continues as new
    // once they have drained.
    if (draining && running.size === 0 && !dirty) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof batchWorkflow>({
        ...input,
        cancelled,
        cancelGroups: [...cancelGroups],
        seenCancelledGroups,
        wokenAt,
        ...(shown !== null ? { shownState: shown } : {}),
      });
    }
  }
}
