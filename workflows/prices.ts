/**
 * Reads the cloud's list prices into the resources catalogue (activities/prices.ts) now and
 * every interval, so new attempts are billed at today's prices and new VMs go where they are
 * cheapest. A read that fails (the pricing API down) is retried by the activity's policy for
 * up to the interval, then left to the next one: the catalogue keeps its last prices.
 * Continues-as-new to keep history short.
 */
import { ActivityFailure, continueAsNew, log, proxyActivities, sleep, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { PricesWorkflowInput } from './definitions';

/** Refreshes per run: about 8 history events each. */
const REFRESHES_PER_RUN = 200;

export async function pricesWorkflow(input: PricesWorkflowInput): Promise<void> {
  const acts = proxyActivities<Activities>({
    startToCloseTimeout: '5 minutes',
    scheduleToCloseTimeout: Math.max(input.intervalMs, 60_000),
    retry: { initialInterval: '10s', backoffCoefficient: 2, maximumInterval: '10 minutes' },
  });
  for (let n = 0; n < REFRESHES_PER_RUN && !workflowInfo().continueAsNewSuggested; n++) {
    try {
      await acts.refreshPrices();
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      log.warn('reading cloud prices failed; the catalogue keeps its prices until the next try', { error: String(err.cause ?? err) });
    }
    await sleep(input.intervalMs);
  }
  await continueAsNew<typeof pricesWorkflow>(input);
}
