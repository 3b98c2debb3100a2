/**
 * The long-running scheduler: a scheduling round whenever poked (work arrived, cores freed)
 * and at least every interval; back-to-back rounds while a round fills up. Continues-as-new
 * when Temporal suggests it, so its history never grows past the limits.
 */
import { condition, continueAsNew, proxyLocalActivities, setHandler, workflowInfo, allHandlersFinished } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { schedulerActivity } from './activity-options';
import { schedulerPokeSignal, type SchedulerWorkflowInput } from './definitions';

const acts = proxyLocalActivities<Activities>(schedulerActivity);

export async function schedulerWorkflow(input: SchedulerWorkflowInput): Promise<void> {
  let poked = true;
  setHandler(schedulerPokeSignal, () => {
    poked = true;
  });
  for (;;) {
    poked = false;
    const round = await acts.schedulePass();
    if (!round.more) await condition(() => poked, input.intervalMs);
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof schedulerWorkflow>(input);
    }
  }
}
