/**
 * The network jobs' main containers run on: a bridge of its own from which the public
 * internet is reachable but nothing private is, as on Hail's workers. Without it a job on
 * Docker's default bridge reaches its host (the agent's API, which trusts its network, and
 * any service listening there), the machines beside it and the cloud's metadata server.
 *
 * Two kinds of packets from the bridge are dropped, with iptables as Docker itself uses it, in
 * two chains of our own that every agent start rebuilds:
 * - to the host (INPUT): the agent, the API, databases on this machine;
 * - to private, shared, link-local and multicast addresses and to this machine's own networks
 *   (DOCKER-USER, the chain Docker keeps for its users' rules in FORWARD): other VMs, the
 *   metadata server, this machine's LAN.
 * Replies to connections made to a job (its `port`) pass. Names resolve through Docker's
 * embedded DNS, which answers inside the container's own namespace.
 */
import { execFile } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import { promisify } from 'node:util';
import type Docker from 'dockerode';

const run = promisify(execFile);

export const JOB_NETWORK = 'hail-batch-jobs';
/** The bridge device's name, which the rules match on (at most 15 characters). */
export const JOB_BRIDGE = 'hb-jobs0';

/** Where a job may not connect: RFC 1918, shared (RFC 6598), link-local (metadata), multicast, reserved. */
export const BLOCKED_RANGES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '169.254.0.0/16', '224.0.0.0/4', '240.0.0.0/4'];

/** This machine's own IPv4 networks (its LAN may be outside the private ranges), as CIDRs. */
export function localSubnets(): string[] {
  const out = new Set<string>();
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal && a.cidr) out.add(networkOf(a.cidr));
  }
  return [...out].sort();
}

/** 192.0.2.2/24 → 192.0.2.0/24. */
export function networkOf(cidr: string): string {
  const [ip, bits] = cidr.split('/');
  const n = Number(bits);
  const value = ip!.split('.').reduce((v, o) => (v << 8) + Number(o), 0) >>> 0;
  const masked = n === 0 ? 0 : (value & (~0 << (32 - n))) >>> 0;
  return `${[24, 16, 8, 0].map((s) => (masked >>> s) & 255).join('.')}/${n}`;
}

/** Chains of our own, rebuilt whole each time, so the rules are always in this order. */
export const FORWARD_CHAIN = 'HB-JOBS-OUT';
export const INPUT_CHAIN = 'HB-JOBS-HOST';

/**
 * The iptables commands, in order: each chain emptied and filled (replies to connections made
 * to a job pass first), then one jump into it from DOCKER-USER and from INPUT for packets from
 * the jobs' bridge. `-C` lines are checks: the command after one runs only if it fails.
 */
export function jobNetworkCommands(bridge = JOB_BRIDGE, lan: readonly string[] = []): string[][] {
  const replies = ['-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED'];
  const ranges = [...new Set([...BLOCKED_RANGES, ...lan])];
  return [
    ['-N', FORWARD_CHAIN],
    ['-F', FORWARD_CHAIN],
    ['-A', FORWARD_CHAIN, ...replies, '-j', 'RETURN'],
    ...ranges.map((range) => ['-A', FORWARD_CHAIN, '-d', range, '-j', 'DROP']),
    ['-N', INPUT_CHAIN],
    ['-F', INPUT_CHAIN],
    ['-A', INPUT_CHAIN, ...replies, '-j', 'ACCEPT'],
    ['-A', INPUT_CHAIN, '-j', 'DROP'],
    ['-C', 'DOCKER-USER', '-i', bridge, '-j', FORWARD_CHAIN],
    ['-I', 'DOCKER-USER', '1', '-i', bridge, '-j', FORWARD_CHAIN],
    ['-C', 'INPUT', '-i', bridge, '-j', INPUT_CHAIN],
    ['-I', 'INPUT', '1', '-i', bridge, '-j', INPUT_CHAIN],
  ];
}

const iptables = (args: string[]) => run('iptables', ['-w', '5', ...args]);
const succeeds = (args: string[]) => iptables(args).then(() => true, () => false);

async function applyRules(commands: string[][]): Promise<void> {
  for (let i = 0; i < commands.length; i++) {
    const c = commands[i]!;
    if (c[0] === '-N') await succeeds(c); // exists already: fine
    else if (c[0] === '-C') i += (await succeeds(c)) ? 1 : 0; // present: skip its insert
    else await iptables(c);
  }
}

export type JobNetwork = { name: string; isolated: true } | { name: null; isolated: false; why: string };

/**
 * Creates the network if it is missing and rebuilds the two chains (idempotent: a restarted
 * agent, or another agent on the same machine, refills them in the same order and finds both
 * jumps in place). When
 * the rules cannot be set (no iptables, not root), jobs get no network of their own and the
 * caller is told why: they then run on Docker's default bridge.
 */
export async function ensureJobNetwork(docker: Docker): Promise<JobNetwork> {
  try {
    await applyRules(jobNetworkCommands(JOB_BRIDGE, localSubnets()));
  } catch (e) {
    return { name: null, isolated: false, why: `iptables: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}` };
  }
  await ensureBridgeNetwork(docker, JOB_NETWORK, JOB_BRIDGE);
  return { name: JOB_NETWORK, isolated: true };
}

/**
 * Makes the bridge network `name` (on host bridge `bridge`, no traffic between its containers)
 * unless it exists. Agents starting side by side on one machine race here: Docker refuses the
 * loser with "already exists" or, by the bridge name, "conflicts with network"; whatever the
 * words, the network being there afterwards is what counts.
 */
export async function ensureBridgeNetwork(docker: Docker, name: string, bridge: string): Promise<void> {
  const present = async () => (await docker.listNetworks({ filters: { name: [name] } })).some((n) => n.Name === name);
  if (await present()) return;
  try {
    await docker.createNetwork({
      Name: name,
      Driver: 'bridge',
      CheckDuplicate: true,
      Labels: { 'hail-batch.network': 'jobs' },
      // Containers on it reach each other only through published ports, as on separate VMs.
      Options: { 'com.docker.network.bridge.name': bridge, 'com.docker.network.bridge.enable_icc': 'false' },
    });
  } catch (e) {
    if (!(await present())) throw e;
  }
}
