/**
 * The clouds' list prices into the resources catalogue, through the real drivers and SDKs
 * (@google-cloud/billing's CloudCatalogClient against the GCE emulator's catalog; Azure's
 * retail prices API against the ARM emulator's): versions added once and only where a price
 * changed, attempts' old versions kept, and new VMs sent to the cheapest location.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config';
import { createAzureDriver } from '../../activities/cloud/azure';
import type { CloudDriver } from '../../activities/cloud/driver';
import { createGcpDriver } from '../../activities/cloud/gcp';
import { cataloguePricesToLocations, createPriceActivities } from '../../activities/prices';
import { createLogger } from '../../cli/logger';
import { loadRateCard, seedResources } from '../../db/queries/resources';
import { DEFAULT_LOCAL_RATE_CARD, product, rateCardForLocations, rateOf, ratePerCoreHour } from '../../domain/billing-rates';
import { N1_REFERENCE } from '../../domain/cloud-prices';
import { startArmEmulator } from '../support/emulators/arm';
import { startGceEmulator } from '../support/emulators/gce';
import { defaultListPrices, type ListPrice } from '../support/emulators/price-lists';
import { useTestDatabase } from '../support/db-url';

type Cloud = {
  env: Record<string, string>;
  driver: CloudDriver;
  /** Locations, the first one in the cheapest region by default. */
  locations: [string, string];
  regions: [string, string];
  setPrices(p: ListPrice[]): void;
  close(): Promise<void>;
};

async function gcp(dataDir: string): Promise<Cloud> {
  const gce = await startGceEmulator({
    project: 'hail-batch-test',
    zones: [
      { zone: 'us-central1-a', cpusQuota: 64 },
      { zone: 'europe-west1-b', cpusQuota: 64 },
    ],
    dataDir,
    executor: 'process',
  });
  const env = { HB_CLOUD: 'gcp', HB_GCP_PROJECT: 'hail-batch-test', HB_GCP_ZONES: 'us-central1-a,europe-west1-b', HB_GCP_API_ENDPOINT: gce.url, HB_DEPLOYMENT: 'prices' };
  return {
    env,
    driver: createGcpDriver(loadConfig(env).cloud),
    locations: ['us-central1-a', 'europe-west1-b'],
    regions: ['us-central1', 'europe-west1'],
    setPrices: (p) => gce.setPrices(p),
    close: () => gce.close(),
  };
}

async function azure(dataDir: string): Promise<Cloud> {
  const subscriptionId = '00000000-0000-4000-8000-000000000001';
  const arm = await startArmEmulator({
    subscriptionId,
    resourceGroup: 'hail-batch-test',
    locations: [
      { location: 'eastus', coresQuota: 64 },
      { location: 'westus2', coresQuota: 64 },
    ],
    dataDir,
    executor: 'process',
  });
  const env = {
    HB_CLOUD: 'azure',
    HB_AZURE_SUBSCRIPTION_ID: subscriptionId,
    HB_AZURE_RESOURCE_GROUP: 'hail-batch-test',
    HB_AZURE_LOCATIONS: 'eastus,westus2',
    HB_AZURE_SUBNET_ID: `/subscriptions/${subscriptionId}/resourceGroups/hail-batch-test/providers/Microsoft.Network/virtualNetworks/batch/subnets/workers`,
    HB_AZURE_ARM_ENDPOINT: arm.url,
    HB_DEPLOYMENT: 'prices',
  };
  return {
    env,
    driver: createAzureDriver(loadConfig(env).cloud),
    locations: ['eastus', 'westus2'],
    regions: ['eastus', 'westus2'],
    setPrices: (p) => arm.setPrices(p),
    close: () => arm.close(),
  };
}

describe.each([
  ['GCP', gcp],
  ['Azure', azure],
] as const)('cloud prices on %s', (label, start) => {
  const store = useTestDatabase(`prices_${label.toLowerCase()}`);
  let dataDir = '';
  let cloud: Cloud;
  let acts: ReturnType<typeof createPriceActivities>;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'hb-prices-'));
    cloud = await start(dataDir);
    // As the driver seeds it: the local card, and its prices for each cloud location.
    await seedResources(store.db, DEFAULT_LOCAL_RATE_CARD, Date.now());
    await seedResources(store.db, rateCardForLocations(cloud.locations), Date.now());
    acts = createPriceActivities({ db: store.db, config: loadConfig(cloud.env), log: createLogger('error') }, cloud.driver);
  });
  afterAll(async () => {
    await cloud?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('adds versions where the list prices differ from the catalogue, once, keeping the old ones', async () => {
    const first = await acts.refreshPrices();
    expect(first.regions).toBe(2);
    const [near, far] = cloud.locations;
    // The second region lists 10% above the seeded prices: every product there moves.
    expect(first.added).toContain(`${product.compute(true, far)}/2`);
    expect(first.added).toContain(`${product.memory(false, far)}/2`);
    // The first region's on-demand list prices are the seeded ones (us-central1's): no new version.
    expect(first.added).not.toContain(`${product.compute(false, near)}/2`);
    const card = await loadRateCard(store.db);
    const [, dear] = defaultListPrices(cloud.regions);
    // GCP lists the core itself; Azure the VM, split over cores and GiB (4 per core) in n1's proportion.
    const coreSpot = label === 'GCP' ? dear!.coreSpot : (N1_REFERENCE.core * (dear!.coreSpot + 4 * dear!.ramSpot)) / (N1_REFERENCE.core + 4 * N1_REFERENCE.ramGiB);
    expect(rateOf(card, `${product.compute(true, far)}/2`) / ratePerCoreHour(coreSpot)).toBeCloseTo(1, 9);
    // Attempts that started before keep version 1 at its price.
    expect(rateOf(card, `${product.compute(true, far)}/1`)).toBe(rateOf(DEFAULT_LOCAL_RATE_CARD, `${product.compute(true, 'local')}/1`));
    // Read again, nothing changed: nothing added.
    expect((await acts.refreshPrices()).added).toEqual([]);
  });

  it('sends new VMs to the cheapest location, and follows a price change there only', async () => {
    await cloud.driver.refreshLocations?.();
    await cataloguePricesToLocations(store.db, cloud.driver);
    expect(cloud.driver.chooseLocation(null, 1)).toBe(cloud.locations[0]);

    // The first region becomes the dearer one.
    const [a, b] = defaultListPrices(cloud.regions);
    cloud.setPrices([{ ...a!, coreSpot: b!.coreSpot * 2, coreOnDemand: b!.coreOnDemand * 2, ramSpot: b!.ramSpot * 2, ramOnDemand: b!.ramOnDemand * 2 }, b!]);
    const changed = await acts.refreshPrices();
    expect(changed.added.length).toBeGreaterThan(0);
    expect(changed.added.every((name) => name.includes(`/${cloud.locations[0]}/`))).toBe(true);
    expect(cloud.driver.chooseLocation(null, 1)).toBe(cloud.locations[1]);
  });
});
