/**
 * The clouds' list prices, turned into the resources catalogue's products per location, and
 * the per-core price the location choice weighs. Pure: the drivers fetch (GCP's Cloud Billing
 * Catalog, Azure's retail prices API), this decides what the catalogue should say.
 *
 * The catalogue bills every worker as an n1 machine (billing-rates.ts), cores and memory
 * apart. GCP lists n1 cores and RAM separately. Azure sells a VM whole, so its hourly price is
 * split between the VM's cores and GiB in the proportion n1's on-demand prices have
 * (N1_REFERENCE): the VM costs what Azure says, and a highmem job still costs more per core
 * than a highcpu one.
 */
import type { NewRate } from './billing-catalogue';
import {
  MS_PER_HOUR,
  isUsableRate,
  latestResourceName,
  product,
  rateOf,
  ratePerCoreHour,
  ratePerGiBHour,
  ratePerGiBMonth,
  type RateCard,
} from './billing-rates';

/** Spot and on-demand prices of one thing, in the units clouds quote. */
export type ByPreemptibility = { preemptible?: number; nonpreemptible?: number };

/** A region's list prices: per core-hour, per GiB-hour of memory, per GiB-month of disk. */
export type RegionPrices = {
  region: string;
  core: ByPreemptibility;
  ramGiB: ByPreemptibility;
  pdSsdGiBMonth?: number;
  localSsdGiBMonth?: ByPreemptibility;
};

/** The subset of a Cloud Billing Catalog SKU that prices are read from (REST or gRPC shape). */
export type GcpSku = {
  description?: string | null;
  category?: { resourceFamily?: string | null; resourceGroup?: string | null; usageType?: string | null } | null;
  serviceRegions?: string[] | null;
  pricingInfo?:
    | {
        pricingExpression?: {
          usageUnit?: string | null;
          tieredRates?: { startUsageAmount?: number | null; unitPrice?: { units?: string | number | { toString(): string } | null; nanos?: number | null } | null }[] | null;
        } | null;
      }[]
    | null;
};

/** One item of Azure's retail prices API. */
export type AzureRetailItem = {
  armRegionName: string;
  armSkuName: string;
  skuName: string;
  productName: string;
  retailPrice: number;
  unitOfMeasure: string;
  type: string;
};

/** Compute Engine's service id in the Cloud Billing Catalog. */
export const GCP_COMPUTE_SERVICE = 'services/6F81-5844-456A';

/** n1's on-demand prices per core-hour and per GiB-hour (us-central1), for Azure's split. */
export const N1_REFERENCE = { core: 0.031611, ramGiB: 0.004237 };
/** GiB of memory per core of a standard n1 worker: what one core of a standard job brings along. */
export const STANDARD_GIB_PER_CORE = 3.75;

/** The current dollars per unit of a SKU: its last pricing info's first tier. */
function unitPrice(sku: GcpSku): { price: number; unit: string } | null {
  const info = sku.pricingInfo?.[sku.pricingInfo.length - 1];
  const expr = info?.pricingExpression;
  const tiers = [...(expr?.tieredRates ?? [])].sort((a, b) => (a.startUsageAmount ?? 0) - (b.startUsageAmount ?? 0));
  const rate = tiers[0]?.unitPrice;
  if (!rate || !expr?.usageUnit) return null;
  const price = Number(String(rate.units ?? 0)) + (rate.nanos ?? 0) / 1e9;
  return Number.isFinite(price) && price > 0 ? { price, unit: expr.usageUnit } : null;
}

type Slot = { field: 'core' | 'ramGiB' | 'localSsdGiBMonth'; unit: string } | { field: 'pdSsdGiBMonth'; unit: string };

/** Which price a SKU is, by the descriptions the Compute Engine catalogue uses; null for the rest. */
function slotOf(sku: GcpSku): { slot: Slot; preemptible: boolean } | null {
  const usage = sku.category?.usageType;
  if (usage !== 'OnDemand' && usage !== 'Preemptible') return null;
  const preemptible = usage === 'Preemptible';
  const d = sku.description ?? '';
  const n1 = /^(?:(?:Spot )?Preemptible )?N1 Predefined Instance (Core|Ram) running in /.exec(d);
  if (n1) return { slot: n1[1] === 'Core' ? { field: 'core', unit: 'h' } : { field: 'ramGiB', unit: 'GiBy.h' }, preemptible };
  if (/^SSD backed PD Capacity\b/.test(d) && !preemptible) return { slot: { field: 'pdSsdGiBMonth', unit: 'GiBy.mo' }, preemptible };
  if (/^SSD backed Local Storage\b/.test(d)) return { slot: { field: 'localSsdGiBMonth', unit: 'GiBy.mo' }, preemptible };
  return null;
}

/** GCP's prices per region from Compute Engine's SKUs (one SKU may serve several regions). */
export function gcpRegionPrices(skus: readonly GcpSku[]): RegionPrices[] {
  const byRegion = new Map<string, RegionPrices>();
  for (const sku of skus) {
    const slot = slotOf(sku);
    const price = unitPrice(sku);
    if (!slot || !price || price.unit !== slot.slot.unit) continue;
    for (const region of sku.serviceRegions ?? []) {
      const r = byRegion.get(region) ?? { region, core: {}, ramGiB: {} };
      const key = slot.preemptible ? 'preemptible' : 'nonpreemptible';
      if (slot.slot.field === 'pdSsdGiBMonth') r.pdSsdGiBMonth = price.price;
      else if (slot.slot.field === 'localSsdGiBMonth') r.localSsdGiBMonth = { ...r.localSsdGiBMonth, [key]: price.price };
      else r[slot.slot.field][key] = price.price;
      byRegion.set(region, r);
    }
  }
  return [...byRegion.values()].sort((a, b) => a.region.localeCompare(b.region));
}

/** Azure's prices per region for one VM size, split into cores and memory as n1's are. */
export function azureRegionPrices(items: readonly AzureRetailItem[], machine: { name: string; cores: number; memoryGiB: number }): RegionPrices[] {
  const byRegion = new Map<string, RegionPrices>();
  const reference = machine.cores * N1_REFERENCE.core + machine.memoryGiB * N1_REFERENCE.ramGiB;
  for (const item of items) {
    if (item.armSkuName !== machine.name || item.type !== 'Consumption' || item.unitOfMeasure !== '1 Hour') continue;
    if (/Windows/i.test(item.productName) || / Low Priority$/.test(item.skuName)) continue;
    if (!Number.isFinite(item.retailPrice) || item.retailPrice <= 0) continue;
    const key = / Spot$/.test(item.skuName) ? 'preemptible' : 'nonpreemptible';
    const scale = item.retailPrice / reference;
    const r = byRegion.get(item.armRegionName) ?? { region: item.armRegionName, core: {}, ramGiB: {} };
    r.core[key] = N1_REFERENCE.core * scale;
    r.ramGiB[key] = N1_REFERENCE.ramGiB * scale;
    byRegion.set(item.armRegionName, r);
  }
  return [...byRegion.values()].sort((a, b) => a.region.localeCompare(b.region));
}

/** The catalogue products of one location and the rate (per unit per ms) each should have. */
function wantedRates(location: string, p: RegionPrices): NewRate[] {
  const out: NewRate[] = [];
  const add = (name: string, rate: number | undefined) => {
    if (rate !== undefined && isUsableRate(rate)) out.push({ product: name, rate });
  };
  for (const preemptible of [true, false]) {
    const key = preemptible ? 'preemptible' : 'nonpreemptible';
    const core = p.core[key];
    const ram = p.ramGiB[key];
    const local = p.localSsdGiBMonth?.[key];
    add(product.compute(preemptible, location), core === undefined ? undefined : ratePerCoreHour(core));
    add(product.memory(preemptible, location), ram === undefined ? undefined : ratePerGiBHour(ram));
    add(product.localSsd(preemptible, location), local === undefined ? undefined : ratePerGiBMonth(local));
  }
  add(product.pdSsd(location), p.pdSsdGiBMonth === undefined ? undefined : ratePerGiBMonth(p.pdSsdGiBMonth));
  return out;
}

/** Rates equal to a part in a billion are the same price: a re-read must not add a version. */
function sameRate(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
}

/**
 * The new catalogue versions the prices call for: one per product of each location whose
 * latest rate differs (or that has none). Applying them and asking again gives none, so the
 * refresh is safe to repeat.
 */
export function catalogueChanges(card: RateCard, locations: readonly { location: string; region: string }[], prices: readonly RegionPrices[]): NewRate[] {
  const byRegion = new Map(prices.map((p) => [p.region, p]));
  const changes: NewRate[] = [];
  for (const { location, region } of locations) {
    const p = byRegion.get(region);
    if (!p) continue;
    for (const want of wantedRates(location, p)) {
      const latest = latestResourceName(card, want.product);
      if (latest === null || !sameRate(rateOf(card, latest), want.rate)) changes.push(want);
    }
  }
  return changes;
}

/**
 * Dollars per core-hour of a standard spot worker at each location, from the card's latest
 * versions: a core and the memory it comes with. Locations the card does not price are left
 * out (the choice then treats them as it did before any price was known).
 */
export function coreHourPrices(card: RateCard, locations: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const location of locations) {
    const compute = latestResourceName(card, product.compute(true, location));
    const memory = latestResourceName(card, product.memory(true, location));
    if (compute === null || memory === null) continue;
    const perCore = rateOf(card, compute) * 1000 * MS_PER_HOUR + rateOf(card, memory) * 1024 * MS_PER_HOUR * STANDARD_GIB_PER_CORE;
    out.set(location, perCore);
  }
  return out;
}
