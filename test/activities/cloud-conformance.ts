/**
 * The one conformance suite every cloud driver passes (local, GCP and Azure, the last two
 * against their emulators through the real SDKs). Driver-level: create idempotent per name,
 * a fresh driver (as after a crash) finds the machine from the cloud alone, delete idempotent,
 * cloud errors retried or routed elsewhere. Service-level, the whole system on the driver: the
 * pool's VMs boot agents that activate with their one-time tokens, a 50-job batch runs, a spot VM
 * reclaimed by the cloud mid-job has its job requeued and finished elsewhere, a machine without a
 * database row (a driver killed between the cloud call and the row's write) is found by its
 * labels and deleted, and idle VMs are deleted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { CloudDriver, InstanceConfig } from '../../activities/cloud/driver';
import { CapacityError } from '../../activities/cloud/retry';
import { job, startTestService, waitFor, waitForBatch, type TestService } from '../support/service';
import { liveInstances } from '../../db/queries/instances';

export type Harness = {
  /** Service settings that select and point at this cloud. */
  env: Record<string, string>;
  /** A new driver object, sharing nothing with earlier ones but the cloud. */
  driver(): CloudDriver;
  /** Where a VM may go. */
  location: string;
  /** The cloud reclaims a spot VM (no grace). */
  reclaim(name: string): Promise<void>;
  /** Error injection, for clouds that have it. */
  errors?: {
    rateLimit(times: number): void;
    serverError(times: number): void;
    /** The next create in `location` is refused for capacity. */
    capacity(location: string): void;
    /** Every location a VM may go to. */
    locations: string[];
  };
  close(): Promise<void>;
};

const vm = (name: string, location: string, extra: Partial<InstanceConfig> = {}): InstanceConfig => ({
  name,
  pool: 'standard',
  cores: 1,
  workerType: 'standard',
  preemptible: true,
  bootDiskSizeGb: 10,
  location,
  machineType: null,
  ...extra,
});
// Nothing listens there: driver-level tests only need the agents to exist.
const nowhere = { activationToken: 'tok', apiUrl: 'http://127.0.0.1:9' };
const names = (ms: { name: string }[]) => ms.map((m) => m.name);

/** `setup(dataDir)` starts the cloud with its VMs' agents in dataDir (the service's data directory). */
/** `errors`: whether this cloud injects errors (the local one has no API to fail). */
export function conformance(cloud: string, opts: { errors: boolean }, setup: (dataDir: string) => Promise<Harness>): void {
  describe(`cloud driver conformance: ${cloud}`, () => {
    let dataDir = '';
    let h: Harness;
    beforeAll(async () => {
      dataDir = await mkdtemp(path.join(os.tmpdir(), `hb-conf-${cloud}-`));
      h = await setup(dataDir);
    });
    afterAll(async () => {
      await h?.close();
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    });

    it('creates idempotently per name, is found by a fresh driver, deletes idempotently', async () => {
      const d = h.driver();
      await d.refreshLocations?.();
      const name = `batch-worker-local-standard-c${cloud.slice(0, 1)}001`;
      expect(await d.getState(name)).toBe('gone');
      await d.create(vm(name, h.location), nowhere);
      const again = h.driver();
      await again.refreshLocations?.();
      await again.create(vm(name, h.location), nowhere);
      expect(names(await again.list())).toEqual([name]);
      await waitFor('the machine to run', async () => (await again.getState(name)) === 'running', 20_000, 100);
      await again.delete(name);
      expect(await d.getState(name)).toBe('gone');
      await d.delete(name);
      expect(await d.list()).toEqual([]);
    });

    if (opts.errors) {
      it('retries rate limits and server errors; a location refusing capacity is avoided', async () => {
        const errors = h.errors!;
        const d = h.driver();
        await d.refreshLocations?.();
        errors.rateLimit(2);
        errors.serverError(1);
        const name = `batch-worker-local-standard-e${cloud.slice(0, 1)}001`;
        await d.create(vm(name, h.location), nowhere);
        expect(names(await d.list())).toEqual([name]);
        await d.delete(name);

        const [first, second] = errors.locations;
        errors.capacity(first!);
        const refused = `batch-worker-local-standard-e${cloud.slice(0, 1)}002`;
        await expect(d.create(vm(refused, first!), nowhere)).rejects.toBeInstanceOf(CapacityError);
        expect(await d.list()).toEqual([]);
        // Routed elsewhere: every later pick avoids the refusing location while another has room.
        const picks = Array.from({ length: 4 }, () => d.chooseLocation(null, 1));
        expect(picks.every((p) => p === second)).toBe(true);
      });
    }

    it('runs a 50-job batch on its VMs: agents activate, a reclaimed VM requeues its job, orphans and idle VMs are deleted', async () => {
      let svc: TestService | undefined;
      try {
        svc = await startTestService({
          name: `conf_${cloud}`,
          pools: 'standard:1-3',
          coresPerAgent: 2,
          env: { ...h.env, HB_DATA_DIR: dataDir, HB_LOCATION_REFRESH_MS: '1000' },
        });
        const admin = await svc.addUser('root', { admin: true });
        const marker = path.join(dataDir, 'slow-ran');
        const bunch = [
          job(1, ['sh', '-c', `if [ -f ${marker} ]; then exit 0; fi; touch ${marker}; sleep 60`], { resources: { cpu: '1', memory: 'standard' } }),
          ...Array.from({ length: 49 }, (_, i) => job(i + 2, ['sh', '-c', 'sleep 0.2'], { resources: { cpu: '1', memory: 'standard' } })),
        ];
        const res = await svc.api('/api/v1alpha/batches/create-fast', {
          method: 'POST',
          json: { batch: { billing_project: 'test', n_jobs: 50, token: `conf-${cloud}-${Date.now()}` }, bunch },
        });
        expect(res.status).toBe(200);
        const id = ((await res.json()) as { id: number }).id;

        // The cloud reclaims the VM running job 1.
        await waitFor('job 1 to run', async () => existsSync(marker), 60_000, 100);
        const attempts = async () => ((await (await svc!.api(`/api/v1alpha/batches/${id}/jobs/1/attempts`)).json()) as { instance_name: string; reason: string | null }[] | null) ?? [];
        const victim = (await attempts())[0]!.instance_name;
        await h.reclaim(victim);

        // A machine of this deployment with no row, as a driver killed right after the cloud call leaves.
        const orphan = 'batch-worker-local-standard-orph1';
        await h.driver().create(vm(orphan, h.location), { activationToken: 'never-issued', apiUrl: svc.url });

        const batch = await waitForBatch(svc, id, 180_000);
        expect(batch).toMatchObject({ state: 'success', n_succeeded: 50 });
        const tried = await attempts();
        expect(tried.length).toBe(2);
        expect(tried[0]!.instance_name).toBe(victim);
        expect(tried[1]!.instance_name).not.toBe(victim);
        // Autoscaled up: more VMs than the one standing worker took part.
        const used = new Set<string>();
        for (let j = 1; j <= 50; j++) {
          const a = (await (await svc.api(`/api/v1alpha/batches/${id}/jobs/${j}/attempts`)).json()) as { instance_name: string }[];
          for (const x of a) used.add(x.instance_name);
        }
        expect(used.size).toBeGreaterThan(1);
        await waitFor('the orphan to be deleted', async () => !names(await h.driver().list()).includes(orphan), 30_000, 250);

        // Idle VMs go once the pool allows none standing.
        const patch = await svc.api('/api/v1alpha/pools/standard', { method: 'PATCH', token: admin, json: { min_instances: 0, worker_max_idle_time_secs: 1 } });
        expect(patch.status).toBe(200);
        await waitFor('idle VMs to be deleted', async () => (await h.driver().list()).length === 0 && (await liveInstances(svc!.database.db)).length === 0, 60_000, 250);
      } finally {
        await svc?.stop();
      }
    });
  });
}
