/**
 * The worker VM's startup script, the one thing every cloud VM is told at creation, rendered
 * per cloud for the cloud drivers (activities/cloud/gcp, activities/cloud/azure) from the
 * StartupData the autoscaler hands them. Pure: strings in, strings out. The clouds' emulators
 * under test boot their VMs with this very script.
 *
 * What the script does on a fresh VM: installs Docker unless the image already has it (the
 * Packer image in deploy/worker-vm/ does), reads the one-time activation token and the API
 * URL from the cloud's instance metadata (GCP metadata attributes; Azure IMDS userData), pulls
 * the worker image, runs the agent in it until the agent exits, then powers the VM off, so a
 * VM whose agent is gone stops billing even if the driver never deletes it.
 *
 * The token is never in the script: the script is readable by anything that can read the
 * instance's startup config for the VM's whole life (and is logged by some guest agents),
 * while the token is worthless after its first use. The driver puts `secrets` in the
 * instance's metadata: on GCP each entry is a metadata item (beside `startup-script`); on
 * Azure they are the VM's `userData`, base64 of `key=value` lines (`azureUserData`), and the
 * script is the VM's `customData` (cloud-init).
 *
 * A handful of HB_STARTUP_* variables, unset on a real VM, let the same script run under test
 * against a metadata server on localhost and a local agent command, without powering off.
 */
import type { StartupData } from './driver';
import { isImageReference } from '../../domain/image-ref';

export type StartupScriptData = StartupData & {
  /** The VM's name, which is also the agent's name (HB_AGENT_NAME). */
  name: string;
  pool: string;
  cores: number;
  /** The worker image: this repository's deploy/Dockerfile, pushed to the deployment's registry. */
  workerImage: string;
  /** Non-secret settings passed to the agent as they are, e.g. HB_REGION, HB_OBJECT_STORE and HB_GCS_BUCKET. */
  agentEnv?: Record<string, string>;
  agentPort?: number;
};

export type RenderedStartup = {
  /** GCP: the `startup-script` metadata item. Azure: the VM's customData (before base64). */
  script: string;
  /** What the script reads from the instance metadata. */
  secrets: Record<string, string>;
};

const NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const POOL = /^\w[\w-]{0,62}$/;
const ENV_KEY = /^HB_[A-Z0-9_]{1,60}$/;
// Keys the script sets itself; the caller must not override them.
const RESERVED = new Set(['HB_AGENT_NAME', 'HB_AGENT_ACTIVATION_TOKEN', 'HB_API_URL', 'HB_AGENT_HOST', 'HB_AGENT_PORT', 'HB_AGENT_POOL', 'HB_AGENT_CORES', 'HB_DATA_DIR']);

/** Single-quotes a value for sh: nothing inside is expanded. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export function renderStartupScript(cloud: 'gcp' | 'azure', data: StartupScriptData): RenderedStartup {
  check(data);
  const secrets = { activation_token: data.activationToken, api_url: data.apiUrl };
  // One array that both ways of running the agent read, so the test path gets what a VM gets.
  const agentEnv = Object.entries(data.agentEnv ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `  ${shellQuote(`${k}=${v}`)}\n`)
    .join('');
  const script = `#!/bin/bash
# Hail Batch worker VM (${cloud}): install Docker, read the activation token from the instance
# metadata, run the agent in the worker image, power off when it exits.
set -euo pipefail

NAME=${shellQuote(data.name)}
POOL=${shellQuote(data.pool)}
CORES=${data.cores}
AGENT_PORT="\${HB_STARTUP_AGENT_PORT:-${data.agentPort ?? 5000}}"
WORKER_IMAGE=${shellQuote(data.workerImage)}
DATA_DIR=/var/lib/hail-batch
AGENT_ENV=(
${agentEnv})
${metadataFunctions(cloud)}
log() { echo "hail-batch-startup: $*" >&2; }

power_off() {
  log "agent exited; powering off"
  if [ -n "\${HB_STARTUP_POWEROFF_FILE:-}" ]; then date -u +%FT%TZ > "$HB_STARTUP_POWEROFF_FILE"; else shutdown -h now; fi
}

${INSTALL_DOCKER}

# From here on, whatever happens, the VM does not outlive its agent.
trap power_off EXIT

TOKEN="$(secret activation_token)"
API_URL="$(secret api_url)"
HOST_IP="$(private_ip)"
[ -n "$TOKEN" ] && [ -n "$API_URL" ] || { log "no activation token or API URL in the instance metadata"; exit 1; }

if [ -n "\${HB_STARTUP_AGENT_COMMAND:-}" ]; then
  # Under test: the agent as a local process, with the same settings.
  mkdir -p "\${HB_STARTUP_DATA_DIR:-$DATA_DIR}"
  env "\${AGENT_ENV[@]}" HB_AGENT_NAME="$NAME" HB_AGENT_ACTIVATION_TOKEN="$TOKEN" HB_API_URL="$API_URL" HB_AGENT_HOST="$HOST_IP" \\
    HB_AGENT_PORT="$AGENT_PORT" HB_AGENT_POOL="$POOL" HB_AGENT_CORES="$CORES" HB_DATA_DIR="\${HB_STARTUP_DATA_DIR:-$DATA_DIR}" \\
    $HB_STARTUP_AGENT_COMMAND || log "agent exited with $?"
  exit 0
fi

install_docker
mkdir -p "$DATA_DIR"
env_args=()
for kv in "\${AGENT_ENV[@]}"; do env_args+=(-e "$kv"); done
log "pulling $WORKER_IMAGE"
for i in 1 2 3 4 5; do docker pull "$WORKER_IMAGE" && break; sleep $((i * 5)); done
docker rm -f hail-batch-agent >/dev/null 2>&1 || true
# The agent drives the host's Docker engine and mounts scratch volumes, so it runs privileged,
# with the host's network and its data directory at the same path inside and out.
docker run --name hail-batch-agent --network host --privileged \\
  -v /var/run/docker.sock:/var/run/docker.sock -v "$DATA_DIR:$DATA_DIR" \\
  -e HB_AGENT_NAME="$NAME" -e HB_AGENT_ACTIVATION_TOKEN="$TOKEN" -e HB_API_URL="$API_URL" \\
  -e HB_AGENT_HOST="$HOST_IP" -e HB_AGENT_PORT="$AGENT_PORT" -e HB_AGENT_POOL="$POOL" \\
  -e HB_AGENT_CORES="$CORES" -e HB_DATA_DIR="$DATA_DIR" "\${env_args[@]}" \\
  "$WORKER_IMAGE" agent || log "agent exited with $?"
`;
  return { script: cloud === 'gcp' ? script : azureCloudConfig(script), secrets };
}

/** The bash function both startup scripts (worker and cluster node VMs) install Docker with. */
export const INSTALL_DOCKER = `install_docker() {
  if command -v docker >/dev/null 2>&1; then return 0; fi
  log "installing Docker"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q docker.io
  systemctl enable --now docker
}`;

/** Azure's userData: base64 of `key=value` lines, which IMDS hands back as it was given. */
export function azureUserData(secrets: Record<string, string>): string {
  return Buffer.from(Object.entries(secrets).map(([k, v]) => `${k}=${v}\n`).join('')).toString('base64');
}

export function metadataFunctions(cloud: 'gcp' | 'azure'): string {
  if (cloud === 'gcp') {
    return `METADATA="\${HB_STARTUP_METADATA_URL:-http://metadata.google.internal}/computeMetadata/v1/instance"
md() { curl -fsS --retry 20 --retry-connrefused --retry-delay 1 -H 'Metadata-Flavor: Google' "$METADATA/$1"; }
secret() { md "attributes/$1"; }
private_ip() { md network-interfaces/0/ip; }
`;
  }
  return `METADATA="\${HB_STARTUP_METADATA_URL:-http://169.254.169.254}/metadata/instance"
md() { curl -fsS --retry 20 --retry-connrefused --retry-delay 1 -H 'Metadata: true' "$METADATA/$1"; }
secret() { md 'compute/userData?api-version=2021-01-01&format=text' | base64 -d | sed -n "s/^$1=//p" | head -n 1; }
private_ip() { md 'network/interface/0/ipv4/ipAddress/0/privateIpAddress?api-version=2021-02-01&format=text'; }
`;
}

/** cloud-init: the script written to disk, then run once; base64 so nothing in it needs YAML quoting. */
export function azureCloudConfig(script: string): string {
  return `#cloud-config
write_files:
  - path: /opt/hail-batch/startup.sh
    permissions: '0700'
    encoding: b64
    content: ${Buffer.from(script).toString('base64')}
runcmd:
  - [ /bin/bash, /opt/hail-batch/startup.sh ]
`;
}

function check(d: StartupScriptData): void {
  const bad = (field: string, why: string): never => {
    throw new Error(`startup script: ${field} ${why}`);
  };
  if (!NAME.test(d.name)) bad('name', 'must be a lower-case VM name');
  if (!POOL.test(d.pool)) bad('pool', 'must be a pool name');
  if (!Number.isInteger(d.cores) || d.cores < 1 || d.cores > 416) bad('cores', 'must be a whole number of cores');
  if (d.agentPort !== undefined && (!Number.isInteger(d.agentPort) || d.agentPort < 1 || d.agentPort > 65535)) bad('agentPort', 'must be a port');
  if (!isImageReference(d.workerImage)) bad('workerImage', 'must be a Docker image reference');
  // The secrets go through `key=value` lines and a shell variable: one printable line each.
  if (!/^[\x21-\x7e]{1,4096}$/.test(d.activationToken)) bad('activationToken', 'must be printable ASCII without spaces');
  if (!/^https?:\/\/[\x21-\x7e]+$/.test(d.apiUrl)) bad('apiUrl', 'must be an http(s) URL');
  for (const [k, v] of Object.entries(d.agentEnv ?? {})) {
    if (!ENV_KEY.test(k) || RESERVED.has(k)) bad(`agentEnv.${k}`, 'is not a setting the caller may pass');
    if (/[\0\n\r]/.test(v)) bad(`agentEnv.${k}`, 'must be one line');
  }
}
