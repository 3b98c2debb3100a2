/**
 * The Compute Engine driver (@google-cloud/compute over REST). Every worker VM carries the
 * deployment's label, so list() finds all of them from the cloud alone; create is idempotent
 * per name (an existing VM of that name is the VM); delete waits for its zone operation and
 * succeeds on a VM already gone. Spot VMs are SPOT with termination action DELETE, so a
 * reclaimed VM disappears and the health check requeues its jobs. Credentials are application
 * default credentials, or a fixed token for an emulator endpoint (tests only).
 */
import { CloudCatalogClient } from '@google-cloud/billing';
import type { protos } from '@google-cloud/compute';
import type { CloudConfig } from '../../../config';
import type { CloudDriver, InstanceConfig, Machine, MachineState, StartupData } from '../driver';
import { renderStartupScript } from '../startup';
import { CapacityError, kindOf } from '../retry';
import { gcpCompute, gcpRegionOf, readGcpError } from './compute';
import { createLocationBook } from '../location-book';
import { GCP_COMPUTE_SERVICE, gcpRegionPrices, type GcpSku } from '../../../domain/cloud-prices';

type IOperation = protos.google.cloud.compute.v1.IOperation;
type IInstance = protos.google.cloud.compute.v1.IInstance;

export const DEPLOYMENT_LABEL = 'hail-batch-deployment';
export { readGcpError };
/** The machine type a VM of this shape runs on: the job's own, or n1-<worker type>-<cores>. */
export function gcpMachineType(inst: InstanceConfig): string {
  return inst.machineType ?? `n1-${inst.workerType}-${inst.cores}`;
}

const stateOf = (status: string | null | undefined): Exclude<MachineState, 'gone'> =>
  status === 'RUNNING' ? 'running' : status === 'PROVISIONING' || status === 'STAGING' ? 'provisioning' : 'stopping';

export function createGcpDriver(cloud: CloudConfig): CloudDriver {
  const g = cloud.gcp;
  const { instances, opts, project, retry, waitFor, listZone, deleteIn, readLocations } = gcpCompute(cloud);
  // The Cloud Billing Catalog (cloudbilling.googleapis.com, or the emulator's same endpoint).
  const catalog = new CloudCatalogClient(opts as unknown as ConstructorParameters<typeof CloudCatalogClient>[0]);
  const regionOf = gcpRegionOf;

  const deploymentFilter = `labels.${DEPLOYMENT_LABEL} = "${cloud.deployment}"`;
  /** Where this deployment's VM of that name is, if anywhere. */
  async function find(name: string): Promise<{ zone: string; inst: IInstance }[]> {
    const found = await Promise.all(g.zones.map(async (zone) => (await listZone(zone, `name = "${name}" AND ${deploymentFilter}`)).map((inst) => ({ zone, inst }))));
    return found.flat();
  }

  const book = createLocationBook(readLocations, cloud.locationRefreshMs);

  function resource(inst: InstanceConfig, zone: string, startup: StartupData): IInstance {
    const boot = renderStartupScript('gcp', {
      ...startup,
      name: inst.name,
      pool: inst.pool,
      cores: inst.cores,
      workerImage: cloud.workerImage,
      agentEnv: { ...cloud.agentEnv, HB_REGION: zone },
    });
    return {
      name: inst.name,
      machineType: `zones/${zone}/machineTypes/${gcpMachineType(inst)}`,
      labels: { [DEPLOYMENT_LABEL]: cloud.deployment, 'hail-batch-pool': inst.pool },
      // The tag the deployment's firewall rules name (deploy/terraform/gcp: worker_network_tag).
      tags: { items: [`${cloud.deployment}-worker`] },
      disks: [
        {
          boot: true,
          autoDelete: true,
          type: 'PERSISTENT',
          initializeParams: { sourceImage: g.bootImage, diskSizeGb: String(inst.bootDiskSizeGb), diskType: `zones/${zone}/diskTypes/pd-ssd` },
        },
      ],
      networkInterfaces: [
        {
          network: `global/networks/${g.network}`,
          ...(g.subnetwork ? { subnetwork: `regions/${regionOf(zone)}/subnetworks/${g.subnetwork}` } : {}),
        },
      ],
      serviceAccounts: [{ email: g.serviceAccount ?? 'default', scopes: ['https://www.googleapis.com/auth/cloud-platform'] }],
      scheduling: inst.preemptible
        ? { provisioningModel: 'SPOT', instanceTerminationAction: 'DELETE', automaticRestart: false, onHostMaintenance: 'TERMINATE' }
        : { provisioningModel: 'STANDARD', automaticRestart: true, onHostMaintenance: 'MIGRATE' },
      // The script in `startup-script`; the token beside it as its own item, never in the script.
      metadata: { items: [{ key: 'startup-script', value: boot.script }, ...Object.entries(boot.secrets).map(([key, value]) => ({ key, value }))] },
    };
  }

  return {
    async create(inst, startup) {
      const existing = await find(inst.name);
      if (existing[0]) return { handle: `${existing[0].zone}/${inst.name}` };
      await book.refresh();
      const zone = g.zones.includes(inst.location) ? inst.location : book.choose(null, inst.cores);
      if (!zone) throw new CapacityError(inst.location, 'QUOTA_EXCEEDED', 'no configured zone has quota left');
      try {
        const [op] = await retry(() => instances.insert({ project, zone, instanceResource: resource(inst, zone, startup) }));
        await waitFor(op.latestResponse as IOperation, zone);
      } catch (err) {
        if (err instanceof CapacityError) {
          book.refused(zone);
          throw err;
        }
        const f = readGcpError(err);
        if (kindOf(f) === 'conflict') return { handle: `${zone}/${inst.name}` };
        if (kindOf(f) === 'capacity' || kindOf(f) === 'quota') {
          book.refused(zone);
          throw new CapacityError(zone, f.code!, f.message);
        }
        throw err;
      }
      return { handle: `${zone}/${inst.name}` };
    },

    async delete(name) {
      for (const { zone } of await find(name)) await deleteIn(zone, name);
    },

    async getState(name) {
      const [first] = await find(name);
      return first ? stateOf(String(first.inst.status)) : 'gone';
    },

    async list(): Promise<Machine[]> {
      const all = await Promise.all(g.zones.map((zone) => listZone(zone, deploymentFilter)));
      return all
        .flat()
        .map((i) => ({ name: i.name!, state: stateOf(String(i.status)) }))
        .sort((a, b) => a.name.localeCompare(b.name));
    },

    chooseLocation(regions, cores = 1) {
      return book.choose(regions, cores);
    },

    refreshLocations: () => book.refresh(),
    locationBook: book,

    async readPrices() {
      const skus: GcpSku[] = [];
      await retry(async () => {
        skus.length = 0;
        for await (const sku of catalog.listSkusAsync({ parent: GCP_COMPUTE_SERVICE, currencyCode: 'USD', pageSize: 5000 })) skus.push(sku as GcpSku);
      });
      return gcpRegionPrices(skus);
    },

    priceLocations: () => g.zones.map((zone) => ({ location: zone, region: regionOf(zone) })),

    async simulatePreemption(name) {
      for (const { zone } of await find(name)) {
        const [op] = await retry(() => instances.simulateMaintenanceEvent({ project, zone, instance: name }));
        await waitFor(op.latestResponse as IOperation, zone);
      }
    },
  };
}
