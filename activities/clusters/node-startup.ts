/**
 * The startup script of a cluster node VM on GCP or Azure (the counterpart of the local
 * cloud's `docker run` in local-nodes.ts). Pure: strings in, strings out.
 *
 * On the VM: Docker (installed unless the boot image has it), then the shared
 * `${HAIL_HOME}/tmp`: the master exports a directory over NFS, each worker mounts the master's
 * export (retrying until the master serves it); then the node image runs with the host's
 * network, restarted by Docker if it dies, with the node secret as Jupyter's token and the exec
 * door's. The secret is read from the instance metadata (GCP metadata item, Azure userData),
 * never written into the script, which the cloud keeps readable for the VM's whole life.
 *
 * Under the clouds' emulators many VMs share one host, so two HB_STARTUP_* settings, unset on
 * a real VM, put the node on a Docker network at the address the cloud gave the VM
 * (HB_STARTUP_DOCKER_NETWORK, HB_STARTUP_NODE_IP) with a Docker volume for the shared tmp in
 * place of NFS.
 */
import type { PlannedNode } from '../../domain/clusters/spec';
import { isImageReference } from '../../domain/image-ref';
import { azureCloudConfig, INSTALL_DOCKER, metadataFunctions, shellQuote, type RenderedStartup } from '../cloud/startup';

export const NODE_SECRET_KEY = 'node_secret';
export const EXEC_PORT = 8099;
export const JUPYTER_PORT = 8888;
const NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

export type NodeStartupData = {
  /** The VM's name, which is its host name on the cloud's network. */
  vmName: string;
  cluster: string;
  node: PlannedNode;
  /** The node image as the VM pulls it (a registry reference). */
  imageRef: string;
  sparkMaster: string;
  jupyterBaseUrl: string;
  /** Jupyter's token and the exec door's; only the service knows it. */
  secret: string;
};

export function renderNodeStartup(cloud: 'gcp' | 'azure', d: NodeStartupData): RenderedStartup {
  if (!NAME.test(d.vmName) || !NAME.test(d.cluster)) throw new Error('node startup: cluster and node must be lower-case VM names');
  if (!isImageReference(d.imageRef)) throw new Error('node startup: imageRef must be a Docker image reference');
  if (!/^spark:\/\/[a-z0-9.-]+:\d+$/.test(d.sparkMaster)) throw new Error('node startup: sparkMaster must be spark://host:port');
  if (!/^\/[\w/-]*\/$/.test(d.jupyterBaseUrl)) throw new Error('node startup: jupyterBaseUrl must be a path ending in /');
  if (!/^[\x21-\x7e]{16,512}$/.test(d.secret)) throw new Error('node startup: secret must be printable ASCII');
  const memMiB = d.node.memory_gib * 1024;
  // As on the local cloud: Spark gets what the node has, less room for its own daemons.
  const workerMiB = Math.max(512, memMiB - 512);
  const script = `#!/bin/bash
# Hail cluster node VM (${cloud}): ${d.node.role} of cluster ${d.cluster}.
set -euo pipefail

NAME=${shellQuote(d.vmName)}
CLUSTER=${shellQuote(d.cluster)}
ROLE=${shellQuote(d.node.role)}
IMAGE=${shellQuote(d.imageRef)}
SPARK_MASTER=${shellQuote(d.sparkMaster)}
MASTER_HOST=${shellQuote(new URL(d.sparkMaster.replace(/^spark:/, 'http:')).hostname)}
EXPORT=/srv/hail-tmp
${metadataFunctions(cloud)}
log() { echo "hail-cluster-startup: $*" >&2; }

${INSTALL_DOCKER}

nfs_shared_tmp() {
  export DEBIAN_FRONTEND=noninteractive
  if [ "$ROLE" = master ]; then
    command -v exportfs >/dev/null 2>&1 || { apt-get update -q; apt-get install -y -q nfs-kernel-server; }
    mkdir -p "$EXPORT" /etc/exports.d
    chmod 1777 "$EXPORT"
    echo "$EXPORT *(rw,sync,no_subtree_check,no_root_squash)" > /etc/exports.d/hail-cluster.exports
    exportfs -ra
    systemctl enable --now nfs-server >/dev/null 2>&1 || true
    SHARED=(-v "$EXPORT:/hail/tmp")
  else
    command -v mount.nfs >/dev/null 2>&1 || { apt-get update -q; apt-get install -y -q nfs-common; }
    mkdir -p /mnt/hail-tmp
    until mountpoint -q /mnt/hail-tmp || mount -t nfs -o hard,vers=4 "$MASTER_HOST:$EXPORT" /mnt/hail-tmp; do
      log "waiting for $MASTER_HOST to export $EXPORT"; sleep 5
    done
    SHARED=(-v /mnt/hail-tmp:/hail/tmp)
  fi
}

SECRET="$(secret ${NODE_SECRET_KEY})"
[ -n "$SECRET" ] || { log "no node secret in the instance metadata"; exit 1; }
install_docker

if [ -n "\${HB_STARTUP_DOCKER_NETWORK:-}" ]; then
  # Under an emulator: one host, many VMs.
  NET=(--network "$HB_STARTUP_DOCKER_NETWORK" --ip "$HB_STARTUP_NODE_IP" --hostname "$NAME" --network-alias "$NAME")
  SHARED=(-v "$HB_STARTUP_DOCKER_NETWORK-$CLUSTER-tmp:/hail/tmp")
else
  NET=(--network host)
  nfs_shared_tmp
fi

docker image inspect "$IMAGE" >/dev/null 2>&1 || for i in 1 2 3 4 5; do docker pull "$IMAGE" && break; sleep $((i * 5)); done
# Named after the VM: unique on a VM, and on an emulator's one host too.
docker rm -f "$NAME" >/dev/null 2>&1 || true
log "starting the $ROLE"
docker run -d --name "$NAME" --restart unless-stopped --label "hail-batch.instance=$NAME" "\${NET[@]}" "\${SHARED[@]}" \\
  -e HB_NODE_ROLE="$ROLE" -e HB_SPARK_MASTER="$SPARK_MASTER" \\
  -e HB_WORKER_CORES=${d.node.cores} -e HB_WORKER_MEMORY=${workerMiB}m \\
  -e HB_JUPYTER_TOKEN="$SECRET" -e HB_EXEC_TOKEN="$SECRET" -e HB_EXEC_PORT=${EXEC_PORT} \\
  -e HB_JUPYTER_BASE_URL=${shellQuote(d.jupyterBaseUrl)} -e HAIL_HOME=/hail \\
  "$IMAGE" >/dev/null
log "started"
`;
  return { script: cloud === 'gcp' ? script : azureCloudConfig(script), secrets: { [NODE_SECRET_KEY]: d.secret } };
}
