/**
 * The long-running scheduler: a scheduling round whenever poked (work arrived, cores freed)
 * and at least every interval; back-to-back rounds while a round fills up. Continues-as-new
 * when Temporal suggests it, so its history never grows past the limits. Pools may have a
 * rate limit (jobs per second, a token bucket per pool): each round is given each limited
 * pool's budget, and a round held back by a limit is followed by one as soon as tokens return.
 */
import { condition, continueAsNew, log, patched, proxyLocalActivities, setHandler, sleep, workflowInfo, allHandlersFinished } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { schedulerActivity } from './activity-options';
import { rateLimitsQuery, schedulerPokeSignal, setRateLimitSignal, type RateLimitChange, type SchedulerWorkflowInput } from './definitions';
import { limitedWaitMs, rateLimitProblem, roundBudgets, spend, withRateLimit, type Buckets, type RateLimits } from '../domain/rate-limit';

const acts = proxyLocalActivities<Activities>(schedulerActivity);

/**
 * Rounds run back to back (a round that filled up) are local activities of one workflow task,
 * which stays open until they stop: signals and queries wait, and past 5 s the SDK warns
 * (TMPRL1104). After this much round time in a row the task is ended with a 1 ms timer.
 */
const MAX_ROUNDS_PER_TASK_MS = 1500;

export async function schedulerWorkflow(input: SchedulerWorkflowInput): Promise<void> {
  let poked = true;
  let limits: RateLimits = input.rateLimits ?? {};
  let buckets: Buckets = {};
  const change = (c: RateLimitChange): void => {
    const problem = typeof c?.pool === 'string' && c.pool !== '' ? rateLimitProblem(c.jobs_per_second) : 'pool must be a pool name';
    if (problem) {
      log.warn('rate limit change ignored', { change: c, problem });
      return;
    }
    limits = withRateLimit(limits, c.pool, c.jobs_per_second);
    poked = true;
  };
  setHandler(schedulerPokeSignal, () => {
    poked = true;
  });
  setHandler(setRateLimitSignal, change);
  setHandler(rateLimitsQuery, () => limits);
  let roundsMs = 0;
  for (;;) {
    poked = false;
    const planned = roundBudgets(limits, buckets, Date.now());
    const round = await acts.schedulePass({ budgets: planned.budgets, rateLimits: limits });
    buckets = spend(planned.buckets, round.scheduledByPool ?? {});
    const limited = round.limitedPools ?? [];
    roundsMs += round.elapsedMs ?? 0;
    // Held back by a limit: nothing a poke brings can be placed before tokens return, so a
    // plain timer (no predicate re-evaluated on every poke while the pool is throttled).
    if (limited.length > 0) {
      await sleep(limitedWaitMs(limits, buckets, limited, input.intervalMs));
      roundsMs = 0;
    } else if (!round.more) {
      // A poke already in hand means the next round runs in this same task.
      const waits = !poked;
      await condition(() => poked, input.intervalMs);
      if (waits) roundsMs = 0;
    } else if (roundsMs >= MAX_ROUNDS_PER_TASK_MS && patched('scheduler-task-per-rounds')) {
      await sleep(1);
      roundsMs = 0;
    }
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof schedulerWorkflow>({ ...input, rateLimits: limits });
    }
  }
}
