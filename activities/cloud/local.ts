/**
 * The local cloud: each VM is a worker-vm agent process on this machine, started detached so
 * that it outlives a crash of the driver (as a real VM would) and found again by its pid.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { childEnv, type Config } from '../../config';
import type { CloudDriver, InstanceLaunch } from './driver';
import { processAlive as alive } from './pids';

const cliEntry = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `apiUrl` is where agents report; it differs from the configured one when the API took a free port. */
async function removeContainersOf(config: Config, instance: string): Promise<void> {
  if (config.localPool.executor !== 'docker') return;
  const docker = new Docker({ socketPath: config.agent.dockerSocket });
  const found = await docker
    .listContainers({ all: true, filters: { label: [`hail-batch.instance=${instance}`] } })
    .catch(() => []);
  await Promise.all(found.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
}

export function createLocalDriver(config: Config, apiUrl: string = config.api.url): CloudDriver {
  const logDir = path.join(config.dataDir, 'agents');
  return {
    async create(launch: InstanceLaunch) {
      mkdirSync(logDir, { recursive: true });
      const out = openSync(path.join(logDir, `${launch.name}.log`), 'a');
      const child = spawn(process.execPath, ['--import', 'tsx', cliEntry, 'agent'], {
        detached: true,
        stdio: ['ignore', out, out],
        env: childEnv({
          HB_AGENT_NAME: launch.name,
          HB_AGENT_PORT: 0,
          HB_AGENT_POOL: launch.pool,
          HB_AGENT_CORES: launch.cores,
          HB_AGENT_ACTIVATION_TOKEN: launch.activationToken,
          HB_API_URL: apiUrl,
          HB_DATA_DIR: config.dataDir,
          HB_EXECUTOR: config.localPool.executor,
        }),
      });
      closeSync(out);
      child.unref();
      if (!child.pid) throw new Error(`could not start agent ${launch.name}`);
      return { handle: String(child.pid) };
    },

    async delete(name: string, handle: string | null) {
      const pid = Number(handle);
      if (handle && Number.isInteger(pid) && alive(pid)) {
        process.kill(pid, 'SIGTERM');
        for (let i = 0; i < 100 && alive(pid); i++) await sleep(100);
        if (alive(pid)) process.kill(pid, 'SIGKILL');
      }
      // A deleted VM takes its containers with it; so does a deleted local agent, even one
      // that was killed in the middle of creating a container.
      await removeContainersOf(config, name);
    },

    async exists(_name: string, handle: string | null) {
      const pid = Number(handle);
      return !!handle && Number.isInteger(pid) && alive(pid);
    },
  };
}
