/**
 * The one conformance suite every cloud driver passes (local, GCP and Azure, the last two
 * against their emulators through the real SDKs). Driver-level: create idempotent per name,
 * a fresh driver (as after a crash) finds the machine from the cloud alone, delete idempotent,
 * cloud errors retried or routed elsewhere.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { CloudDriver, InstanceConfig } from '../../activities/cloud/driver';
import { CapacityError } from '../../activities/cloud/retry';
import { waitFor } from '../support/service';

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
  });
}
