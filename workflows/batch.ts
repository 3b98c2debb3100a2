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
  cancelJobGroupSignal,
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
  const open = new Set<number>(input.openJobs ?? []);
  let claimSeq = input.claimSeq ?? 0;
  let cancelled = input.cancelled ?? false;
  let shown: string | null = input.shownState ?? null;
  let wokenAt = input.wokenAt ?? Date.now();
  let cancelRequested = false;
  const cancelGroups = new Set<number>(input.cancelGroups ?? []);
  let seenCancelledGroups = input.seenCancelledGroups ?? 0;
  let dirty = true;

  setHandler(jobDoneSignal, (jobId: number) => {
    open.delete(jobId);
    dirty = true;
  });
  setHandler(wakeBatchUpdate, () => {
    wokenAt = Date.now();
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

    if (cancelRequested) {
      // A running batch's jobs stop; a complete one is only marked (the claim says which).
      cancelRequested = false;
      await acts.cancelBatch({ batchId: input.batchId });
    }
    for (const jobGroupId of [...cancelGroups].sort((a, b) => a - b)) {
      // Only the open jobs of the group's subtree are told to stop; parents and siblings run on.
      const { stop } = await acts.cancelJobGroup({ batchId: input.batchId, jobGroupId, openJobIds: [...open] });
      await cancelChildren(stop);
      cancelGroups.delete(jobGroupId);
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
    if (claim.cancelledGroups > seenCancelledGroups) {
      // A group was cancelled in the database (its cancel_after_n_failures was reached, or the
      // API cancelled it): its running jobs are stopped by their job workflows.
      seenCancelledGroups = claim.cancelledGroups;
      if (!cancelled && open.size > 0) {
        const { stop } = await acts.flaggedOpenJobs({ batchId: input.batchId, openJobIds: [...open] });
        await cancelChildren(stop);
      }
    }
    if (claim.running || open.size > 0 || claim.jobIds.length > 0) await show('running', claim.laterUpdate);
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

    const idle = claim.complete && open.size === 0;
    // The phase this run walked is over: its final state is the batch's, even while the run
    // stays for a commit that may start the next phase.
    if (idle && shown !== null && (FINAL_STATES as readonly string[]).includes(claim.state)) await show(claim.state);
    // A batch cancelled after it completed (the API starts this run to say so): the final state
    // an earlier run shows is no longer true, and this run shows the new one.
    if (idle && shown === null && claim.cancelled && (FINAL_STATES as readonly string[]).includes(claim.state)) {
      await acts.forgetFinishedRuns({ workflowId: info.workflowId, runId: info.runId });
      await show(claim.state);
    }
    const awaitingCommit = claim.commitPending && Date.now() - wokenAt < COMMIT_GRACE_MS;
    // `dirty` again: a wake-up handled while we looked means there may be new work.
    if (idle && !dirty && !awaitingCommit) {
      await condition(allHandlersFinished);
      return shown ?? 'none';
    }

    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof batchWorkflow>({
        ...input,
        openJobs: [...open],
        claimSeq,
        cancelled,
        cancelGroups: [...cancelGroups],
        seenCancelledGroups,
        wokenAt,
        ...(shown !== null ? { shownState: shown } : {}),
      });
    }
  }
}
