/**
 * Cluster nodes as cloud VMs (GCP, Azure): the ClusterNodeDriver over a small per-cloud port,
 * NodeMachines, which the cloud drivers implement with the same SDKs as their worker VMs.
 *
 * A node is the VM `hbc-<deployment>-<node>`, labelled (GCE labels, Azure tags) with the
 * deployment, cluster, node and shape, so every node is found again from the cloud alone. Its
 * startup script (node-startup.ts) runs the node image with the host's network; nodes find each
 * other by VM name through the cloud's internal DNS, so the Spark master is
 * `spark://hbc-<deployment>-<cluster>-master:7077`. The shared `${HAIL_HOME}/tmp` is NFS from
 * the master, so there is no shared resource to make or remove. The service reaches a node at
 * its internal address: commands through the node's exec door (port 8099), Jupyter on the
 * master's port 8888, both behind the cluster's node secret.
 */
import { createHash } from 'node:crypto';
import { masterName } from '../../domain/clusters/spec';
import type { RenderedStartup } from '../cloud/startup';
import type { ClusterNodeDriver, ExecResult, LiveNode } from './node-driver';
import { shapeKeyOf } from './node-driver';
import { EXEC_PORT, JUPYTER_PORT, renderNodeStartup } from './node-startup';

export const NODE_LABELS = {
  /** Not the worker VMs' `hail-batch-deployment`: the autoscaler's orphan sweep must never see a node. */
  deployment: 'hail-batch-cluster-deployment',
  cluster: 'hail-batch-cluster',
  node: 'hail-batch-cluster-node',
  /** The shape key, hashed: label values are short and of a narrow alphabet. */
  shape: 'hail-batch-cluster-shape',
} as const;

/** What the driver asks a cloud for: one VM of a node's shape running `startup`. */
export type NodeVmRequest = {
  name: string;
  cluster: string;
  labels: Record<string, string>;
  cores: number;
  memoryGib: number;
  startup: RenderedStartup;
};

/** A node VM as the cloud lists it. */
export type NodeVm = {
  name: string;
  labels: Record<string, string>;
  running: boolean;
  createdMs: number;
  /** The VM's internal address, once it has one. */
  address: string | null;
};

export interface NodeMachines {
  readonly cloud: 'gcp' | 'azure';
  /** Creates the VM; nothing when one of that name exists. Nodes of a cluster share a location. */
  create(req: NodeVmRequest): Promise<void>;
  /** Deletes the VM and what was made for it; succeeds when it is already gone. */
  delete(name: string): Promise<void>;
  /** Every node VM of the deployment (of one cluster when given), from the cloud. */
  list(cluster?: string): Promise<NodeVm[]>;
  /** The operator's interactive login to the VM, ending in the command to run there. */
  loginCommand(name: string, remote: string[]): string[];
}

export type VmNodesConfig = {
  deployment: string;
  machines: NodeMachines;
  /** The cluster's node secret (its Jupyter token), from the database. */
  secretOf(cluster: string): Promise<string>;
  /** Where VMs pull node images from; the local tag is appended (null: VMs have the tag). */
  imageRegistry: string | null;
};

/** A short, label-safe digest of a shape key. */
export function shapeLabel(shapeKey: string): string {
  return `s${createHash('sha256').update(shapeKey).digest('hex').slice(0, 8)}`;
}

export function createVmNodeDriver(cfg: VmNodesConfig): ClusterNodeDriver {
  const m = cfg.machines;
  const vmName = (node: string) => {
    const name = `hbc-${cfg.deployment}-${node}`;
    if (name.length > 63) throw new Error(`node VM name ${name} is longer than 63 characters: use a shorter cluster name or deployment`);
    return name;
  };
  const nodeOf = (vm: NodeVm): LiveNode => ({
    cluster: vm.labels[NODE_LABELS.cluster] ?? '',
    node: vm.labels[NODE_LABELS.node] ?? '',
    shapeKey: vm.labels[NODE_LABELS.shape] ?? '',
    running: vm.running,
    createdMs: vm.createdMs,
    handle: vm.name,
  });
  async function find(cluster: string, node: string): Promise<NodeVm | null> {
    return (await m.list(cluster)).find((vm) => vm.labels[NODE_LABELS.node] === node) ?? null;
  }
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  /** Waits for the VM to be running with an address (GCE and ARM report both by then). */
  async function addressOf(cluster: string, node: string, timeoutMs = 120_000): Promise<NodeVm> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const vm = await find(cluster, node);
      if (vm?.running && vm.address) return vm;
      if (Date.now() > deadline) throw new Error(`node ${node} has no address after ${timeoutMs} ms`);
      await sleep(1000);
    }
  }
  const jupyterAt = (vm: NodeVm) => `http://${vm.address}:${JUPYTER_PORT}`;

  const driver: ClusterNodeDriver = {
    sparkMasterUrl: (cluster) => `spark://${vmName(masterName(cluster))}:7077`,

    async ensureShared() {
      // The deployment's network and firewall are made with it (deploy/terraform); the shared
      // tmp is the master's NFS export.
    },

    async removeShared() {},

    async createNode(l) {
      const shape = shapeLabel(shapeKeyOf(l.node, l.imageRef));
      const existing = await find(l.cluster, l.node.name);
      if (existing?.labels[NODE_LABELS.shape] !== shape) {
        // A node whose shape changed is made again (its shape is fixed at creation).
        if (existing) await m.delete(existing.name);
        const name = vmName(l.node.name);
        await m.create({
          name,
          cluster: l.cluster,
          labels: { [NODE_LABELS.deployment]: cfg.deployment, [NODE_LABELS.cluster]: l.cluster, [NODE_LABELS.node]: l.node.name, [NODE_LABELS.shape]: shape },
          cores: l.node.cores,
          memoryGib: l.node.memory_gib,
          startup: renderNodeStartup(m.cloud, {
            vmName: name,
            cluster: l.cluster,
            node: l.node,
            imageRef: cfg.imageRegistry ? `${cfg.imageRegistry}/${l.imageRef}` : l.imageRef,
            sparkMaster: driver.sparkMasterUrl(l.cluster),
            jupyterBaseUrl: l.jupyterBaseUrl,
            secret: l.jupyterToken,
          }),
        });
      }
      const vm = await addressOf(l.cluster, l.node.name);
      return { handle: vm.name, createdMs: vm.createdMs, jupyterUrl: l.node.role === 'master' ? jupyterAt(vm) : null };
    },

    async removeNode(cluster, node) {
      const vm = await find(cluster, node);
      if (vm) await m.delete(vm.name);
    },

    async listNodes(cluster) {
      return (await m.list(cluster)).map(nodeOf).filter((n) => n.node !== '');
    },

    async exec(cluster, node, script, opts = {}): Promise<ExecResult> {
      const vm = await find(cluster, node);
      if (!vm?.address) throw new Error(`node ${node} of cluster ${cluster} not found`);
      const timeoutMs = opts.timeoutMs ?? 120_000;
      const res = await fetch(`http://${vm.address}:${EXEC_PORT}/exec`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await cfg.secretOf(cluster)}`, 'content-type': 'application/json' },
        body: JSON.stringify({ script, timeout_s: Math.max(1, Math.ceil(timeoutMs / 1000)) }),
        signal: AbortSignal.timeout(timeoutMs + 5000),
      });
      const body = (await res.json().catch(() => ({}))) as { exit_code?: number; stdout?: string; stderr?: string; error?: string };
      if (!res.ok) throw new Error(`command on ${node}: HTTP ${res.status} ${body.error ?? ''}`.trim());
      return { exitCode: body.exit_code ?? -1, stdout: body.stdout ?? '', stderr: body.stderr ?? '' };
    },

    loginCommand(_cluster, node) {
      return m.loginCommand(vmName(node), ['sudo', 'docker', 'exec', '-it', vmName(node), 'runuser', '-u', 'hail', '--', 'bash', '-l']);
    },

    async jupyterUrl(cluster, node) {
      const vm = await find(cluster, node);
      return vm?.running && vm.address ? jupyterAt(vm) : null;
    },
  };
  return driver;
}
