/**
 * Delivers batch and job-group callbacks: one per task queue, forever. Each pass runs one
 * activity over the outbox's due rows; between passes it waits for the interval or a poke
 * (the driver pokes it when it starts, so callbacks left by a killed driver go out at once).
 * Continues-as-new to keep history short.
 */
import { condition, continueAsNew, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { dbActivity } from './activity-options';
import { callbacksPokeSignal, type CallbacksWorkflowInput } from './definitions';

const acts = proxyActivities<Activities>(dbActivity);

/** Passes per run: about 8 history events each. */
const PASSES_PER_RUN = 500;

export async function callbacksWorkflow(input: CallbacksWorkflowInput): Promise<void> {
  let poked = false;
  setHandler(callbacksPokeSignal, () => {
    poked = true;
  });
  for (let pass = 0; pass < PASSES_PER_RUN && !workflowInfo().continueAsNewSuggested; pass++) {
    poked = false;
    const { more } = await acts.deliverCallbacks();
    if (!more) await condition(() => poked, input.intervalMs);
  }
  await continueAsNew<typeof callbacksWorkflow>(input);
}
