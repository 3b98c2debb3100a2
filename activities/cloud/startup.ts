/**
 * What a cloud VM is told at creation, the same for every cloud: the agent's settings as
 * environment variables, carried in a startup script (GCE metadata `startup-script`, Azure
 * `customData`) whose first lines export them. The script is what the VM runs at boot; the
 * exported lines are also the one part an emulator reads to start the VM's agent, so what an
 * emulated VM runs is exactly what a real one would be given.
 */
import type { InstanceConfig, StartupData } from './driver';

/** The agent's environment on the VM. Names match config/index.ts. */
export function agentEnv(inst: InstanceConfig, startup: StartupData): Record<string, string> {
  return {
    HB_AGENT_NAME: inst.name,
    HB_AGENT_POOL: inst.pool,
    HB_AGENT_CORES: String(inst.cores),
    HB_AGENT_ACTIVATION_TOKEN: startup.activationToken,
    HB_API_URL: startup.apiUrl,
    HB_REGION: inst.location,
  };
}

const ENV_NAME = /^HB_[A-Z0-9_]+$/;
/** Values are single-quoted for the shell; these characters never need anything else. */
const SAFE_VALUE = /^[A-Za-z0-9_.:/@+=,-]*$/;

/** The VM's boot script: exports the agent's settings, then runs the worker's boot steps. */
export function renderStartupScript(env: Record<string, string>, bootSteps = DEFAULT_BOOT_STEPS): string {
  const lines = ['#!/bin/bash', 'set -euo pipefail'];
  for (const [k, v] of Object.entries(env)) {
    if (!ENV_NAME.test(k) || !SAFE_VALUE.test(v)) throw new Error(`startup value ${k} has characters a boot script cannot carry`);
    lines.push(`export ${k}='${v}'`);
  }
  return [...lines, bootSteps].join('\n') + '\n';
}

/** The settings a startup script exports (what the emulators read to start the agent). */
export function parseStartupScript(script: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of script.split('\n')) {
    const m = /^export (HB_[A-Z0-9_]+)='([^']*)'$/.exec(line);
    if (m) env[m[1]!] = m[2]!;
  }
  return env;
}

/**
 * The worker's boot steps after the exports: run the agent image with the exported settings
 * and power off when it exits (a VM without its agent is only a cost).
 */
export const DEFAULT_BOOT_STEPS = [
  'env_args=(); for v in $(compgen -e | grep "^HB_"); do env_args+=(-e "$v"); done',
  'docker run --rm --network host -v /var/run/docker.sock:/var/run/docker.sock "${env_args[@]}" "${HB_WORKER_IMAGE:-hail-batch-worker:latest}" agent || true',
  'shutdown -h now',
].join('\n');
