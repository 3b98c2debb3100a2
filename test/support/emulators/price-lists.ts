/**
 * The clouds' price lists as the emulators serve them: Compute Engine's SKUs in the Cloud
 * Billing Catalog (GET /v1/services/6F81-5844-456A/skus, paged by pageToken) and Azure's retail
 * prices (GET /api/retail/prices with its $filter, paged by NextPageLink). Each region has one
 * set of list prices (settable, so a test can watch a price change arrive); the lists also
 * carry the SKUs a reader must skip (commitments, other machine families, Windows, low priority).
 */
import type { Req, Res, Route } from './http';

export type ListPrice = {
  region: string;
  /** dollars per core-hour and per GiB-hour, spot and on demand */
  coreSpot: number;
  coreOnDemand: number;
  ramSpot: number;
  ramOnDemand: number;
  /** dollars per GiB-month of SSD persistent disk */
  pdSsdMonth: number;
};

/** Prices near us-central1's, a little dearer for each region after the first. */
export function defaultListPrices(regions: readonly string[]): ListPrice[] {
  return [...new Set(regions)].map((region, i) => ({
    region,
    coreSpot: 0.006655 * (1 + i / 10),
    coreOnDemand: 0.031611 * (1 + i / 10),
    ramSpot: 0.000892 * (1 + i / 10),
    ramOnDemand: 0.004237 * (1 + i / 10),
    pdSsdMonth: 0.17 * (1 + i / 10),
  }));
}

const money = (dollars: number) => {
  const units = Math.floor(dollars);
  return { currencyCode: 'USD', units: String(units), nanos: Math.round((dollars - units) * 1e9) };
};

function sku(id: string, description: string, usageType: string, resourceGroup: string, unit: string, price: number, regions: string[]) {
  return {
    name: `services/6F81-5844-456A/skus/${id}`,
    skuId: id,
    description,
    category: { serviceDisplayName: 'Compute Engine', resourceFamily: unit === 'GiBy.mo' ? 'Storage' : 'Compute', resourceGroup, usageType },
    serviceRegions: regions,
    pricingInfo: [
      {
        summary: '',
        pricingExpression: { usageUnit: unit, displayQuantity: 1, tieredRates: [{ startUsageAmount: 0, unitPrice: money(price) }] },
        currencyConversionRate: 1,
        effectiveTime: '2026-12-01T00:00:00Z',
      },
    ],
    serviceProviderName: 'Google',
  };
}

export function gcpSkus(prices: readonly ListPrice[]): unknown[] {
  return prices.flatMap((p, i) => [
    sku(`C${i}-OD`, `N1 Predefined Instance Core running in ${p.region}`, 'OnDemand', 'N1Standard', 'h', p.coreOnDemand, [p.region]),
    sku(`C${i}-SP`, `Spot Preemptible N1 Predefined Instance Core running in ${p.region}`, 'Preemptible', 'N1Standard', 'h', p.coreSpot, [p.region]),
    sku(`R${i}-OD`, `N1 Predefined Instance Ram running in ${p.region}`, 'OnDemand', 'N1Standard', 'GiBy.h', p.ramOnDemand, [p.region]),
    sku(`R${i}-SP`, `Spot Preemptible N1 Predefined Instance Ram running in ${p.region}`, 'Preemptible', 'N1Standard', 'GiBy.h', p.ramSpot, [p.region]),
    sku(`D${i}`, `SSD backed PD Capacity in ${p.region}`, 'OnDemand', 'SSD', 'GiBy.mo', p.pdSsdMonth, [p.region]),
    // What a reader must skip: a commitment, another family, a regional disk.
    sku(`C${i}-1Y`, `Commitment v1: N1 Cpu in ${p.region} for 1 Year`, 'Commit1Yr', 'CPU', 'h', p.coreOnDemand / 2, [p.region]),
    sku(`E${i}-OD`, `E2 Instance Core running in ${p.region}`, 'OnDemand', 'CPU', 'h', p.coreOnDemand / 3, [p.region]),
    sku(`D${i}-R`, `Regional SSD backed PD Capacity in ${p.region}`, 'OnDemand', 'SSD', 'GiBy.mo', p.pdSsdMonth * 2, [p.region]),
  ]);
}

/** The catalog route for the Compute Engine emulator's server. */
export function gcpCatalogRoute(prices: () => readonly ListPrice[]): Route {
  return {
    method: 'GET',
    pattern: /^\/v1\/services\/6F81-5844-456A\/skus$/,
    handle: (req: Req): Res => {
      const all = gcpSkus(prices());
      const size = Math.min(Number(req.query.get('pageSize') ?? 5000) || 5000, 5000, 7);
      const from = Number(req.query.get('pageToken') ?? 0) || 0;
      const next = from + size < all.length ? String(from + size) : '';
      return { status: 200, body: { skus: all.slice(from, from + size), nextPageToken: next } };
    },
  };
}

/** Azure VM sizes a retail list carries: D-series v5 (4 GiB per vCPU) of a few sizes. */
const D_SERIES_CORES = [2, 4, 8, 16, 32];

export function azureRetailItems(prices: readonly ListPrice[]): Record<string, unknown>[] {
  return prices.flatMap((p) =>
    D_SERIES_CORES.flatMap((n) => {
      const armSkuName = `Standard_D${n}s_v5`;
      const vm = (core: number, ram: number) => n * core + 4 * n * ram;
      const item = (skuName: string, productName: string, retailPrice: number) => ({
        currencyCode: 'USD',
        retailPrice,
        unitPrice: retailPrice,
        armRegionName: p.region,
        location: p.region,
        effectiveStartDate: '2026-12-01T00:00:00Z',
        meterName: skuName,
        productName,
        skuName,
        serviceName: 'Virtual Machines',
        armSkuName,
        type: 'Consumption',
        isPrimaryMeterRegion: true,
        unitOfMeasure: '1 Hour',
      });
      return [
        item(`D${n}s v5`, 'Virtual Machines Dsv5 Series', vm(p.coreOnDemand, p.ramOnDemand)),
        item(`D${n}s v5 Spot`, 'Virtual Machines Dsv5 Series', vm(p.coreSpot, p.ramSpot)),
        // What a reader must skip: Windows licensing, low priority.
        item(`D${n}s v5`, 'Virtual Machines Dsv5 Series Windows', vm(p.coreOnDemand, p.ramOnDemand) * 2),
        item(`D${n}s v5 Low Priority`, 'Virtual Machines Dsv5 Series', vm(p.coreSpot, p.ramSpot) / 2),
      ];
    }),
  );
}

/** The retail prices route for the Resource Manager emulator's server (no credentials, as Azure's). */
export function azureRetailRoute(prices: () => readonly ListPrice[], origin: () => string): Route {
  return {
    method: 'GET',
    pattern: /^\/api\/retail\/prices$/,
    handle: (req: Req): Res => {
      const filter = req.query.get('$filter') ?? '';
      const sku = /armSkuName eq '([^']+)'/.exec(filter)?.[1];
      const all = azureRetailItems(prices()).filter((i) => sku === undefined || i.armSkuName === sku);
      const skip = Number(req.query.get('$skip') ?? 0) || 0;
      const pageSize = 5;
      const page = all.slice(skip, skip + pageSize);
      const nextUrl = new URL(`${origin()}/api/retail/prices`);
      nextUrl.searchParams.set('$filter', filter);
      nextUrl.searchParams.set('$skip', String(skip + pageSize));
      return { status: 200, body: { BillingCurrency: 'USD', Items: page, NextPageLink: skip + pageSize < all.length ? nextUrl.toString() : null, Count: page.length } };
    },
  };
}
