/**
 * The durable VM lifecycle: one autoscaler per task queue loops forever (continue-as-new),
 * every loop period or when poked. Each loop deletes what must go (deactivated, vanished,
 * stuck, failing, orphaned machines), scales the pools, and runs job-private VMs. Decisions
 * are the activities' results, so the history shows what was created and deleted and why.
 * Jobs whose attempts ended with a lost instance are poked so they run again at once.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { autoscalerActivity } from './activity-options';
import {
  autoscalerPokeSignal,
  jobPokeSignal,
  jobWorkflowId,
  schedulerPokeSignal,
  schedulerWorkflowId,
  type AutoscalerWorkflowInput,
} from './definitions';

const acts = proxyActivities<Activities>(autoscalerActivity);

export async function autoscalerWorkflow(input: AutoscalerWorkflowInput = {}): Promise<void> {
  let poked = false;
  setHandler(autoscalerPokeSignal, () => {
    poked = true;
  });
  let loops = input.loops ?? 0;
  for (;;) {
    poked = false;
    const loop = await acts.autoscalerLoop();
    loops++;

    const seen = new Set<string>();
    const pokes = loop.jobsToPoke.filter((j) => {
      const id = jobWorkflowId(j.batchId, j.jobId);
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    });
    await Promise.all(
      pokes.map((j) => getExternalWorkflowHandle(jobWorkflowId(j.batchId, j.jobId)).signal(jobPokeSignal).catch(() => undefined)),
    );
    if (loop.placed.length > 0 || loop.decisions.length > 0 || pokes.length > 0) {
      await getExternalWorkflowHandle(schedulerWorkflowId(workflowInfo().taskQueue))
        .signal(schedulerPokeSignal)
        .catch(() => undefined);
    }

    await condition(() => poked, loop.nextLoopMs);
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof autoscalerWorkflow>({ loops });
    }
  }
}
