/**
 * The steps of one worker VM's life, each safe to repeat: launch (row first, then machine) and
 * retire (inactive, machine deleted, open attempts ended, row deleted). A crash between any
 * two steps leaves a state the autoscaler's next loop finishes from.
 */
import { Context } from '@temporalio/activity';
import type { ActivityDeps } from './deps';
import { clock } from './deps';
import type { CloudDriver, InstanceConfig } from './cloud/driver';
import { CapacityError } from './cloud/retry';
import {
  deactivateInstance,
  insertInstance,
  liveInstances,
  markInstanceDeleted,
  setInstanceHandle,
  type InstanceRow,
} from '../db/queries/instances';
import { endAttempt, openAttemptsOn } from '../db/queries/attempts';
import { hashToken, newToken } from '../db/queries/tokens';
import { RETIREMENT_REASONS } from '../domain/instance-health';

/** Why an instance went away (see domain/instance-health). */
export const REASONS = RETIREMENT_REASONS;

export type JobRef = { batchId: number; jobId: number };
export type Retired = { instance: string; reason: string; attemptsEnded: JobRef[] };

/** A VM to create: its shape (the name is chosen here), and the job it is private to, if any. */
export type LaunchRequest = Omit<InstanceConfig, 'name' | 'machineType'> & { machineType?: string | null; job?: JobRef };

/** Hail's names: batch-worker-<namespace>-<pool>-<5 characters>. */
function instanceName(pool: string): string {
  const suffix = newToken(8).toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 5).padEnd(5, '0');
  return `batch-worker-local-${pool}-${suffix}`;
}

/** Tells Temporal a long step is alive; a no-op outside an activity (local shutdown). */
export function beat(details?: unknown): void {
  try {
    Context.current().heartbeat(details);
  } catch {
    // Not running as an activity.
  }
}

/** Heartbeats every 2 s while a slow cloud call (deleting a VM) is in flight. */
export async function withHeartbeat<T>(what: string, work: Promise<T>): Promise<T> {
  beat(what);
  const timer = setInterval(() => beat(what), 2000);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}

export function createInstanceLifecycle(deps: ActivityDeps, driver: CloudDriver, apiUrl: string) {
  const { db, log } = deps;

  async function launch(req: LaunchRequest): Promise<string> {
    const name = instanceName(req.pool);
    const activationToken = newToken();
    await insertInstance(db, {
      name,
      pool: req.pool,
      coresMcpu: req.cores * 1000,
      activationTokenHash: hashToken(activationToken),
      now: clock(deps),
      region: req.location,
      preemptible: req.preemptible,
      machineType: req.machineType ?? null,
      batchId: req.job?.batchId ?? null,
      jobId: req.job?.jobId ?? null,
    });
    let created: { handle: string };
    try {
      created = await driver.create(
      {
        name,
        pool: req.pool,
        cores: req.cores,
        workerType: req.workerType,
        preemptible: req.preemptible,
        bootDiskSizeGb: req.bootDiskSizeGb,
        location: req.location,
        machineType: req.machineType ?? null,
      },
      { activationToken, apiUrl },
      );
    } catch (err) {
      // A refusal leaves no machine: the row goes now, and the caller asks elsewhere.
      if (err instanceof CapacityError) await markInstanceDeleted(db, name, `refused: ${err.code}`, clock(deps));
      throw err;
    }
    await setInstanceHandle(db, name, created.handle);
    log.info('instance created', { instance: name, pool: req.pool, cores: req.cores, ...(req.job ?? {}) });
    return name;
  }

  /**
   * Deactivate, delete the machine, end its open attempts (their jobs run again), and only
   * then mark the row deleted, so a live row always stands for a machine that may exist.
   */
  async function retire(inst: InstanceRow, reason: string): Promise<Retired> {
    await deactivateInstance(db, inst.name, reason, clock(deps));
    if (reason === REASONS.preempted) await driver.simulatePreemption(inst.name);
    await withHeartbeat(inst.name, driver.delete(inst.name));
    const attemptsEnded: JobRef[] = [];
    for (const a of await openAttemptsOn(db, inst.name)) {
      const key = { batchId: a.batchId, jobId: a.jobId, attemptId: a.attemptId };
      await endAttempt(db, key, { endTime: clock(deps), outcome: null, reason });
      attemptsEnded.push({ batchId: a.batchId, jobId: a.jobId });
    }
    await markInstanceDeleted(db, inst.name, reason, clock(deps));
    log.info('instance deleted', { instance: inst.name, reason, attempts_ended: attemptsEnded.length });
    return { instance: inst.name, reason, attemptsEnded };
  }

  return {
    launch,
    retire,

    /** Deletes every live instance and every machine of this deployment (local shutdown). */
    async deleteAll(reason: string): Promise<void> {
      for (const inst of await liveInstances(db)) await retire(inst, reason);
      for (const m of await driver.list()) await driver.delete(m.name);
    },
  };
}

export type InstanceLifecycle = ReturnType<typeof createInstanceLifecycle>;
