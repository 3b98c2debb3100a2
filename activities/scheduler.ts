import { randomBytes } from 'node:crypto';
import type { ActivityDeps } from './deps';
import { clock } from './deps';
import { dispatchJob } from './agent-client';
import { bestFit } from '../domain/placement';
import { schedulableJobs } from '../db/queries/scheduling';
import { countFailedRequest, schedulableInstances } from '../db/queries/instances';
import { markDispatched, reserveAttempt, undispatchedAttempts, type Dispatch } from '../db/queries/attempts';

const PASS_SIZE = 300;

export type PassResult = { scheduled: number; dispatched: number; more: boolean };

/** Hail's attempt ids: six random characters, unique per job. */
function newAttemptId(): string {
  return randomBytes(6).toString('base64url').slice(0, 6);
}

export function createSchedulerActivities(deps: ActivityDeps) {
  const { db, log } = deps;

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
      await markDispatched(db, d, clock(deps));
      return true;
    }
    await countFailedRequest(db, d.instanceName);
    log.warn('dispatch failed', { instance: d.instanceName, batch_id: d.batchId, job_id: d.jobId });
    return false;
  }

  return {
    /**
     * One scheduling round: place Ready jobs best-fit on instances, then send every placed but
     * unacknowledged attempt to its agent (including those a crashed earlier round placed).
     */
    async schedulePass(): Promise<PassResult> {
      const instances = await schedulableInstances(db);
      let scheduled = 0;
      let candidates = 0;
      if (instances.length > 0) {
        const ready = await schedulableJobs(db, PASS_SIZE);
        candidates = ready.length;
        const placements = bestFit(ready, instances);
        for (const p of placements) {
          const ok = await reserveAttempt(db, {
            batchId: p.job.batchId,
            jobId: p.job.jobId,
            attemptId: newAttemptId(),
            instanceName: p.instance,
            coresMcpu: p.job.coresMcpu,
            now: clock(deps),
          });
          if (ok) scheduled++;
        }
      }
      const pending = await undispatchedAttempts(db, clock(deps) + 1, 1000);
      const results = await Promise.all(pending.map(dispatch));
      const dispatched = results.filter(Boolean).length;
      if (scheduled > 0 || pending.length > 0) {
        log.info('scheduling round', { candidates, scheduled, dispatched, undispatched: pending.length - dispatched });
      }
      return { scheduled, dispatched, more: candidates === PASS_SIZE && scheduled > 0 };
    },
  };
}
