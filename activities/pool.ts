/**
 * Keeps a fixed set of instances per pool alive through a cloud driver, and retires instances
 * whose machine has vanished: their open attempts end ("instance lost") and the owning job
 * workflows put those jobs back to Ready on their next look.
 */
import type { ActivityDeps } from './deps';
import { clock } from './deps';
import type { CloudDriver } from './cloud/driver';
import { insertInstance, liveInstances, setInstanceHandle, setInstanceState, type InstanceRow } from '../db/queries/instances';
import { endAttempt, openAttemptsOn } from '../db/queries/attempts';
import { hashToken, newToken } from '../db/queries/tokens';

export type PoolTarget = { pool: string; count: number; cores: number };

export function createPoolManager(deps: ActivityDeps, driver: CloudDriver) {
  const { db, log } = deps;

  async function retire(inst: InstanceRow, reason: string): Promise<void> {
    await driver.delete(inst.name, inst.handle);
    for (const a of await openAttemptsOn(db, inst.name)) {
      await endAttempt(db, { batchId: a.batchId, jobId: a.jobId, attemptId: a.attemptId }, { endTime: clock(deps), outcome: null, reason });
    }
    await setInstanceState(db, inst.name, 'deleted', clock(deps));
    log.info('instance deleted', { instance: inst.name, reason });
  }

  async function launch(pool: string, cores: number): Promise<string> {
    const name = `batch-worker-local-${pool}-${newToken(4).toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 5).padEnd(5, '0')}`;
    const activationToken = newToken();
    await insertInstance(db, { name, pool, coresMcpu: cores * 1000, activationTokenHash: hashToken(activationToken), now: clock(deps) });
    const { handle } = await driver.create({ name, pool, cores, activationToken });
    await setInstanceHandle(db, name, handle);
    log.info('instance created', { instance: name, pool, cores });
    return name;
  }

  return {
    /** Replaces vanished instances and starts new ones until each pool has its count. */
    async ensure(targets: PoolTarget[]): Promise<void> {
      const live = await liveInstances(db);
      const kept: InstanceRow[] = [];
      for (const inst of live) {
        if (await driver.exists(inst.name, inst.handle)) kept.push(inst);
        else await retire(inst, 'instance lost');
      }
      for (const t of targets) {
        const have = kept.filter((i) => i.pool === t.pool && i.state !== 'inactive').length;
        for (let i = have; i < t.count; i++) await launch(t.pool, t.cores);
      }
    },

    /** Deletes every live instance (local shutdown). */
    async deleteAll(reason: string): Promise<void> {
      for (const inst of await liveInstances(db)) await retire(inst, reason);
    },
  };
}
