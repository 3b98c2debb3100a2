/**
 * The local cloud driver against real agent processes: machines are found by name in the
 * process table (no saved handle needed), create is idempotent per name, and delete and
 * preemption leave nothing running.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../config';
import { createLocalDriver } from '../../activities/cloud/local';
import type { InstanceConfig } from '../../activities/cloud/driver';
import { processAlive } from '../../activities/cloud/pids';
import { agentProcesses } from '../support/agents';
import { waitFor } from '../support/service';

let dataDir = '';
beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'hb-local-driver-'));
});
afterAll(async () => {
  if (dataDir) {
    const driver = createLocalDriver(loadConfig({ HB_DATA_DIR: dataDir, HB_EXECUTOR: 'process' }));
    for (const m of await driver.list()) await driver.delete(m.name);
    await rm(dataDir, { recursive: true, force: true });
  }
});

const vm = (name: string): InstanceConfig => ({
  name,
  pool: 'standard',
  cores: 1,
  workerType: 'standard',
  preemptible: true,
  bootDiskSizeGb: 10,
  location: 'local',
  machineType: null,
});
// Nothing listens there: the agents keep trying to activate, which is all this test needs.
const startup = { activationToken: 'tok', apiUrl: 'http://127.0.0.1:9' };

describe('local cloud driver', () => {
  it('finds machines by name, creates idempotently, deletes and preempts', async () => {
    const config = loadConfig({ HB_DATA_DIR: dataDir, HB_EXECUTOR: 'process', HB_REGION: 'local' });
    const driver = createLocalDriver(config, startup.apiUrl);
    expect(await driver.list()).toEqual([]);
    expect(await driver.getState('batch-worker-local-standard-aaaaa')).toBe('gone');

    const a = await driver.create(vm('batch-worker-local-standard-aaaaa'), startup);
    // A second driver (as after a crash that lost the handle) sees the same machine by name.
    const other = createLocalDriver(config, startup.apiUrl);
    expect(await other.list()).toEqual([{ name: 'batch-worker-local-standard-aaaaa', state: 'running' }]);
    expect(await other.create(vm('batch-worker-local-standard-aaaaa'), startup)).toEqual(a);
    expect(agentProcesses(dataDir)).toEqual(['batch-worker-local-standard-aaaaa']);

    await driver.create(vm('batch-worker-local-standard-bbbbb'), startup);
    expect((await driver.list()).map((m) => m.name)).toEqual(['batch-worker-local-standard-aaaaa', 'batch-worker-local-standard-bbbbb']);

    await other.delete('batch-worker-local-standard-aaaaa');
    expect(processAlive(Number(a.handle))).toBe(false);
    expect(await driver.getState('batch-worker-local-standard-aaaaa')).toBe('gone');
    await driver.delete('batch-worker-local-standard-aaaaa'); // already gone: still fine

    await driver.simulatePreemption('batch-worker-local-standard-bbbbb');
    await waitFor('the preempted agent to die', async () => (await driver.getState('batch-worker-local-standard-bbbbb')) === 'gone', 10_000, 50);
    expect(agentProcesses(dataDir)).toEqual([]);

    expect(driver.chooseLocation(null)).toBe('local');
    expect(driver.chooseLocation(['local', 'us-central1'])).toBe('local');
    expect(driver.chooseLocation(['us-central1'])).toBeNull();
  });
});
