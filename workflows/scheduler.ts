/**
 * The long-running scheduler: a scheduling round whenever poked (work arrived, cores freed)
 * and at least every interval; back-to-back rounds while a round fills up. Continues-as-new
 * when Temporal suggests it, so its history never grows past the limits. Pools may have a
 * rate limit (jobs per second, a token bucket per pool): each round is given each limited
 * pool's budget, and a round held back by a limit is followed by one as soon as tokens return.
 */
import { condition, continueAsNew, log, proxyLocalActivities, setHandler, sleep, workflowInfo, allHandlersFinished } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { schedulerActivity } from './activity-options';
import { rateLimitsQuery, schedulerPokeSignal, setRateLimitSignal, type RateLimitChange, type SchedulerWorkflowInput } from './definitions';
import { limitedWaitMs, rateLimitProblem, roundBudgets, spend, withRateLimit, type Buckets, type RateLimits } from '../domain/rate-limit';

const acts = proxyLocalActivities<Activities>(schedulerActivity);

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
  for (;;) {
    poked = false;
    const planned = roundBudgets(limits, buckets, Date.now());
    const round = await acts.schedulePass({ budgets: planned.budgets, rateLimits: limits });
    buckets = spend(planned.buckets, round.scheduledByPool ?? {});
    const limited = round.limitedPools ?? [];
    // Held back by a limit: nothing a poke brings can be placed before tokens return, so a
    // plain timer (no predicate re-evaluated on every poke while the pool is throttled).
    if (limited.length > 0) await sleep(limitedWaitMs(limits, buckets, limited, input.intervalMs));
    else if (!round.more) await condition(() => poked, input.intervalMs);
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof schedulerWorkflow>({ ...input, rateLimits: limits });
    }
  }
}
