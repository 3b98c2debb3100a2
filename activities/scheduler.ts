import type { ActivityDeps } from './deps';
import { clock } from './deps';
import { dispatchJob, killJob } from './agent-client';
import { selectCandidates, type Placement, type SchedulableInstance } from '../domain/fair-share';
import { planPool, roundWantsMore, summarizeRound, type UserDecision } from '../domain/scheduling-round';
import { JOB_PRIVATE_POOL } from '../domain/pools';
import { candidateJobs, poolDemand, type CandidateJob, type PoolDemand } from '../db/queries/scheduling';
import { countFailedRequest, schedulableInstances } from '../db/queries/instances';
import { markDispatched, newAttemptId, reserveAttempt, undispatchedAttempts, type Dispatch } from '../db/queries/attempts';

/** Hail gives no new work to an instance with more than one failed request. */
const MAX_FAILED_REQUESTS = 1;

/**
 * What a round did, per user with a share of some pool. It is the local activity's result,
 * so it is recorded in the scheduler workflow's history: bounded by the users in the round.
 */
export type PassResult = { scheduled: number; dispatched: number; more: boolean; users: UserDecision[] };

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

  async function dispatch(d: Dispatch): Promise<boolean> {
    if (!d.address) return false;
    const result = await dispatchJob(d.address, {
      batch_id: d.batchId,
      job_id: d.jobId,
      attempt_id: d.attemptId,
      job_group_id: d.spec.job_group_id,
      user: d.user,
      billing_project: d.billingProject,
      job_spec: d.spec,
    });
    if (result === 'accepted') {
      // Cancelled while it was on its way: the job workflow's kill may have reached the agent
      // before the job did, so kill it again now that the agent has it.
      const { endedMeanwhile } = await markDispatched(db, d, clock(deps));
      if (endedMeanwhile) {
        await killJob(d.address, d.batchId, d.jobId);
        log.info('killed an attempt that ended while being dispatched', { batch_id: d.batchId, job_id: d.jobId });
      }
      return true;
    }
    await countFailedRequest(db, d.instanceName);
    log.warn('dispatch failed', { instance: d.instanceName, batch_id: d.batchId, job_id: d.jobId });
    return false;
  }

  /** Fair share, candidates and best fit for one pool; reserves what was placed. */
  async function schedulePool(
    pool: string,
    demands: readonly PoolDemand[],
    instances: readonly SchedulableInstance[],
  ): Promise<UserDecision[]> {
    const plan = planPool(demands, instances);
    if (plan.budgets.size === 0) return [];
    const alwaysRunUsers = new Set(demands.filter((d) => d.readyAlwaysRun > 0).map((d) => d.user));
    const queues = await candidateJobs(db, pool, plan.budgets, alwaysRunUsers);
    const round = selectCandidates({
      queues,
      allocation: plan.allocation,
      instances,
      bypass: { random: Math.random, recentStops: recentStops.get(pool) ?? [] },
    });
    recentStops.set(pool, round.recentStops);
    const reserved: Placement<CandidateJob>[] = [];
    for (const p of round.placements) {
      // Conditional on the job still being schedulable: a job cancelled since it was read is
      // skipped here, never started.
      const ok = await reserveAttempt(db, {
        batchId: p.job.batchId,
        jobId: p.job.jobId,
        attemptId: newAttemptId(),
        instanceName: p.instance,
        coresMcpu: p.job.coresMcpu,
        now: clock(deps),
      });
      if (ok) reserved.push(p);
    }
    return summarizeRound(pool, plan, queues, reserved);
  }

  return {
    /**
     * One scheduling round: per pool, share the free cores between users (water-filling),
     * give each its budget of candidates, place them best fit and reserve each attempt in the
     * database; then send every placed but unacknowledged attempt to its agent (including
     * those a crashed earlier round placed).
     */
    async schedulePass(): Promise<PassResult> {
      const rows = await schedulableInstances(db);
      const users: UserDecision[] = [];
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
          users.push(...(await schedulePool(pool, demands, poolInstances)));
        }
      }
      const scheduled = users.reduce((n, u) => n + u.placed, 0);
      const pending = await undispatchedAttempts(db, clock(deps) + 1, 1000);
      const results = await Promise.all(pending.map(dispatch));
      const dispatched = results.filter(Boolean).length;
      const summary = { scheduled, dispatched, undispatched: pending.length - dispatched, users };
      if (scheduled > 0 || pending.length > 0) log.info('scheduling round', summary);
      else if (users.length > 0) log.debug('scheduling round', summary);
      return { scheduled, dispatched, more: roundWantsMore(users), users };
    },
  };
}
