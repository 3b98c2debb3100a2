/**
 * The one conformance suite every cloud driver passes (local, GCP and Azure, the last two
 * against their emulators through the real SDKs). Driver-level: create idempotent per name,
 * a fresh driver (as after a crash) finds the machine from the cloud alone, delete idempotent,
 * cloud errors retried or routed elsewhere. Service-level: the whole service on that cloud
 * boots machines whose agents activate with their one-time token (on GCP and Azure through
 * the startup script the driver rendered, reading the token from the instance metadata), runs
 * a batch of 50 jobs on them, runs a job again after the cloud reclaims its spot machine, and
 * leaves no machine behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { CloudDriver, InstanceConfig } from '../../activities/cloud/driver';
import { CapacityError } from '../../activities/cloud/retry';
import { job, startTestService, waitFor, waitForBatch } from '../support/service';

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

    it('runs a batch on machines it boots; a job whose spot machine the cloud reclaims runs again; nothing is left', async () => {
      // The service shares the cloud's data directory, so its agents' logs are where the API reads.
      const svc = await startTestService({ name: `conf_${cloud}`, pools: 'standard:0-2', env: { ...h.env, HB_DATA_DIR: dataDir } });
      try {
        const marker = path.join(dataDir, `reclaim-${cloud}`);
        const n = 50;
        const res = await svc.api('/api/v1alpha/batches/create-fast', {
          method: 'POST',
          json: {
            batch: { billing_project: 'test', n_jobs: n + 1, token: `conf-${cloud}-${Date.now()}` },
            bunch: [
              ...Array.from({ length: n }, (_, i) => job(i + 1, ['sh', '-c', `echo ran-${i + 1}`])),
              // Long enough to be reclaimed the first time, done at once the second.
              job(n + 1, ['sh', '-c', `if [ -f ${marker} ]; then echo again; exit 0; fi; touch ${marker}; sleep 120`]),
            ],
          },
        });
        expect(res.status).toBe(200);
        const id = ((await res.json()) as { id: number }).id;
        await waitFor('the slow job to run', async () => existsSync(marker), 120_000, 200);
        const attempts = async () => (await (await svc.api(`/api/v1alpha/batches/${id}/jobs/${n + 1}/attempts`)).json()) as { instance_name: string; reason: string | null }[];
        const [first] = await attempts();
        // The machine is this cloud's: a fresh driver finds it there.
        const probe = h.driver();
        await probe.refreshLocations?.();
        expect(names(await probe.list())).toContain(first!.instance_name);
        await h.reclaim(first!.instance_name);

        const done = await waitForBatch(svc, id, 240_000);
        expect(done).toMatchObject({ state: 'success', n_succeeded: n + 1 });
        const tried = await attempts();
        expect(tried.length).toBeGreaterThanOrEqual(2);
        expect(tried[0]!.instance_name).toBe(first!.instance_name);
        expect(tried.at(-1)!.instance_name).not.toBe(first!.instance_name);
        // The agents ran the jobs and their logs reached the service.
        const log = await (await svc.api(`/api/v1alpha/batches/${id}/jobs/1/log`)).json() as Record<string, string>;
        expect(log.main).toContain('ran-1');
      } finally {
        await svc.stop();
      }
      const d = h.driver();
      await d.refreshLocations?.();
      await waitFor('every machine to be gone', async () => (await d.list()).length === 0, 30_000, 250);
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
  });
}
