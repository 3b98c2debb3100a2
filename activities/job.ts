import type { ActivityDeps } from './deps';
import { clock } from './deps';
import { killJob } from './agent-client';
import { finishJob, finishJobs, getJob, requeueJob, type FinishItem } from '../db/queries/jobs';
import { groupCommit } from '../db/group-commit';
import { endAttempt, getAttempt } from '../db/queries/attempts';
import { getInstance } from '../db/queries/instances';
import { attemptOutcomeToState, isComplete, type AttemptOutcome, type JobState } from '../domain/states';

export type JobView = { state: JobState; complete: boolean };

export function createJobActivities(deps: ActivityDeps) {
  const { db, log } = deps;
  const moved = (from: JobState, to: JobState, changed = true): void => {
    if (changed) deps.metrics?.jobTransitions.inc({ from, to });
  };

  /**
   * Running jobs whose attempt reported its outcome, finished together per batch: every job of
   * a batch takes the batch's row lock to count itself, so with many attempts ending at once
   * one-by-one transactions would queue on that lock (holding connections all the while).
   * `true`: this call finished the job.
   */
  const finishRunning = groupCommit<FinishItem, boolean>(async (batchKey, items) => {
    const r = await finishJobs(db, Number(batchKey), items, { now: clock(deps), from: ['Running'] });
    const seen = new Set<number>();
    return items.map((i) => {
      const first = !seen.has(i.jobId);
      seen.add(i.jobId);
      return first && r.changed.has(i.jobId);
    });
  });

  /** Kills the running attempt on its agent and records its end; safe to repeat. */
  async function stopAttempt(batchId: number, jobId: number, attemptId: string): Promise<void> {
    const attempt = await getAttempt(db, { batchId, jobId, attemptId });
    if (!attempt || attempt.endTime !== null) return;
    const instance = await getInstance(db, attempt.instanceName);
    if (instance?.address && instance.state !== 'deleted') {
      const ok = await killJob(instance.address, batchId, jobId);
      // An agent we cannot reach may still run the container: fail so Temporal retries.
      if (!ok) throw new Error(`could not reach instance ${instance.name} to kill job ${batchId}/${jobId}`);
    }
    await endAttempt(db, { batchId, jobId, attemptId }, { endTime: clock(deps), outcome: null, reason: 'cancelled' });
  }

  async function requeue(batchId: number, jobId: number, attemptId: string, exhausted: boolean): Promise<JobView> {
    if (exhausted) {
      // Every attempt lost with its instance counted (reserveAttempt counts each placement), so a
      // job that takes its machine down stops here rather than walking the pool; the reason
      // each attempt ended is on the attempt.
      const { changed } = await finishJob(db, batchId, jobId, 'Error', { now: clock(deps), from: ['Running'] });
      moved('Running', 'Error', changed);
      if (changed) log.warn('job ended in Error: its last attempt was lost and n_max_attempts are used up', { batch_id: batchId, job_id: jobId, attempt_id: attemptId });
      return { state: 'Error', complete: true };
    }
    moved('Running', 'Ready', await requeueJob(db, batchId, jobId, attemptId));
    log.info('job requeued', { batch_id: batchId, job_id: jobId, attempt_id: attemptId });
    return { state: 'Ready', complete: false };
  }

  return {
    /**
     * Brings the database in line with what is known about a job: applies a finished attempt,
     * carries out a cancellation, and reports whether the job is complete. Idempotent: the job
     * workflow calls it on every signal and on a timer, and repeats are harmless.
     */
    async reconcileJob(input: { batchId: number; jobId: number; cancel: boolean }): Promise<JobView> {
      const { batchId, jobId } = input;
      const job = await getJob(db, batchId, jobId);
      if (!job) return { state: 'Cancelled', complete: true };
      if (isComplete(job.state)) return { state: job.state, complete: true };
      const wantCancel = (input.cancel || job.cancelled) && !job.alwaysRun;

      if (job.state === 'Running' && job.attemptId) {
        const attempt = await getAttempt(db, { batchId, jobId, attemptId: job.attemptId });
        if (attempt?.outcome) {
          const state = attemptOutcomeToState(attempt.outcome as AttemptOutcome);
          const changed = await finishRunning(String(batchId), {
            jobId,
            state,
            exitCode: attempt.exitCode,
            ...(attempt.endTime !== null ? { endTime: attempt.endTime } : {}),
          });
          moved('Running', state, changed);
          log.debug('job finished', { batch_id: batchId, job_id: jobId, state, changed });
          return { state, complete: true };
        }
        if (attempt && attempt.endTime !== null && !wantCancel) {
          // The attempt ended without a result (its instance went away): run the job again.
          return requeue(batchId, jobId, job.attemptId, job.nAttempts >= job.nMaxAttempts);
        }
        if (!wantCancel) return { state: 'Running', complete: false };
        await stopAttempt(batchId, jobId, job.attemptId);
        moved('Running', 'Cancelled', (await finishJob(db, batchId, jobId, 'Cancelled', { now: clock(deps), from: ['Running'] })).changed);
        return { state: 'Cancelled', complete: true };
      }

      // Creating: a job-private job waiting for its VM; the autoscaler deletes the VM once the
      // job is complete.
      if (wantCancel && (job.state === 'Ready' || job.state === 'Pending' || job.state === 'Creating')) {
        const r = await finishJob(db, batchId, jobId, 'Cancelled', { now: clock(deps), from: ['Ready', 'Pending', 'Creating'] });
        // Lost the race to the scheduler: the job is Running now; the next round kills it.
        if (!r.changed) return { state: 'Running', complete: false };
        moved(job.state, 'Cancelled');
        return { state: 'Cancelled', complete: true };
      }
      return { state: job.state, complete: false };
    },
  };
}
