/**
 * The long-running scheduler: a scheduling round whenever poked (work arrived, cores freed)
 * and at least every interval; back-to-back rounds while a round fills up. Continues-as-new
 * after MAX_EVENTS_PER_RUN events (or when Temporal suggests it first). Pools may have a
 * rate limit (jobs per second, a token bucket per pool): each round is given each limited
 * pool's budget, and a round held back by a limit is followed by one as soon as tokens return.
 */
import { condition, continueAsNew, log, patched, proxyLocalActivities, setHandler, sleep, workflowInfo, allHandlersFinished } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { PassResult } from '../activities/scheduler';
import { schedulerActivity } from './activity-options';
import { rateLimitsQuery, schedulerPokeSignal, setRateLimitSignal, type RateLimitChange, type SchedulerWorkflowInput } from './definitions';
import { limitedWaitMs, rateLimitProblem, roundBudgets, spend, withRateLimit, type Buckets, type RateLimits } from '../domain/rate-limit';

const acts = proxyLocalActivities<Activities>(schedulerActivity);

/**
 * Rounds run back to back (a round that filled up, or a poke already in hand) are local
 * activities of one workflow task, which stays open until they stop: signals and queries
 * wait, and past 5 s the SDK warns (TMPRL1104). After this long in a row the task is ended
 * with a 1 ms timer. The length is the rounds' own wall clock (from the first one's start to
 * the last one's end, as the activities recorded them), so the waits for local-activity slots
 * between rounds on a busy worker count too, not only the rounds' work.
 */
const MAX_ROUNDS_PER_TASK_MS = 1500;

/** A run of rounds: when its first round started, and how long it has lasted. */
function extendRun(run: { startMs: number | null; ms: number }, round: PassResult): { startMs: number | null; ms: number } {
  const elapsed = round.elapsedMs ?? 0;
  // Rounds recorded before rounds carried their end time: their own lengths, summed.
  if (round.endedAt === undefined) return { startMs: null, ms: run.ms + elapsed };
  const startMs = run.startMs ?? round.endedAt - elapsed;
  return { startMs, ms: Math.max(run.ms + elapsed, round.endedAt - startMs) };
}

/**
 * A run's history is kept this short. The task that continues a run as new costs more the
 * longer the history: measured in the bench under load, 5–13 s at the server's suggestion
 * (4,096 events, about 600 KB), against 1–1.6 s, like any other task, at 300 events. A worker
 * that lost the run from its cache also replays all of it. A new run costs a few events.
 */
const MAX_EVENTS_PER_RUN = 1000;

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
  const fresh = { startMs: null, ms: 0 };
  let run: { startMs: number | null; ms: number } = fresh;
  for (;;) {
    poked = false;
    const planned = roundBudgets(limits, buckets, Date.now());
    const round = await acts.schedulePass({ budgets: planned.budgets, rateLimits: limits });
    buckets = spend(planned.buckets, round.scheduledByPool ?? {});
    const limited = round.limitedPools ?? [];
    run = extendRun(run, round);
    // Held back by a limit: nothing a poke brings can be placed before tokens return, so a
    // plain timer (no predicate re-evaluated on every poke while the pool is throttled).
    if (limited.length > 0) {
      await sleep(limitedWaitMs(limits, buckets, limited, input.intervalMs));
      run = fresh;
    } else if (!round.more) {
      if (poked && run.ms >= MAX_ROUNDS_PER_TASK_MS && patched('scheduler-task-per-rounds-poked')) {
        // A poke in hand would run the next round in this same task: end it first.
        await sleep(1);
        run = fresh;
      }
      const waits = !poked;
      await condition(() => poked, input.intervalMs);
      if (waits) run = fresh;
    } else if (run.ms >= MAX_ROUNDS_PER_TASK_MS && patched('scheduler-task-per-rounds')) {
      await sleep(1);
      run = fresh;
    }
    const info = workflowInfo();
    if (info.continueAsNewSuggested || (info.historyLength >= (input.maxEventsPerRun ?? MAX_EVENTS_PER_RUN) && patched('scheduler-continue-as-new-by-length'))) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof schedulerWorkflow>({ ...input, rateLimits: limits });
    }
  }
}
