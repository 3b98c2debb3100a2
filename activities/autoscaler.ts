/**
 * The autoscaler's activities, one loop of the autoscaler workflow: instance health and the
 * orphan sweep, pool scaling, and job-private VMs. Each returns its decisions (what was
 * created or deleted, and why) so they read in the workflow's history, and logs them.
 * Every step re-reads the database and the cloud, so a repeat after a crash is harmless.
 */
import type { ActivityDeps } from './deps';
import { clock } from './deps';
import type { CloudDriver } from './cloud/driver';
import { beat, createInstanceLifecycle, REASONS, withHeartbeat, type JobRef, type LaunchRequest } from './instances';
import { CapacityError } from './cloud/retry';
import { countFailedRequest, deactivateIfIdle, idleSince, liveInstances, recordHeartbeat, type InstanceRow } from '../db/queries/instances';
import { listPools, getPool } from '../db/queries/pools';
import { readyCoresByPool, waitingJobPrivateJobs, moveJobPrivate, boundJobStates } from '../db/queries/autoscaler';
import { newAttemptId, reserveAttempt, unappliedAttemptEnds } from '../db/queries/attempts';
import { jobPrivateVmLost } from '../db/queries/jobs';
import {
  DEFAULT_POOL_CONFIG,
  estimateInstancesToCreate,
  idleInstancesToDelete,
  jobPrivateInstancesToCreate,
  jobPrivateInstancesToDelete,
  type InstanceCounts,
  type PoolInstance,
} from '../domain/autoscaler';
import { JOB_PRIVATE_POOL, parseMachineType } from '../domain/pools';
import type { JobState } from '../domain/states';
import { instancesToProbe, retirementReason } from '../domain/instance-health';
import { probeAgent } from './agent-client';
import { cataloguePricesToLocations } from './prices';

/** Job-private jobs looked at per loop. */
const JOB_PRIVATE_PAGE = 300;

export type Decision = { instance: string; pool: string; action: 'created' | 'deleted'; reason: string };
export type HealthResult = { decisions: Decision[]; orphansDeleted: string[]; jobsToPoke: JobRef[] };
export type ScaleResult = { decisions: Decision[]; nextLoopMs: number };
/** `ended`: jobs this step ended (their job workflows are poked to tell their batches). */
export type JobPrivateResult = { decisions: Decision[]; placed: JobRef[]; ended: JobRef[] };
/** What a loop did: every decision (created/deleted, pool, reason), for the workflow's history. */
export type LoopResult = { decisions: Decision[]; orphansDeleted: string[]; jobsToPoke: JobRef[]; placed: JobRef[]; nextLoopMs: number };

function countsOf(rows: readonly InstanceRow[]): InstanceCounts {
  const counts: InstanceCounts = { pending: 0, active: 0, inactive: 0 };
  for (const r of rows) if (r.state !== 'deleted') counts[r.state]++;
  return counts;
}

export function createAutoscalerActivities(deps: ActivityDeps, driver: CloudDriver, apiUrl: string) {
  const { db, log, config } = deps;
  const life = createInstanceLifecycle(deps, driver, apiUrl);

  const logDecisions = (step: string, decisions: Decision[]) => {
    for (const d of decisions) {
      log.info(`autoscaler ${d.action}`, { step, instance: d.instance, pool: d.pool, reason: d.reason });
      deps.metrics?.autoscalerDecisions.inc({ pool: d.pool, action: d.action });
    }
  };

  /**
   * Calls the instances not heard from for a while: an answer counts as hearing from them, a
   * failure as a failed request, so one that stays silent reaches the failed-request rule.
   */
  async function probeUnheard(now: number): Promise<void> {
    const unheard = instancesToProbe(
      (await liveInstances(db)).map((i) => ({ ...i, lastHeardMs: i.lastHeartbeat })),
      now,
      config.driver.instanceUnheardMs,
    );
    await Promise.all(
      unheard.map(async (inst) => {
        if (inst.address && (await probeAgent(inst.address))) {
          await recordHeartbeat(db, inst.name, now);
        } else {
          await countFailedRequest(db, inst.name);
          log.warn('instance did not answer', { instance: inst.name, failed_requests: inst.failedRequests + 1 });
        }
      }),
    );
  }

  /** Launches a VM; a location that refused it is avoided from now on and this one is skipped. */
  async function launchOrSkip(req: LaunchRequest): Promise<string | null> {
    try {
      return await life.launch(req);
    } catch (err) {
      if (!(err instanceof CapacityError)) throw err;
      log.warn('cloud refused a VM; the location is avoided for a while', { location: err.location, code: err.code, pool: req.pool });
      return null;
    }
  }

  const steps = {
    /**
     * Deletes instances that must go: deactivated ones (by their agent, an admin's preemption
     * or the idle rule), machines that vanished, VMs stuck pending, instances failing requests.
     * Then deletes every machine of this deployment that has no live row (orphans).
     */
    async checkInstances(): Promise<HealthResult> {
      const now = clock(deps);
      await probeUnheard(now);
      const live = await liveInstances(db);
      const listed = await driver.list();
      const machines = new Set(listed.map((m) => m.name));
      const decisions: Decision[] = [];
      const jobsToPoke: JobRef[] = [];
      const retired = new Set<string>();
      for (const inst of live) {
        const reason = retirementReason(
          {
            state: inst.state,
            reason: inst.reason,
            createdAtMs: inst.timeCreated,
            failedRequests: inst.failedRequests,
            machineExists: machines.has(inst.name),
          },
          now,
        );
        if (!reason) continue;
        const r = await life.retire(inst, reason);
        retired.add(inst.name);
        decisions.push({ instance: inst.name, pool: inst.pool, action: 'deleted', reason: r.reason });
        jobsToPoke.push(...r.attemptsEnded);
      }
      // Rows read after the listing: a row is always written before its machine is created, so
      // a listed machine without a live row now is one nobody will ever delete otherwise. The
      // retired ones went with their rows just above.
      const known = new Set((await liveInstances(db)).map((i) => i.name));
      const orphansDeleted: string[] = [];
      for (const m of listed) {
        if (known.has(m.name) || retired.has(m.name)) continue;
        await withHeartbeat(m.name, driver.delete(m.name));
        orphansDeleted.push(m.name);
        log.info('autoscaler deleted orphan machine', { instance: m.name, reason: REASONS.orphan });
      }
      logDecisions('health', decisions);
      return { decisions, orphansDeleted, jobsToPoke };
    },

    /**
     * Per pool (its config re-read every loop, so a PATCH counts at the next loop): delete
     * instances idle past worker_max_idle_time_secs, keeping min_instances, then create VMs for
     * the queue and standing workers up to min_instances, within the pool's limits.
     */
    async scalePools(): Promise<ScaleResult> {
      // The location monitor: zones/regions and their quotas, re-read when due, priced as the catalogue says.
      await driver.refreshLocations?.();
      await cataloguePricesToLocations(db, driver);
      const pools = await listPools(db);
      const decisions: Decision[] = [];
      const idle = await idleSince(db);
      const ready = await readyCoresByPool(db);
      // The job-private row, if any, only sets limits for scaleJobPrivate.
      for (const { name: pool, config: pc } of pools.filter((p) => p.name !== JOB_PRIVATE_POOL)) {
        let rows = (await liveInstances(db)).filter((i) => i.pool === pool && i.batchId === null);
        const now = clock(deps);
        const view: PoolInstance[] = rows.map((i) => ({
          name: i.name,
          state: i.state,
          createdAtMs: i.timeCreated,
          idleSinceMs: idle.get(i.name) ?? null,
        }));
        const retired = new Set<string>();
        for (const name of idleInstancesToDelete(view, now, pc.worker_max_idle_time_secs, pc.min_instances)) {
          if (!(await deactivateIfIdle(db, name, REASONS.idle, now))) continue; // took a job meanwhile
          const inst = rows.find((i) => i.name === name)!;
          await life.retire(inst, REASONS.idle);
          retired.add(name);
          decisions.push({ instance: name, pool, action: 'deleted', reason: REASONS.idle });
        }
        rows = rows.filter((i) => !retired.has(i.name));
        const healthy = rows.filter((i) => i.state === 'active' && i.failedRequests <= 1);
        const freeCoresMcpu = healthy.reduce((n, i) => n + i.freeCoresMcpu, 0);
        const pendingCores = rows.filter((i) => i.state === 'pending').reduce((n, i) => n + i.coresMcpu, 0);
        const estimate = estimateInstancesToCreate({
          pool: pc,
          counts: countsOf(rows),
          freeCoresMcpu,
          liveFreeCoresMcpu: freeCoresMcpu + pendingCores,
          readyCoresMcpu: ready.get(pool) ?? 0,
        });
        const launches = [
          ...Array.from({ length: estimate.forQueue }, () => ({ cores: pc.worker_cores, reason: 'queue' })),
          ...Array.from({ length: estimate.standing }, () => ({ cores: pc.standing_worker_cores, reason: 'min_instances' })),
        ];
        for (const l of launches) {
          beat(pool);
          const location = driver.chooseLocation(null, l.cores);
          if (!location) break; // no quota left anywhere: the queue waits for the next loop
          const name = await launchOrSkip({
            pool,
            cores: l.cores,
            workerType: pc.worker_type,
            preemptible: pc.preemptible,
            bootDiskSizeGb: pc.boot_disk_size_gb,
            location,
          });
          if (!name) continue;
          decisions.push({ instance: name, pool, action: 'created', reason: l.reason });
        }
      }
      logDecisions('pools', decisions);
      const periods = pools.map((p) => p.config.autoscaler_loop_period_secs * 1000);
      const nextLoopMs = config.driver.autoscalerLoopMs ?? (periods.length > 0 ? Math.min(...periods) : DEFAULT_POOL_CONFIG.autoscaler_loop_period_secs * 1000);
      return { decisions, nextLoopMs };
    },

    /**
     * One VM per job that asked for a machine type: Ready → Creating when its VM is requested,
     * placed on that VM (Creating → Ready → Running in one step) once it has activated, and the
     * VM deleted once its job is complete (finished or cancelled).
     */
    async scaleJobPrivate(): Promise<JobPrivateResult> {
      const decisions: Decision[] = [];
      const placed: JobRef[] = [];
      const ended: JobRef[] = [];
      const key = (b: number, j: number) => `${b}:${j}`;
      let bound = (await liveInstances(db)).filter((i) => i.batchId !== null && i.jobId !== null);

      const states = await boundJobStates(db, bound.map((i) => ({ batchId: i.batchId!, jobId: i.jobId! })));
      const done = jobPrivateInstancesToDelete(
        bound.map((i) => ({ name: i.name, state: i.state, jobState: states.get(key(i.batchId!, i.jobId!)) ?? ('Cancelled' as JobState) })),
      );
      for (const name of done) {
        const inst = bound.find((i) => i.name === name)!;
        await life.retire(inst, REASONS.jobComplete);
        decisions.push({ instance: name, pool: inst.pool, action: 'deleted', reason: REASONS.jobComplete });
      }
      bound = bound.filter((i) => !done.includes(i.name));
      const byJob = new Map(bound.map((i) => [key(i.batchId!, i.jobId!), i]));

      const waiting = await waitingJobPrivateJobs(db, JOB_PRIVATE_PAGE);
      const needVm = [];
      for (const job of waiting) {
        const inst = byJob.get(key(job.batchId, job.jobId));
        if (!inst) {
          // Creating with no live VM: the VM was lost before the job started. It counts as a
          // try; ask again only while tries are left.
          if (job.state === 'Creating') {
            const outcome = await jobPrivateVmLost(db, job.batchId, job.jobId, clock(deps));
            if (outcome === 'errored') {
              ended.push({ batchId: job.batchId, jobId: job.jobId });
              log.warn('job-private job ended in Error: its VMs were lost and n_max_attempts are used up', { batch_id: job.batchId, job_id: job.jobId });
            }
            if (outcome !== 'requeued') continue;
          }
          needVm.push(job);
          continue;
        }
        if (inst.state === 'pending') {
          await moveJobPrivate(db, job.batchId, job.jobId, 'Ready', 'Creating');
        } else if (inst.state === 'active') {
          if (job.state === 'Creating') await moveJobPrivate(db, job.batchId, job.jobId, 'Creating', 'Ready');
          const ok = await reserveAttempt(db, {
            batchId: job.batchId,
            jobId: job.jobId,
            attemptId: newAttemptId(),
            instanceName: inst.name,
            coresMcpu: Math.min(job.coresMcpu, inst.coresMcpu),
            now: clock(deps),
          });
          if (ok) {
            placed.push({ batchId: job.batchId, jobId: job.jobId });
            log.info('job-private job placed', { batch_id: job.batchId, job_id: job.jobId, instance: inst.name });
          }
        }
      }

      const pc = (await getPool(db, JOB_PRIVATE_POOL))?.config ?? DEFAULT_POOL_CONFIG;
      const unbound = needVm.filter((j) => j.machineType && parseMachineType(j.machineType));
      const toCreate = jobPrivateInstancesToCreate(
        unbound.map((j) => ({ batchId: j.batchId, jobId: j.jobId, machineType: j.machineType! })),
        countsOf(bound),
        pc,
      );
      for (const req of toCreate) {
        const job = unbound.find((j) => j.batchId === req.batchId && j.jobId === req.jobId)!;
        const shape = parseMachineType(req.machineType)!;
        const location = driver.chooseLocation(job.regions, shape.cores);
        if (!location) continue;
        beat(req);
        const name = await launchOrSkip({
          pool: JOB_PRIVATE_POOL,
          cores: shape.cores,
          workerType: shape.worker_type,
          preemptible: job.preemptible,
          bootDiskSizeGb: pc.boot_disk_size_gb,
          location,
          machineType: req.machineType,
          job: { batchId: req.batchId, jobId: req.jobId },
        });
        if (!name) continue;
        await moveJobPrivate(db, req.batchId, req.jobId, 'Ready', 'Creating');
        decisions.push({ instance: name, pool: JOB_PRIVATE_POOL, action: 'created', reason: `job ${req.batchId}/${req.jobId}` });
      }
      logDecisions('job-private', decisions);
      return { decisions, placed, ended };
    },
  };

  return {
    /**
     * One autoscaler loop as one activity: health and orphans, pool scaling, job-private VMs.
     * One activity rather than three keeps the loop to a handful of history events, which
     * matters at a loop a second; the steps heartbeat as they go, and a repeat is harmless.
     */
    async autoscalerLoop(): Promise<LoopResult> {
      const health = await steps.checkInstances();
      const scale = await steps.scalePools();
      const priv = await steps.scaleJobPrivate();
      // Job workflows keep no timer: a stored report whose poke was lost is found here.
      const unapplied = await unappliedAttemptEnds(db, clock(deps) - deps.config.driver.reportRepokeMs, 1000);
      return {
        decisions: [...health.decisions, ...scale.decisions, ...priv.decisions],
        orphansDeleted: health.orphansDeleted,
        jobsToPoke: [...health.jobsToPoke, ...priv.ended, ...unapplied],
        placed: priv.placed,
        nextLoopMs: scale.nextLoopMs,
      };
    },
  };
}

export type AutoscalerActivities = ReturnType<typeof createAutoscalerActivities>;
