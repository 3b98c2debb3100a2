/**
 * One workflow per job owns its attempts: it waits for news of the job (an agent's report, a
 * cancellation, a lost instance), lets an activity reconcile the database, and returns when the
 * job is complete. Its parent (a partition of the batch) learns of the end from the child's
 * completion, so the job side costs 12 history events and 2 workflow tasks in the common case:
 * start and a first look, then the report and the final look.
 *
 * There is no timer: a report that never turns into a poke (its sender died between the
 * database write and the signal) is found by the autoscaler's loop, which pokes every job whose
 * attempt ended a while ago but is still Running (`jobsToPoke`).
 */
import { condition, proxyLocalActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { jobActivity } from './activity-options';
import { cancelJobSignal, jobPokeSignal, type JobWorkflowInput } from './definitions';
import type { JobState } from '../domain/states';

// Local: a job's reconcile is one short transaction, and as a local activity it costs one
// history event instead of a task round trip, which is most of a job's Temporal cost.
const acts = proxyLocalActivities<Activities>(jobActivity);

export async function jobWorkflow(input: JobWorkflowInput): Promise<JobState> {
  let news = false;
  let cancelRequested = false;
  setHandler(jobPokeSignal, () => {
    news = true;
  });
  setHandler(cancelJobSignal, () => {
    cancelRequested = true;
    news = true;
  });

  for (;;) {
    // Cleared before looking, so news that arrives while we look is not lost.
    news = false;
    const view = await acts.reconcileJob({ ...input, cancel: cancelRequested });
    if (view.complete) return view.state;
    await condition(() => news);
  }
}
