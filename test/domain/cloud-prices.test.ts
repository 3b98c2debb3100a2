/** The clouds' price lists into catalogue products (domain/cloud-prices.ts). Pure. */
import { describe, expect, it } from 'vitest';
import { azureRegionPrices, catalogueChanges, coreHourPrices, gcpRegionPrices, N1_REFERENCE, type AzureRetailItem, type GcpSku } from '../../domain/cloud-prices';
import { product, rateCard, rateOf, ratePerCoreHour, ratePerGiBHour, ratePerGiBMonth, withRate } from '../../domain/billing-rates';
import { azureRetailItems, defaultListPrices, gcpSkus } from '../support/emulators/price-lists';

const list = defaultListPrices(['us-central1', 'europe-west1']);

describe('cloud prices', () => {
  it("reads GCP's n1 core, RAM and SSD prices per region and skips other SKUs", () => {
    const prices = gcpRegionPrices(gcpSkus(list) as GcpSku[]);
    expect(prices.map((p) => p.region)).toEqual(['europe-west1', 'us-central1']);
    const us = prices.find((p) => p.region === 'us-central1')!;
    expect(us.core.preemptible).toBeCloseTo(0.006655, 9);
    expect(us.core.nonpreemptible).toBeCloseTo(0.031611, 9);
    expect(us.ramGiB.preemptible).toBeCloseTo(0.000892, 9);
    expect(us.ramGiB.nonpreemptible).toBeCloseTo(0.004237, 9);
    // The zonal SSD price, not the regional one (twice as dear), nor an E2 or commitment price.
    expect(us.pdSsdGiBMonth).toBeCloseTo(0.17, 9);
  });

  it('takes the current pricing info and its first tier, and ignores SKUs priced in another unit', () => {
    const sku = (units: string, nanos: number, usageUnit = 'h'): GcpSku => ({
      description: 'N1 Predefined Instance Core running in Americas',
      category: { usageType: 'OnDemand' },
      serviceRegions: ['us-east1'],
      pricingInfo: [
        { pricingExpression: { usageUnit, tieredRates: [{ startUsageAmount: 0, unitPrice: { units: '9', nanos: 0 } }] } },
        {
          pricingExpression: {
            usageUnit,
            tieredRates: [
              { startUsageAmount: 100, unitPrice: { units: '0', nanos: 1 } },
              { startUsageAmount: 0, unitPrice: { units, nanos } },
            ],
          },
        },
      ],
    });
    expect(gcpRegionPrices([sku('1', 500_000_000)])[0]!.core.nonpreemptible).toBe(1.5);
    expect(gcpRegionPrices([sku('1', 500_000_000, 'GiBy.h')])).toEqual([]);
  });

  it("splits an Azure VM's price over its cores and GiB in n1's proportion, Linux spot and on demand only", () => {
    const items = azureRetailItems(defaultListPrices(['eastus'])) as AzureRetailItem[];
    const [eastus] = azureRegionPrices(items, { name: 'Standard_D16s_v5', cores: 16, memoryGiB: 64 });
    const vm = items.find((i) => i.armSkuName === 'Standard_D16s_v5' && i.skuName === 'D16s v5' && !i.productName.includes('Windows'))!;
    // The parts add up to the VM's price...
    expect(16 * eastus!.core.nonpreemptible! + 64 * eastus!.ramGiB.nonpreemptible!).toBeCloseTo(vm.retailPrice, 9);
    // ...in n1's proportion.
    expect(eastus!.core.nonpreemptible! / eastus!.ramGiB.nonpreemptible!).toBeCloseTo(N1_REFERENCE.core / N1_REFERENCE.ramGiB, 9);
    const spot = items.find((i) => i.armSkuName === 'Standard_D16s_v5' && i.skuName === 'D16s v5 Spot')!;
    expect(16 * eastus!.core.preemptible! + 64 * eastus!.ramGiB.preemptible!).toBeCloseTo(spot.retailPrice, 9);
    expect(azureRegionPrices(items, { name: 'Standard_D3s_v5', cores: 3, memoryGiB: 12 })).toEqual([]);
  });

  it('adds a version only where the rate changed, so applying the changes leaves none', () => {
    const locations = [
      { location: 'us-central1-a', region: 'us-central1' },
      { location: 'europe-west1-b', region: 'europe-west1' },
      { location: 'asia-east1-a', region: 'asia-east1' },
    ];
    const seeded = rateCard({ [product.compute(true, 'us-central1-a')]: ratePerCoreHour(1), [product.serviceFee]: ratePerCoreHour(0.01) });
    const prices = gcpRegionPrices(gcpSkus(list) as GcpSku[]);
    const changes = catalogueChanges(seeded, locations, prices);
    // Per priced location: compute and memory, spot and on demand, and SSD; none for a region without prices.
    expect(changes.filter((c) => c.product.endsWith('/us-central1-a'))).toHaveLength(5);
    expect(changes.filter((c) => c.product.endsWith('/europe-west1-b'))).toHaveLength(5);
    expect(changes.some((c) => c.product.endsWith('/asia-east1-a'))).toBe(false);
    expect(changes.find((c) => c.product === product.compute(true, 'us-central1-a'))!.rate).toBeCloseTo(ratePerCoreHour(0.006655), 15);
    expect(changes.find((c) => c.product === product.memory(false, 'europe-west1-b'))!.rate).toBeCloseTo(ratePerGiBHour(0.004237 * 1.1), 15);
    expect(changes.find((c) => c.product === product.pdSsd('europe-west1-b'))!.rate).toBeCloseTo(ratePerGiBMonth(0.17 * 1.1), 15);
    const applied = changes.reduce((card, c) => withRate(card, c.product, c.rate), seeded);
    expect(catalogueChanges(applied, locations, prices)).toEqual([]);
    // Earlier versions stay as they were.
    expect(rateOf(applied, `${product.compute(true, 'us-central1-a')}/1`)).toBe(ratePerCoreHour(1));
  });

  it("prices a location per core-hour of a standard spot worker from the card's latest versions", () => {
    const card = rateCard({
      [product.compute(true, 'eastus')]: ratePerCoreHour(0.01),
      [product.memory(true, 'eastus')]: ratePerGiBHour(0.001),
      [product.compute(true, 'westus2')]: ratePerCoreHour(0.02),
    });
    const prices = coreHourPrices(card, ['eastus', 'westus2']);
    expect(prices.get('eastus')).toBeCloseTo(0.01 + 3.75 * 0.001, 12);
    // Without a memory price the location is left unpriced.
    expect(prices.has('westus2')).toBe(false);
  });
});
