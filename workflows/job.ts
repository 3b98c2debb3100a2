/**
 * One workflow per job owns its attempts: it waits for news of the job (an agent's report, a
 * cancellation), lets an activity reconcile the database, and when the job is complete tells
 * its batch workflow by id, so the message reaches whichever run of the batch is current.
 */
import { condition, getExternalWorkflowHandle, proxyLocalActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { jobActivity } from './activity-options';
import {
  batchWorkflowId,
  cancelJobSignal,
  jobDoneSignal,
  jobPokeSignal,
  type JobWorkflowInput,
} from './definitions';
import type { JobState } from '../domain/states';

// Local: a job's reconcile is one short transaction, and as a local activity it costs one
// history event instead of a task round trip, which is most of a job's Temporal cost.
const acts = proxyLocalActivities<Activities>(jobActivity);

/** Reports can be lost only if an agent dies for good; then a periodic look still finds out. */
const SAFETY_POLL = '60 seconds';

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

  let view: Awaited<ReturnType<Activities['reconcileJob']>>;
  for (;;) {
    // Cleared before looking, so news that arrives while we look is not lost.
    news = false;
    view = await acts.reconcileJob({ ...input, cancel: cancelRequested });
    if (view.complete) break;
    await condition(() => news, SAFETY_POLL);
  }
  await getExternalWorkflowHandle(batchWorkflowId(input.batchId)).signal(jobDoneSignal, input.jobId);
  return view.state;
}
