/**
 * The ceiling model: the least a "one child workflow per job" design asks of Temporal, with no
 * database and no containers. A parent starts one child per job, at most `window` open; each
 * child looks once (a local activity, which also has the runner send the child its "ended"
 * signal, as an agent's report would), waits for that signal, looks again, and tells its
 * parent by a signal. Its rate on a dev server is what the service is measured against.
 */
import {
  ParentClosePolicy,
  condition,
  defineSignal,
  getExternalWorkflowHandle,
  proxyLocalActivities,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';

export const endedSignal = defineSignal('ended');
export const doneSignal = defineSignal('done');

export type ModelActivities = {
  /** A look at the job; the first one also starts the job, whose end comes as a signal. */
  look(input: { workflowId: string; first: boolean }): Promise<void>;
};

const acts = proxyLocalActivities<ModelActivities>({ startToCloseTimeout: '30 seconds' });

export async function modelJob(parentId: string): Promise<void> {
  let ended = false;
  setHandler(endedSignal, () => {
    ended = true;
  });
  const workflowId = workflowInfo().workflowId;
  await acts.look({ workflowId, first: true });
  await condition(() => ended);
  await acts.look({ workflowId, first: false });
  await getExternalWorkflowHandle(parentId).signal(doneSignal);
}

export async function modelBatch(n: number, window: number): Promise<void> {
  const self = workflowInfo().workflowId;
  let open = 0;
  let done = 0;
  let next = 0;
  setHandler(doneSignal, () => {
    open--;
    done++;
  });
  while (done < n) {
    const room = Math.min(window - open, n - next);
    if (room > 0) {
      const ids = Array.from({ length: room }, (_, k) => next + k);
      next += room;
      open += room;
      await Promise.all(
        ids.map((i) => startChild(modelJob, { workflowId: `${self}-${i}`, args: [self], parentClosePolicy: ParentClosePolicy.ABANDON })),
      );
    }
    await condition(() => done === n || (open < window && next < n));
  }
}
