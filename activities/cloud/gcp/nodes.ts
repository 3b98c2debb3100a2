/**
 * Cluster node VMs on Compute Engine (NodeMachines for activities/clusters/vm-nodes.ts): the
 * deployment's boot image, network and service account, as for worker VMs; a custom machine
 * type of the node's cores and memory; never spot (a cluster's master is not rescheduled); the
 * startup script and the node secret as metadata items. A cluster's nodes share the zone of
 * its first node, chosen where quota is left.
 */
import type { protos } from '@google-cloud/compute';
import type { CloudConfig } from '../../../config';
import type { NodeMachines, NodeVm, NodeVmRequest } from '../../clusters/vm-nodes';
import { NODE_LABELS } from '../../clusters/vm-nodes';
import { CapacityError, kindOf } from '../retry';
import { createLocationBook } from '../location-book';
import { gcpCompute, gcpRegionOf, readGcpError } from './compute';

type IInstance = protos.google.cloud.compute.v1.IInstance;
type IOperation = protos.google.cloud.compute.v1.IOperation;

/**
 * An N1 custom machine type: 1 or an even number of vCPUs, 0.9-6.5 GiB each in 256 MiB steps;
 * more memory per vCPU is extended memory (`-ext`).
 */
export function gcpNodeMachineType(cores: number, memoryGib: number): string {
  const c = cores === 1 ? 1 : cores + (cores % 2);
  const mib = Math.max(Math.ceil((memoryGib * 1024) / 256) * 256, Math.ceil((0.9 * 1024 * c) / 256) * 256);
  return `custom-${c}-${mib}${mib > 6.5 * 1024 * c ? '-ext' : ''}`;
}

export function createGcpNodeMachines(cloud: CloudConfig, deployment: string): NodeMachines {
  const g = cloud.gcp;
  const { instances, project, retry, waitFor, listZone, deleteIn, readLocations } = gcpCompute(cloud);
  const ours = `labels.${NODE_LABELS.deployment} = "${deployment}"`;

  const book = createLocationBook(readLocations, cloud.locationRefreshMs);

  async function listAll(filter: string): Promise<{ zone: string; inst: IInstance }[]> {
    const found = await Promise.all(g.zones.map(async (zone) => (await listZone(zone, filter)).map((inst) => ({ zone, inst }))));
    return found.flat();
  }
  const nodeFilter = (cluster?: string) => `${ours}${cluster ? ` AND labels.${NODE_LABELS.cluster} = "${cluster}"` : ''}`;

  const vmOf = ({ inst }: { inst: IInstance }): NodeVm => ({
    name: inst.name!,
    labels: (inst.labels ?? {}) as Record<string, string>,
    running: String(inst.status) === 'RUNNING',
    createdMs: Date.parse(inst.creationTimestamp ?? '') || Date.now(),
    address: inst.networkInterfaces?.[0]?.networkIP ?? null,
  });

  return {
    cloud: 'gcp',

    async create(req: NodeVmRequest) {
      if ((await listAll(`name = "${req.name}" AND ${ours}`)).length > 0) return;
      const sibling = (await listAll(nodeFilter(req.cluster)))[0];
      await book.refresh();
      const zone = sibling?.zone ?? book.choose(null, req.cores);
      if (!zone) throw new CapacityError(g.zones[0] ?? 'gcp', 'QUOTA_EXCEEDED', 'no configured zone has quota left for the node');
      const resource: IInstance = {
        name: req.name,
        machineType: `zones/${zone}/machineTypes/${gcpNodeMachineType(req.cores, req.memoryGib)}`,
        labels: req.labels,
        // The tag the deployment's firewall rules name (deploy/terraform/gcp: cluster_node_tag).
        tags: { items: [`${cloud.deployment}-cluster-node`] },
        disks: [{ boot: true, autoDelete: true, type: 'PERSISTENT', initializeParams: { sourceImage: g.bootImage, diskSizeGb: '100', diskType: `zones/${zone}/diskTypes/pd-ssd` } }],
        networkInterfaces: [{ network: `global/networks/${g.network}`, ...(g.subnetwork ? { subnetwork: `regions/${gcpRegionOf(zone)}/subnetworks/${g.subnetwork}` } : {}) }],
        serviceAccounts: [{ email: g.serviceAccount ?? 'default', scopes: ['https://www.googleapis.com/auth/cloud-platform'] }],
        scheduling: { provisioningModel: 'STANDARD', automaticRestart: true, onHostMaintenance: 'MIGRATE' },
        metadata: { items: [{ key: 'startup-script', value: req.startup.script }, ...Object.entries(req.startup.secrets).map(([key, value]) => ({ key, value }))] },
      };
      try {
        const [op] = await retry(() => instances.insert({ project, zone, instanceResource: resource }));
        await waitFor(op.latestResponse as IOperation, zone);
      } catch (err) {
        if (err instanceof CapacityError) book.refused(zone);
        if (kindOf(readGcpError(err)) === 'conflict') return;
        throw err;
      }
    },

    async delete(name) {
      for (const { zone } of await listAll(`name = "${name}" AND ${ours}`)) await deleteIn(zone, name);
    },

    async list(cluster) {
      return (await listAll(nodeFilter(cluster))).map(vmOf).filter((vm) => vm.labels[NODE_LABELS.node]).sort((a, b) => a.name.localeCompare(b.name));
    },

    loginCommand(name, remote) {
      // The zone is found by gcloud; IAP reaches a VM without a public address.
      return ['gcloud', 'compute', 'ssh', name, `--project=${project}`, '--tunnel-through-iap', '--', '-t', ...remote];
    },
  };
}
