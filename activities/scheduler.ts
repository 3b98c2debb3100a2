import type { ActivityDeps } from './deps';
import { clock } from './deps';
import { dispatchJob, killJob } from './agent-client';
import { cloudsNamed, readUserCredentials, type CloudCredentials } from '../storage/user-credentials';
import { selectCandidates, type SchedulableInstance } from '../domain/fair-share';
import { planPool, roundWantsMore, summarizeRound, type UserDecision } from '../domain/scheduling-round';
import { JOB_PRIVATE_POOL } from '../domain/pools';
import { candidateJobs, poolDemand, type PoolDemand } from '../db/queries/scheduling';
import { countFailedRequest, schedulableInstances } from '../db/queries/instances';
import { markDispatched, newAttemptId, reserveAttempts, undispatchedAttempts, type Dispatch } from '../db/queries/attempts';

/** Hail gives no new work to an instance with more than one failed request. */
const MAX_FAILED_REQUESTS = 1;

/**
 * What a round did, per user with a share of some pool. It is the local activity's result,
 * so it is recorded in the scheduler workflow's history: bounded by the users in the round.
 */
export type PassResult = {
  scheduled: number;
  dispatched: number;
  more: boolean;
  users: UserDecision[];
  /** Jobs placed per pool, which the scheduler spends from the pools' rate-limit buckets. */
  scheduledByPool?: Record<string, number>;
  /** Pools whose rate-limit budget held back jobs this round. */
  limitedPools?: string[];
  /** How long the round took: the scheduler ends its workflow task after a run of rounds this long. */
  elapsedMs?: number;
  /**
   * When the round ended (epoch ms). With elapsedMs it dates the round's start, so the
   * workflow measures a run of rounds by the wall clock, waits between them included.
   */
  endedAt?: number;
};

/** What the scheduler workflow gives a round: each rate-limited pool's budget of jobs. */
export type PassInput = { budgets?: Record<string, number>; rateLimits?: Record<string, number> };

function byPool<T extends { pool: string }>(rows: readonly T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const r of rows) {
    let list = out.get(r.pool);
    if (!list) out.set(r.pool, (list = []));
    list.push(r);
  }
  return out;
}

export function createSchedulerActivities(deps: ActivityDeps) {
  const { db, log } = deps;
  /**
   * Recent over-allocation decisions per pool, for Hail's random bypass. Process memory: a
   * restarted driver starts from an empty window, which only makes the bypass rarer for a while.
   */
  const recentStops = new Map<string, boolean[]>();

  /** The limits the scheduler workflow holds, as a gauge per pool; removed limits disappear. */
  let shownLimits: Record<string, number> = {};
  function showRateLimits(limits: Record<string, number>): void {
    const gauge = deps.metrics?.rateLimit;
    if (!gauge) return;
    for (const pool of Object.keys(shownLimits)) if (!(pool in limits)) gauge.remove({ pool });
    for (const [pool, rate] of Object.entries(limits)) gauge.set({ pool }, rate);
    shownLimits = limits;
  }

  /**
   * The user's cloud identities for the clouds a job's files name; none for the (usual) job
   * that names no cloud file, so a job carries a secret only when it needs one.
   */
  async function credentialsFor(d: Dispatch): Promise<CloudCredentials | undefined> {
    const dir = deps.config.storage.userCredentialsDir;
    const clouds = cloudsNamed(d.spec);
    if (dir === null || clouds.length === 0) return undefined;
    return readUserCredentials(dir, d.user, clouds, (problem) => log.error('unusable user credentials', { user: d.user, problem }));
  }

  /** Sends one placed attempt to its agent; true when the agent has it. */
  async function dispatch(d: Dispatch): Promise<boolean> {
    if (!d.address) return false;
    const credentials = await credentialsFor(d);
    const result = await dispatchJob(d.address, {
      batch_id: d.batchId,
      job_id: d.jobId,
      attempt_id: d.attemptId,
      job_group_id: d.spec.job_group_id,
      user: d.user,
      billing_project: d.billingProject,
      ...(credentials ? { cloud_credentials: credentials } : {}),
      job_spec: d.spec,
    });
    if (result === 'accepted') return true;
    await countFailedRequest(db, d.instanceName);
    log.warn('dispatch failed', { instance: d.instanceName, batch_id: d.batchId, job_id: d.jobId });
    return false;
  }

  /**
   * Records what the agents accepted, in one statement. An attempt cancelled while it was on
   * its way: the job workflow's kill may have reached the agent before the job did, so kill
   * it again now that the agent has it.
   */
  async function acknowledge(accepted: Dispatch[]): Promise<void> {
    for (const d of await markDispatched(db, accepted, clock(deps))) {
      if (!d.address) continue;
      await killJob(d.address, d.batchId, d.jobId);
      log.info('killed an attempt that ended while being dispatched', { batch_id: d.batchId, job_id: d.jobId });
    }
  }

  /** Fair share, candidates and best fit for one pool; reserves what was placed. */
  async function schedulePool(
    pool: string,
    demands: readonly PoolDemand[],
    instances: readonly SchedulableInstance[],
    budget: number | undefined,
  ): Promise<{ users: UserDecision[]; limited: boolean }> {
    const plan = planPool(demands, instances);
    if (plan.budgets.size === 0) return { users: [], limited: false };
    if (budget !== undefined && budget <= 0) return { users: [], limited: true };
    const alwaysRunUsers = new Set(demands.filter((d) => d.readyAlwaysRun > 0).map((d) => d.user));
    const queues = await candidateJobs(db, pool, plan.budgets, alwaysRunUsers);
    const round = selectCandidates({
      queues,
      allocation: plan.allocation,
      instances,
      bypass: { random: Math.random, recentStops: recentStops.get(pool) ?? [] },
    });
    recentStops.set(pool, round.recentStops);
    // The rate limit keeps the first placements, in the fair-share order the round chose.
    const placements = budget === undefined ? round.placements : round.placements.slice(0, budget);
    // Reserved conditionally on each job still being schedulable: a job cancelled since it was
    // read is skipped here, never started.
    const now = clock(deps);
    const wanted = placements.map((placement) => ({
      batchId: placement.job.batchId,
      jobId: placement.job.jobId,
      attemptId: newAttemptId(),
      instanceName: placement.instance,
      coresMcpu: placement.job.coresMcpu,
      placement,
    }));
    const reserved = (await reserveAttempts(db, wanted, now)).map((r) => r.placement);
    if (reserved.length > 0) {
      deps.metrics?.jobsScheduled.inc({ pool }, reserved.length);
      deps.metrics?.jobTransitions.inc({ from: 'Ready', to: 'Running' }, reserved.length);
    }
    return { users: summarizeRound(pool, plan, queues, reserved), limited: placements.length < round.placements.length };
  }

  return {
    /**
     * One scheduling round: per pool, share the free cores between users (water-filling),
     * give each its budget of candidates, place them best fit and reserve each attempt in the
     * database; then send every placed but unacknowledged attempt to its agent (including
     * those a crashed earlier round placed).
     */
    async schedulePass(input: PassInput = {}): Promise<PassResult> {
      const endRound = deps.metrics?.schedulerRound.startTimer();
      const startedAt = performance.now();
      showRateLimits(input.rateLimits ?? {});
      const rows = await schedulableInstances(db);
      const users: UserDecision[] = [];
      const limitedPools: string[] = [];
      const scheduledByPool: Record<string, number> = {};
      if (rows.length > 0) {
        const instances = byPool(
          rows
            .filter((i) => i.pool !== JOB_PRIVATE_POOL && i.jobId === null)
            .map((i) => ({
              name: i.name,
              pool: i.pool,
              region: i.region,
              healthy: i.failedRequests <= MAX_FAILED_REQUESTS,
              freeCoresMcpu: i.freeCoresMcpu,
            })),
        );
        const demand = byPool((await poolDemand(db)).filter((d) => d.readyCoresMcpu > 0));
        for (const [pool, demands] of demand) {
          const poolInstances = instances.get(pool);
          if (!poolInstances) continue;
          const r = await schedulePool(pool, demands, poolInstances, input.budgets?.[pool]);
          users.push(...r.users);
          if (r.limited) limitedPools.push(pool);
          const placed = r.users.reduce((n, u) => n + u.placed, 0);
          if (placed > 0) scheduledByPool[pool] = placed;
        }
      }
      const scheduled = users.reduce((n, u) => n + u.placed, 0);
      const pending = await undispatchedAttempts(db, clock(deps) + 1, 1000);
      const results = await Promise.all(pending.map(dispatch));
      const accepted = pending.filter((_, i) => results[i]);
      await acknowledge(accepted);
      const dispatched = accepted.length;
      const summary = { scheduled, dispatched, undispatched: pending.length - dispatched, users };
      if (scheduled > 0 || pending.length > 0) log.info('scheduling round', summary);
      else if (users.length > 0) log.debug('scheduling round', summary);
      endRound?.();
      const elapsedMs = Math.round(performance.now() - startedAt);
      return { scheduled, dispatched, more: roundWantsMore(users), users, scheduledByPool, limitedPools, elapsedMs, endedAt: Date.now() };
    },
  };
}
