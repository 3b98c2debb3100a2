/**
 * What an emulated VM runs: a real agent process, started the way the local driver starts one
 * (detached, its own log), with the settings the VM's startup script exports. An emulator's
 * VMs are found again in the process table by HB_DATA_DIR, as the local driver finds its own.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { childEnv } from '../../../config';
import { processAlive } from '../../../activities/cloud/pids';

const cliEntry = fileURLToPath(new URL('../../../cli/main.ts', import.meta.url));

export type VmAgentOptions = {
  /** The agents' data directory (the service's, so logs land where the API reads them). */
  dataDir: string;
  executor: 'docker' | 'process';
};

/** Boots the VM: starts its agent with the exported settings. Returns the agent's pid. */
export function bootAgent(opts: VmAgentOptions, env: Record<string, string>): number {
  const logDir = path.join(opts.dataDir, 'agents');
  mkdirSync(logDir, { recursive: true });
  const out = openSync(path.join(logDir, `${env.HB_AGENT_NAME ?? 'vm'}.log`), 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', cliEntry, 'agent'], {
    detached: true,
    stdio: ['ignore', out, out],
    // The VM's own settings win over anything the emulator's environment carries.
    env: childEnv({ HB_CLOUD: 'local', HB_AGENT_PORT: 0, ...env, HB_DATA_DIR: opts.dataDir, HB_EXECUTOR: opts.executor }),
  });
  closeSync(out);
  child.unref();
  if (!child.pid) throw new Error('could not start the VM agent');
  return child.pid;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Gone meanwhile.
  }
}

/**
 * The VM stops. Deleted: the agent gets SIGTERM (a VM's ACPI shutdown) and `graceMs` to
 * finish; reclaimed: SIGKILL at once. Its containers go with it, as with a real VM.
 */
export async function haltAgent(opts: VmAgentOptions, name: string, pid: number | null, graceMs: number): Promise<void> {
  if (pid !== null && processAlive(pid)) {
    signal(pid, graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
    const deadline = Date.now() + graceMs;
    while (processAlive(pid) && Date.now() < deadline) await sleep(50);
    if (processAlive(pid)) signal(pid, 'SIGKILL');
  }
  if (opts.executor !== 'docker') return;
  const docker = new Docker();
  const found = await docker.listContainers({ all: true, filters: { label: [`hail-batch.instance=${name}`] } }).catch(() => []);
  await Promise.all(found.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
}
