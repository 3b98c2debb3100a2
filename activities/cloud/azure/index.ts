/**
 * The Azure driver (@azure/arm-compute, @azure/arm-network). Each worker VM lives in the
 * deployment's resource group with a NIC (and optionally a public IP) of its own name; the OS
 * disk, NIC and IP are marked deleteOption Delete so deleting the VM deletes them. Every resource
 * carries the deployment tag, so list() finds them from the cloud alone, a NIC left by a crash
 * between its creation and the VM's included. Spot VMs are priority Spot with eviction policy
 * Delete. Credentials are DefaultAzureCredential, or a fixed token for an emulator endpoint.
 */
import { randomBytes } from 'node:crypto';
import type { VirtualMachine } from '@azure/arm-compute';
import type { CloudConfig } from '../../../config';
import type { CloudDriver, InstanceConfig, Machine, MachineState } from '../driver';
import { azureUserData, renderStartupScript } from '../startup';
import { CapacityError, kindOf, withRetry } from '../retry';
import { azureClients, POLL, readAzureError } from './clients';
import { createLocationBook } from '../location-book';
import type { Location } from '../../../domain/locations';
import { azureRegionPrices, type AzureRetailItem } from '../../../domain/cloud-prices';

export const DEPLOYMENT_TAG = 'hail-batch-deployment';
export { readAzureError };
/** The VM size of a shape: the job's own, or D (standard), E (highmem), F (highcpu) series. */
export function azureVmSize(inst: Pick<InstanceConfig, 'machineType' | 'workerType' | 'cores'>): string {
  if (inst.machineType && inst.machineType.startsWith('Standard_')) return inst.machineType;
  const family = { standard: 'D', highmem: 'E', highcpu: 'F' }[inst.workerType as 'standard' | 'highmem' | 'highcpu'] ?? 'D';
  return family === 'F' ? `Standard_F${inst.cores}s_v2` : `Standard_${family}${inst.cores}s_v5`;
}

const stateOf = (p: string | undefined): Exclude<MachineState, 'gone'> =>
  p === 'Succeeded' ? 'running' : p === 'Creating' || p === 'Updating' ? 'provisioning' : 'stopping';

/**
 * Azure's retail prices API (public, no credentials) for one VM size, every page of it. Only
 * pages on the API's own origin are followed, whatever NextPageLink says.
 */
async function retailPrices(endpoint: string, vmSize: string): Promise<AzureRetailItem[]> {
  const origin = new URL(endpoint).origin;
  const filter = `serviceName eq 'Virtual Machines' and armSkuName eq '${vmSize}' and priceType eq 'Consumption'`;
  let next: string | null = `${origin}/api/retail/prices?currencyCode='USD'&$filter=${encodeURIComponent(filter)}`;
  const items: AzureRetailItem[] = [];
  for (let page = 0; next !== null && page < 100; page++) {
    const url: string = next;
    const body = await withRetry(async () => {
      const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
      if (!res.ok) throw Object.assign(new Error(`retail prices: HTTP ${res.status}`), { statusCode: res.status });
      return (await res.json()) as { Items?: AzureRetailItem[]; NextPageLink?: string | null };
    }, readAzureError);
    items.push(...(body.Items ?? []));
    next = body.NextPageLink && new URL(body.NextPageLink).origin === origin ? body.NextPageLink : null;
  }
  return items;
}

export function createAzureDriver(cloud: CloudConfig): CloudDriver {
  const a = cloud.azure;
  const { compute, network, rg, retry, ignoreMissing, collect } = azureClients(cloud);
  const nicName = (name: string) => `${name}-nic`;
  const ipName = (name: string) => `${name}-ip`;
  const ours = (tags: Record<string, string> | undefined) => tags?.[DEPLOYMENT_TAG] === cloud.deployment;
  async function getVm(name: string): Promise<VirtualMachine | null> {
    try {
      const vm = await retry(() => compute.virtualMachines.get(rg, name));
      return ours(vm.tags) ? vm : null;
    } catch (err) {
      if (kindOf(readAzureError(err)) === 'not-found') return null;
      throw err;
    }
  }

  async function readLocations(): Promise<Location[]> {
    return Promise.all(
      a.locations.map(async (location) => {
        const usages = await retry(() => collect(compute.usage.list(location)));
        const cores = usages.find((u) => u.name.value === 'cores');
        return { name: location, region: location, coresLeft: cores ? cores.limit - cores.currentValue : 0, pricePerCoreHour: 0 };
      }),
    );
  }
  const book = createLocationBook(readLocations, cloud.locationRefreshMs);

  async function removeAll(name: string): Promise<void> {
    await ignoreMissing(() => retry(() => compute.virtualMachines.delete(rg, name, POLL).pollUntilDone()));
    // Normally gone with the VM (deleteOption); left when a crash came between NIC and VM.
    await ignoreMissing(() => retry(() => network.networkInterfaces.delete(rg, nicName(name), POLL).pollUntilDone()));
    await ignoreMissing(() => retry(() => network.publicIPAddresses.delete(rg, ipName(name), POLL).pollUntilDone()));
  }

  return {
    async create(inst, startup) {
      if (await getVm(inst.name)) return { handle: inst.name };
      await book.refresh();
      const location = a.locations.includes(inst.location) ? inst.location : book.choose(null, inst.cores);
      if (!location) throw new CapacityError(inst.location, 'QuotaExceeded', 'no configured location has quota left');
      const tags = { [DEPLOYMENT_TAG]: cloud.deployment, 'hail-batch-pool': inst.pool, 'hail-batch-vm': inst.name };
      try {
        let publicIp: { id: string; properties: { deleteOption: 'Delete' } } | undefined;
        if (a.publicIp) {
          const ip = await retry(() =>
            network.publicIPAddresses.createOrUpdate(rg, ipName(inst.name), { location, tags, sku: { name: 'Standard' }, publicIPAllocationMethod: 'Static' }, POLL).pollUntilDone(),
          );
          publicIp = { id: ip.id!, properties: { deleteOption: 'Delete' } };
        }
        const nic = await retry(() =>
          network.networkInterfaces
            .createOrUpdate(
              rg,
              nicName(inst.name),
              {
                location,
                tags,
                ipConfigurations: [{ name: 'ipconfig1', subnet: { id: a.subnetId }, privateIPAllocationMethod: 'Dynamic', ...(publicIp ? { publicIPAddress: { id: publicIp.id, deleteOption: 'Delete' } } : {}) }],
              },
              POLL,
            )
            .pollUntilDone(),
        );
        const [publisher, offer, sku, version] = a.image.split(':');
        const boot = renderStartupScript('azure', {
          ...startup,
          name: inst.name,
          pool: inst.pool,
          cores: inst.cores,
          workerImage: cloud.workerImage,
          agentEnv: { ...cloud.agentEnv, HB_REGION: location },
        });
        const vm: VirtualMachine = {
          location,
          tags,
          hardwareProfile: { vmSize: azureVmSize(inst) },
          storageProfile: {
            imageReference: { publisher, offer, sku, version },
            osDisk: { createOption: 'FromImage', deleteOption: 'Delete', diskSizeGB: inst.bootDiskSizeGb, managedDisk: { storageAccountType: 'Premium_LRS' } },
          },
          osProfile: {
            computerName: inst.name,
            adminUsername: 'batch',
            // cloud-init runs the script; the token is the VM's userData, read from IMDS.
            customData: Buffer.from(boot.script).toString('base64'),
            ...(a.sshPublicKey
              ? { linuxConfiguration: { disablePasswordAuthentication: true, ssh: { publicKeys: [{ path: '/home/batch/.ssh/authorized_keys', keyData: a.sshPublicKey }] } } }
              : // No key configured: a random password nobody knows, so nobody logs in.
                { adminPassword: `${randomBytes(24).toString('base64url')}aA1!` }),
          },
          userData: azureUserData(boot.secrets),
          networkProfile: { networkInterfaces: [{ id: nic.id!, primary: true, deleteOption: 'Delete' }] },
          // The workers' identity, the VM's only one, so IMDS hands its tokens to the agent
          // without being told which (DefaultAzureCredential on the VM).
          ...(a.workerIdentity ? { identity: { type: 'UserAssigned' as const, userAssignedIdentities: { [a.workerIdentity]: {} } } } : {}),
          ...(inst.preemptible ? { priority: 'Spot' as const, evictionPolicy: 'Delete' as const, billingProfile: { maxPrice: -1 } } : { priority: 'Regular' as const }),
        };
        await retry(() => compute.virtualMachines.createOrUpdate(rg, inst.name, vm, POLL).pollUntilDone());
      } catch (err) {
        const f = readAzureError(err);
        // Nothing of a refused VM is kept: its NIC and IP go now rather than at the orphan sweep.
        await removeAll(inst.name).catch(() => undefined);
        if (kindOf(f) === 'capacity' || kindOf(f) === 'quota') {
          book.refused(location);
          throw new CapacityError(location, f.code!, f.message);
        }
        throw err;
      }
      return { handle: inst.name };
    },

    async delete(name) {
      await removeAll(name);
    },

    async getState(name) {
      const vm = await getVm(name);
      return vm ? stateOf(vm.provisioningState) : 'gone';
    },

    async list(): Promise<Machine[]> {
      const vms = (await retry(() => collect(compute.virtualMachines.list(rg)))).filter((v) => ours(v.tags));
      const machines = new Map<string, Machine>(vms.map((v) => [v.name!, { name: v.name!, state: stateOf(v.provisioningState) }]));
      // A NIC or IP whose VM is not there is a machine being made or half made: listed, so
      // the orphan sweep deletes it when no row stands for it.
      const nics = (await retry(() => collect(network.networkInterfaces.list(rg)))).filter((n) => ours(n.tags));
      const ips = (await retry(() => collect(network.publicIPAddresses.list(rg)))).filter((n) => ours(n.tags));
      for (const r of [...nics, ...ips]) {
        const vmName = r.tags?.['hail-batch-vm'];
        if (vmName && !machines.has(vmName)) machines.set(vmName, { name: vmName, state: 'provisioning' });
      }
      return [...machines.values()].sort((x, y) => x.name.localeCompare(y.name));
    },

    chooseLocation(regions, cores = 1) {
      return book.choose(regions, cores);
    },

    refreshLocations: () => book.refresh(),
    locationBook: book,

    async readPrices(workerCores) {
      const vmSize = azureVmSize({ workerType: 'standard', cores: workerCores, machineType: null });
      // D-series v5: 4 GiB per vCPU.
      return azureRegionPrices(await retailPrices(a.pricesEndpoint, vmSize), { name: vmSize, cores: workerCores, memoryGiB: workerCores * 4 });
    },

    priceLocations: () => a.locations.map((location) => ({ location, region: location })),

    async simulatePreemption(name) {
      await ignoreMissing(() => retry(() => compute.virtualMachines.simulateEviction(rg, name)));
    },
  };
}
