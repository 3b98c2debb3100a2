/**
 * The jobs network is made once however many agents start side by side on one machine: the
 * agents of a first `npm start` used to race on it, and the losers died on Docker's
 * "conflicts with network" (same bridge name). Run on the real Docker engine, with a network
 * and bridge of the test's own so the agents of other test files are not disturbed.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, expect, it } from 'vitest';
import Docker from 'dockerode';
import { ensureBridgeNetwork } from '../../worker-vm/job-network';

const docker = new Docker();
const suffix = randomBytes(3).toString('hex');
const name = `hb-test-net-${suffix}`;
const bridge = `hbt${suffix}`; // a Linux interface name: 15 characters at most

afterAll(async () => {
  await docker.getNetwork(name).remove().catch(() => undefined);
});

it('is made once when eight agents ask for it at the same moment', async () => {
  const outcomes = await Promise.allSettled(Array.from({ length: 8 }, () => ensureBridgeNetwork(docker, name, bridge)));
  expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([]);
  const nets = (await docker.listNetworks({ filters: { name: [name] } })).filter((n) => n.Name === name);
  expect(nets).toHaveLength(1);
  const info = (await docker.getNetwork(name).inspect()) as { Options?: Record<string, string> };
  expect(info.Options?.['com.docker.network.bridge.name']).toBe(bridge);
  expect(info.Options?.['com.docker.network.bridge.enable_icc']).toBe('false');
  // And again once it exists.
  await ensureBridgeNetwork(docker, name, bridge);
});
