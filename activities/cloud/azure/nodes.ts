/**
 * Cluster node VMs on Azure (NodeMachines for activities/clusters/vm-nodes.ts): in the
 * deployment's resource group and subnet, as worker VMs are, with a NIC of their own deleted
 * with the VM; a D-series size (E-series when memory asks for it) of at least the node's cores
 * and memory; always Regular priority; the startup script as cloud-init customData and the node
 * secret as userData. The VM and its NIC carry the cluster tags (never the workers'
 * deployment tag), so a NIC left by a crash between the two is found and deleted too. A
 * cluster's nodes share the location of its first node.
 */
import { randomBytes } from 'node:crypto';
import type { VirtualMachine } from '@azure/arm-compute';
import type { NetworkInterface } from '@azure/arm-network';
import type { CloudConfig } from '../../../config';
import type { NodeMachines, NodeVm, NodeVmRequest } from '../../clusters/vm-nodes';
import { NODE_LABELS } from '../../clusters/vm-nodes';
import { azureUserData } from '../startup';
import { CapacityError, kindOf } from '../retry';
import { azureClients, POLL, readAzureError } from './clients';

const SIZES = [2, 4, 8, 16, 32, 48, 64, 96];

/** The smallest D-series v5 size (4 GiB per vCPU) or E-series v5 (8 GiB) that holds the node. */
export function azureNodeVmSize(cores: number, memoryGib: number): string {
  const fit = (perCore: number) => SIZES.find((c) => c >= cores && c * perCore >= memoryGib);
  const d = fit(4);
  const e = fit(8);
  if (d !== undefined && (e === undefined || d <= e)) return `Standard_D${d}s_v5`;
  if (e !== undefined) return `Standard_E${e}s_v5`;
  throw new Error(`no Azure VM size holds ${cores} cores and ${memoryGib} GiB`);
}

export function createAzureNodeMachines(cloud: CloudConfig, deployment: string): NodeMachines {
  const a = cloud.azure;
  const { compute, network, rg, retry, ignoreMissing, collect } = azureClients(cloud);
  const nicName = (name: string) => `${name}-nic`;
  const ours = (tags: Record<string, string> | undefined) => tags?.[NODE_LABELS.deployment] === deployment;

  async function vms(): Promise<VirtualMachine[]> {
    return (await retry(() => collect(compute.virtualMachines.list(rg)))).filter((v) => ours(v.tags));
  }
  async function nics(): Promise<NetworkInterface[]> {
    return (await retry(() => collect(network.networkInterfaces.list(rg)))).filter((n) => ours(n.tags));
  }

  return {
    cloud: 'azure',

    async create(req: NodeVmRequest) {
      const all = await vms();
      if (all.some((v) => v.name === req.name)) return;
      const sibling = all.find((v) => v.tags?.[NODE_LABELS.cluster] === req.cluster);
      const location = sibling?.location ?? a.locations[0];
      if (!location) throw new Error('HB_AZURE_LOCATIONS names no location');
      const tags = { ...req.labels, 'hail-batch-vm': req.name };
      try {
        const nic = await retry(() =>
          network.networkInterfaces
            .createOrUpdate(rg, nicName(req.name), { location, tags, ipConfigurations: [{ name: 'ipconfig1', subnet: { id: a.subnetId }, privateIPAllocationMethod: 'Dynamic' }] }, POLL)
            .pollUntilDone(),
        );
        const [publisher, offer, sku, version] = a.image.split(':');
        const vm: VirtualMachine = {
          location,
          tags,
          hardwareProfile: { vmSize: azureNodeVmSize(req.cores, req.memoryGib) },
          storageProfile: {
            imageReference: { publisher, offer, sku, version },
            osDisk: { createOption: 'FromImage', deleteOption: 'Delete', diskSizeGB: 100, managedDisk: { storageAccountType: 'Premium_LRS' } },
          },
          osProfile: {
            computerName: req.name,
            adminUsername: 'batch',
            customData: Buffer.from(req.startup.script).toString('base64'),
            ...(a.sshPublicKey
              ? { linuxConfiguration: { disablePasswordAuthentication: true, ssh: { publicKeys: [{ path: '/home/batch/.ssh/authorized_keys', keyData: a.sshPublicKey }] } } }
              : { adminPassword: `${randomBytes(24).toString('base64url')}aA1!` }),
          },
          userData: azureUserData(req.startup.secrets),
          networkProfile: { networkInterfaces: [{ id: nic.id!, primary: true, deleteOption: 'Delete' }] },
          priority: 'Regular',
        };
        await retry(() => compute.virtualMachines.createOrUpdate(rg, req.name, vm, POLL).pollUntilDone());
      } catch (err) {
        const f = readAzureError(err);
        if (kindOf(f) === 'capacity' || kindOf(f) === 'quota') {
          await ignoreMissing(() => retry(() => network.networkInterfaces.delete(rg, nicName(req.name), POLL).pollUntilDone()));
          throw new CapacityError(location, f.code!, f.message);
        }
        throw err;
      }
    },

    async delete(name) {
      await ignoreMissing(() => retry(() => compute.virtualMachines.delete(rg, name, POLL).pollUntilDone()));
      await ignoreMissing(() => retry(() => network.networkInterfaces.delete(rg, nicName(name), POLL).pollUntilDone()));
    },

    async list(cluster) {
      const [vmList, nicList] = await Promise.all([vms(), nics()]);
      const address = new Map(nicList.map((n) => [n.name, n.ipConfigurations?.[0]?.privateIPAddress ?? null]));
      const out = new Map<string, NodeVm>();
      for (const v of vmList) {
        out.set(v.name!, {
          name: v.name!,
          labels: v.tags ?? {},
          running: v.provisioningState === 'Succeeded',
          createdMs: v.timeCreated ? new Date(v.timeCreated).getTime() : Date.now(),
          address: address.get(nicName(v.name!)) ?? null,
        });
      }
      // A NIC whose VM is not there is a node half made: listed, so a reconcile removes it.
      for (const n of nicList) {
        const vmName = n.tags?.['hail-batch-vm'];
        if (vmName && !out.has(vmName)) out.set(vmName, { name: vmName, labels: n.tags ?? {}, running: false, createdMs: Date.now(), address: null });
      }
      return [...out.values()].filter((vm) => vm.labels[NODE_LABELS.node] && (!cluster || vm.labels[NODE_LABELS.cluster] === cluster)).sort((x, y) => x.name.localeCompare(y.name));
    },

    loginCommand(name, remote) {
      return ['az', 'ssh', 'vm', '--resource-group', rg, '--name', name, '--', '-t', ...remote];
    },
  };
}
