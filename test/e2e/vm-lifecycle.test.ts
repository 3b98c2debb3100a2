/**
 * The worker-VM lifecycle is leak-proof: kill -9 of the driver while the autoscaler creates
 * VMs for a queue, and again while it deletes idle ones; after each restart the agent
 * processes running are exactly the instances the database holds live, and none are left
 * once the pool is patched to 0 and idles out. And a pool scales 0 → N → 0 with the queue.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { job, startTestService, waitFor, waitForBatch, type TestService } from '../support/service';
import { startProcessService, type ProcessService } from '../support/processes';
import { agentProcesses } from '../support/agents';
import { getPool, seedPools, updatePoolConfig } from '../../db/queries/pools';
import { listInstances, liveInstances } from '../../db/queries/instances';
import type { Db } from '../../db/client';
import { DEFAULT_POOL_CONFIG, type PoolConfig } from '../../domain/autoscaler';

let proc: ProcessService | undefined;
let svc: TestService | undefined;
afterEach(async () => {
  await proc?.stop();
  await svc?.stop();
  proc = undefined;
  svc = undefined;
});

async function patchPool(db: Db, name: string, patch: Partial<PoolConfig>): Promise<void> {
  const pool = await getPool(db, name);
  expect(pool).not.toBeNull();
  await updatePoolConfig(db, name, { ...pool!.config, ...patch }, Date.now());
}

/** One-core jobs sleeping a little, so a queue of them needs several 2-core VMs. */
function bunch(n: number, seconds: number): unknown[] {
  return Array.from({ length: n }, (_, i) => job(i + 1, ['sh', '-c', `sleep ${seconds}`], { resources: { cpu: '1', memory: 'standard' } }));
}

async function submit(api: (p: string, init?: RequestInit & { json?: unknown }) => Promise<Response>, jobs: unknown[], token: string): Promise<number> {
  const res = await api('/api/v1alpha/batches/create-fast', {
    method: 'POST',
    json: { batch: { billing_project: 'test', n_jobs: jobs.length, token }, bunch: jobs },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { id: number }).id;
}

/** Live rows and running agents agree, once pending VMs have had time to come up. */
async function expectAgentsMatchRows(db: Db, dataDir: string, what: string): Promise<string[]> {
  return waitFor(what, async () => {
    const rows = (await liveInstances(db)).map((i) => i.name).sort();
    const running = agentProcesses(dataDir);
    return JSON.stringify(rows) === JSON.stringify(running) ? rows : null;
  }, 60_000, 250);
}

describe('VM lifecycle', () => {
  it('leaks no VM when the driver is killed during scale-up and during scale-down', async () => {
    proc = await startProcessService({ name: 'life_kill', executor: 'process', pools: 'standard:0-4', env: { HB_AGENT_CORES: '2' } });
    const db = proc.database.db;
    // Seeded before the driver starts, so its first loop already sees the short idle time.
    await seedPools(db, [{ name: 'standard', config: { ...DEFAULT_POOL_CONFIG, worker_cores: 2, standing_worker_cores: 2, min_instances: 1, max_live_instances: 4, max_instances: 4, worker_max_idle_time_secs: 4 } }], Date.now());
    await proc.start('api');
    await proc.start('driver');

    await waitFor('the standing worker', async () => (await liveInstances(db)).some((i) => i.state === 'active'), 180_000, 100);

    // Scale-up: 8 one-core jobs need 4 two-core VMs; kill as soon as the first is requested.
    const id = await submit(proc.api, bunch(8, 8), `kill-up-${Date.now()}`);
    await waitFor('a VM to be requested for the queue', async () => (await listInstances(db)).length > 1, 180_000, 20);
    proc.kill9('driver');
    await new Promise((r) => setTimeout(r, 1500));
    await proc.start('driver');
    // The restarted driver finishes the scale-up: more than one VM runs the queue.
    await waitFor('the scale-up to go on', async () => (await liveInstances(db)).filter((i) => i.state === 'active').length > 1, 180_000, 100);
    await waitFor('batch to complete', async () => {
      const b = (await (await proc!.api(`/api/v1alpha/batches/${id}`)).json()) as { complete: boolean; n_succeeded: number };
      return b.complete ? b : null;
    }, 120_000, 250).then((b) => expect(b.n_succeeded).toBe(8));
    const during = await expectAgentsMatchRows(db, proc.dataDir, 'agents to match live rows after scale-up');
    expect(during.length).toBeGreaterThan(0);
    expect(during.length).toBeLessThanOrEqual(4);

    // Scale-down: the VMs idle out; kill while the first ones are being deleted.
    await waitFor('idle deletion to begin', async () => (await listInstances(db)).some((i) => i.reason === 'idle'), 60_000, 20).catch(
      async (e: unknown) => {
        // What the autoscaler saw and did, to tell a slow loop from a wrong decision.
        const rows = (await listInstances(db)).map((i) => `${i.name} ${i.state} ${i.reason} free=${i.freeCoresMcpu}`);
        const log = (await readFile(path.join(proc!.dataDir, 'driver.log'), 'utf8')).split('\n').filter((l) => /autoscaler|warn|error/i.test(l));
        throw new Error(`${String(e)}\n${rows.join('\n')}\n${log.slice(-30).join('\n')}`);
      },
    );
    proc.kill9('driver');
    await new Promise((r) => setTimeout(r, 1500));
    await proc.start('driver');
    // Down to the one standing worker, and the agents are exactly the live rows.
    await waitFor('the pool to shrink to its minimum', async () => (await liveInstances(db)).length === 1, 90_000, 250);
    expect(await expectAgentsMatchRows(db, proc.dataDir, 'agents to match live rows after scale-down')).toHaveLength(1);

    // Patched to 0, the standing worker idles out too, and nothing is left running.
    await patchPool(db, 'standard', { min_instances: 0 });
    await waitFor('every VM to be deleted', async () => (await liveInstances(db)).length === 0 && agentProcesses(proc!.dataDir).length === 0, 90_000, 250);
    const all = await listInstances(db);
    expect(all.every((i) => i.state === 'deleted' && i.timeDeleted !== null && i.reason !== null)).toBe(true);
    expect(all.filter((i) => i.reason === 'idle').length).toBeGreaterThanOrEqual(2);
  }, 10 * 60_000);

  it('scales a pool 0 → N → 0 with its queue', async () => {
    svc = await startTestService({ name: 'life_scale', pools: 'standard:0-3', coresPerAgent: 2 });
    const db = svc.database.db;
    await patchPool(db, 'standard', { worker_max_idle_time_secs: 3 });
    expect(await liveInstances(db)).toHaveLength(0);

    let peak = 0;
    let sampling = true;
    const id = await submit(svc.api, bunch(6, 2), `scale-${Date.now()}`);
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, (await liveInstances(db)).length);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      const batch = await waitForBatch(svc, id, 120_000);
      expect(batch).toMatchObject({ state: 'success', n_succeeded: 6 });
      await waitFor('the pool to idle out', async () => (await liveInstances(db)).length === 0 && agentProcesses(svc!.config.dataDir).length === 0, 60_000, 250);
    } finally {
      sampling = false;
      await sampler;
    }
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(3);
    const all = await listInstances(db);
    expect(all.length).toBeGreaterThan(0);
    expect(all.every((i) => i.state === 'deleted' && i.reason === 'idle')).toBe(true);
  }, 5 * 60_000);
});
