/**
 * One workflow per job owns its attempts: it waits for news of the job (an agent's report, a
 * cancellation), lets an activity reconcile the database, and when the job is complete tells
 * its batch workflow by id, so the message reaches whichever run of the batch is current.
 */
import { condition, getExternalWorkflowHandle, proxyActivities, setHandler } from '@temporalio/workflow';
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

const acts = proxyActivities<Activities>(jobActivity);

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
