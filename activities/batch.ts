import { Context, getClient } from '@temporalio/activity';
import type { ActivityDeps } from './deps';
import { clock } from './deps';
import { batchProgress, cancelBatchJobs, claimReadyJobs, type BatchProgress, type ClaimResult } from '../db/queries/jobs';
import { schedulerPokeSignal, schedulerWorkflowId } from '../workflows/definitions';
import { cancelJobGroup, flaggedOpenJobs } from '../db/queries/job-groups';
import { DbError } from '../db/queries/errors';

/** Runs of a batch workflow whose BatchState says the batch is done. */
/**
 * Runs of the batch's workflow that showed a final state. Not filtered on ExecutionStatus:
 * only one run of a workflow id is ever open, the caller's own (skipped), and a run that has
 * just closed may still be listed as running for a moment.
 */
const finishedRunsQuery = (workflowId: string): string => `WorkflowId = '${workflowId}' AND BatchState IN ('success', 'failure', 'cancelled')`;

export function createBatchActivities(deps: ActivityDeps) {
  const { db, log } = deps;
  /** Per task queue, the scheduler poke in flight: a burst of claims becomes one signal. */
  const pokes = new Map<string, Promise<void>>();
  const pokeScheduler = (taskQueue: string): void => {
    if (pokes.has(taskQueue)) return;
    const sent = getClient()
      .workflow.getHandle(schedulerWorkflowId(taskQueue))
      .signal(schedulerPokeSignal)
      // The scheduler runs a round every interval anyway: a lost poke only delays placement.
      .catch(() => undefined)
      .finally(() => pokes.delete(taskQueue));
    pokes.set(taskQueue, sent);
  };

  return {
    /**
     * A partition's claim. It pokes the scheduler itself when it handed out jobs: sent from
     * the activity, the poke costs the partition's history nothing.
     */
    async claimReadyJobs(input: { batchId: number; token: string; limit: number }): Promise<ClaimResult> {
      const claim = await claimReadyJobs(db, input.batchId, input.token, input.limit);
      if (claim.jobIds.length > 0) pokeScheduler(Context.current().info.taskQueue);
      return claim;
    },

    /** Where the batch stands, for its workflow: `readyUnclaimed` counted up to `readyCap`. */
    async batchProgress(input: { batchId: number; readyCap: number }): Promise<BatchProgress> {
      return batchProgress(db, input.batchId, input.readyCap);
    },

    async cancelBatch(input: { batchId: number }): Promise<{ batchComplete: boolean; cancelled: boolean }> {
      const r = await cancelBatchJobs(db, input.batchId, clock(deps));
      log.info(r.cancelled ? 'batch cancelled' : 'batch was already cancelled', { batch_id: input.batchId });
      return r;
    },

    /**
     * Cancels a job group and its subtree (idempotent), and says which of the workflow's open
     * jobs must now stop: only their job workflows can kill a running container.
     */
    async cancelJobGroup(input: { batchId: number; jobGroupId: number; openJobIds: number[] }): Promise<{ stop: number[] }> {
      try {
        const r = await cancelJobGroup(db, input.batchId, input.jobGroupId, clock(deps));
        log.info(r.cancelled ? 'job group cancelled' : 'job group already cancelled', { batch_id: input.batchId, job_group_id: input.jobGroupId });
      } catch (e) {
        // A signal naming a group that does not exist (an operator's typo) changes nothing.
        if (!(e instanceof DbError && e.kind === 'not_found')) throw e;
        log.warn('cancel of an unknown job group ignored', { batch_id: input.batchId, job_group_id: input.jobGroupId });
      }
      return { stop: await flaggedOpenJobs(db, input.batchId, input.openJobIds) };
    },

    /** Of the workflow's open jobs, those a group cancellation flagged (cancel_after_n_failures too). */
    async flaggedOpenJobs(input: { batchId: number; openJobIds: number[] }): Promise<{ stop: number[] }> {
      return { stop: await flaggedOpenJobs(db, input.batchId, input.openJobIds) };
    },

    /**
     * Deletes the closed runs of a batch's workflow that show a final BatchState, other than
     * `runId`: a later update started a new phase, so what they show is no longer true, and a
     * closed run's search attributes cannot be changed. Best effort: a failure is logged and
     * costs only a stale listing, never the batch's progress.
     */
    async forgetFinishedRuns(input: { workflowId: string; runId: string }): Promise<{ forgotten: number }> {
      // The id goes into a visibility query: only a batch workflow's id, never anything else.
      if (!/^batch-\d+$/.test(input.workflowId)) return { forgotten: 0 };
      let forgotten = 0;
      try {
        const client = getClient();
        for await (const run of client.workflow.list({ query: finishedRunsQuery(input.workflowId) })) {
          if (run.runId === input.runId) continue;
          await client.workflowService.deleteWorkflowExecution({
            namespace: client.options.namespace,
            workflowExecution: { workflowId: run.workflowId, runId: run.runId },
          });
          forgotten++;
        }
      } catch (e) {
        log.warn('could not forget finished runs of a batch workflow', { workflow_id: input.workflowId, error: String(e) });
      }
      if (forgotten > 0) log.info('finished runs of a batch forgotten: a new phase began', { workflow_id: input.workflowId, forgotten });
      return { forgotten };
    },
  };
}
