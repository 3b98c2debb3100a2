/**
 * The local cloud: each VM is a worker-vm agent process on this machine, started detached so
 * that it outlives a crash of the driver (as a real VM would). Machines are found by name in
 * the process table (/proc/<pid>/environ carries the agent's name and data directory from the
 * moment it is exec'd), never by a saved pid, so a driver killed between spawning an agent and
 * recording it leaks nothing: the next listing finds the agent.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { childEnv, type Config } from '../../config';
import type { CloudDriver, InstanceConfig, Machine, MachineState, StartupData } from './driver';
import { processAlive as alive } from './pids';

const cliEntry = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long an agent gets to stop its jobs and deactivate before it is killed. */
const STOP_GRACE_MS = 10_000;

type AgentProcess = { pid: number; name: string };

/** Signals a process that may have exited since it was found. */
function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone: what we wanted.
  }
}

/** Agent processes of this data directory, from the kernel's process table. */
async function scanAgents(dataDir: string): Promise<AgentProcess[]> {
  const pids = (await readdir('/proc')).filter((d) => /^\d+$/.test(d));
  const found = await Promise.all(
    pids.map(async (pid): Promise<AgentProcess | null> => {
      const environ = await readFile(`/proc/${pid}/environ`, 'latin1').catch(() => '');
      if (!environ.includes('HB_AGENT_NAME=')) return null;
      let name: string | undefined;
      let dir: string | undefined;
      for (const entry of environ.split('\0')) {
        if (entry.startsWith('HB_AGENT_NAME=')) name = entry.slice('HB_AGENT_NAME='.length);
        else if (entry.startsWith('HB_DATA_DIR=')) dir = entry.slice('HB_DATA_DIR='.length);
      }
      if (!name || dir !== dataDir) return null;
      // A zombie has exited; only its parent's bookkeeping is left.
      const stat = await readFile(`/proc/${pid}/stat`, 'latin1').catch(() => '');
      if (/\) Z /.test(stat)) return null;
      return { pid: Number(pid), name };
    }),
  );
  return found.filter((a): a is AgentProcess => a !== null);
}

async function removeContainersOf(config: Config, instance: string): Promise<void> {
  if (config.localPool.executor !== 'docker') return;
  const docker = new Docker({ socketPath: config.agent.dockerSocket });
  const found = await docker
    .listContainers({ all: true, filters: { label: [`hail-batch.instance=${instance}`] } })
    .catch(() => []);
  await Promise.all(found.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
}

/** `apiUrl` is where agents report; it differs from the configured one when the API took a free port. */
export function createLocalDriver(config: Config, apiUrl: string = config.api.url): CloudDriver & { apiUrl: string } {
  const logDir = path.join(config.dataDir, 'agents');
  const pidsOf = async (name: string) => (await scanAgents(config.dataDir)).filter((a) => a.name === name).map((a) => a.pid);

  return {
    apiUrl,

    async create(inst: InstanceConfig, startup: StartupData) {
      const existing = await pidsOf(inst.name);
      if (existing[0] !== undefined) return { handle: String(existing[0]) };
      mkdirSync(logDir, { recursive: true });
      const out = openSync(path.join(logDir, `${inst.name}.log`), 'a');
      const child = spawn(process.execPath, ['--import', 'tsx', cliEntry, 'agent'], {
        detached: true,
        stdio: ['ignore', out, out],
        env: childEnv({
          HB_AGENT_NAME: inst.name,
          HB_AGENT_PORT: 0,
          HB_AGENT_POOL: inst.pool,
          HB_AGENT_CORES: inst.cores,
          HB_AGENT_ACTIVATION_TOKEN: startup.activationToken,
          HB_API_URL: startup.apiUrl,
          HB_DATA_DIR: config.dataDir,
          HB_REGION: inst.location,
          HB_EXECUTOR: config.localPool.executor,
        }),
      });
      closeSync(out);
      child.unref();
      if (!child.pid) throw new Error(`could not start agent ${inst.name}`);
      return { handle: String(child.pid) };
    },

    async delete(name: string) {
      const pids = await pidsOf(name);
      for (const pid of pids) signal(pid, 'SIGTERM');
      const deadline = Date.now() + STOP_GRACE_MS;
      while (pids.some(alive) && Date.now() < deadline) await sleep(100);
      for (const pid of pids.filter(alive)) signal(pid, 'SIGKILL');
      // A deleted VM takes its containers with it; so does a deleted local agent, even one
      // that was killed in the middle of creating a container.
      await removeContainersOf(config, name);
    },

    async getState(name: string): Promise<MachineState> {
      return (await pidsOf(name)).length > 0 ? 'running' : 'gone';
    },

    async list(): Promise<Machine[]> {
      const names = new Set((await scanAgents(config.dataDir)).map((a) => a.name));
      return [...names].sort().map((name) => ({ name, state: 'running' as const }));
    },

    chooseLocation(regions: readonly string[] | null): string | null {
      return regions === null || regions.length === 0 || regions.includes(config.region) ? config.region : null;
    },

    async simulatePreemption(name: string) {
      for (const pid of await pidsOf(name)) signal(pid, 'SIGKILL');
    },
  };
}
