/**
 * What is billed and at what price. A resource is named `<product>/<version>`: the product says
 * what is used (`compute/n1-preemptible/local`, `ip-fee/1024`), the version which price applies.
 * A price change appends a version and new attempts take it; an attempt keeps the resource
 * names it started with, so what it cost never changes after the fact.
 *
 * Rates are dollars per unit per millisecond, the units being those the quantities are counted
 * in (billing-resources.ts): mcpu, MiB of memory, MiB of disk (GiB × 1024ths of a worker) and
 * 1024ths of a worker.
 */

export const MS_PER_HOUR = 3_600_000;
/** Storage is priced per month; Hail converts over the average month of 365.25 / 12 days. */
export const HOURS_PER_MONTH = (365.25 / 12) * 24;

/** Per mcpu per ms, from dollars per core per hour (compute, service fees). */
export function ratePerCoreHour(dollars: number): number {
  return dollars / 1000 / MS_PER_HOUR;
}

/** Per MiB per ms, from dollars per GiB per hour (memory, disks). */
export function ratePerGiBHour(dollars: number): number {
  return dollars / 1024 / MS_PER_HOUR;
}

/** Per MiB per ms, from dollars per GiB per month, as cloud disks are priced. */
export function ratePerGiBMonth(dollars: number): number {
  return ratePerGiBHour(dollars / HOURS_PER_MONTH);
}

/** Per 1024th of a worker per ms, from dollars per worker per hour (IP address, accelerators). */
export function ratePerInstanceHour(dollars: number): number {
  return dollars / 1024 / MS_PER_HOUR;
}

/**
 * Product names as Hail spells them, so billing breakdowns read the same. Workers are priced as
 * GCP n1 machines whatever runs them, because the pools' memory per core is n1's.
 */
export const product = {
  compute: (preemptible: boolean, region: string) => `compute/n1-${preemptibility(preemptible)}/${region}`,
  memory: (preemptible: boolean, region: string) => `memory/n1-${preemptibility(preemptible)}/${region}`,
  /** Boot disk, a persistent data disk and a job's extra storage are all SSD persistent disk. */
  pdSsd: (region: string) => `disk/pd-ssd/${region}`,
  localSsd: (preemptible: boolean, region: string) => `disk/local-ssd/${preemptibility(preemptible)}/${region}`,
  accelerator: (family: string, preemptible: boolean, region: string) =>
    `accelerator/${family}-${preemptibility(preemptible)}/${region}`,
  ipFee: 'ip-fee/1024',
  serviceFee: 'service-fee',
  supportFee: 'gcp-support-logs-specs-and-firewall-fees',
} as const;

function preemptibility(preemptible: boolean): string {
  return preemptible ? 'preemptible' : 'nonpreemptible';
}

const REGION = '[a-z0-9][a-z0-9-]{0,62}';
const PREEMPTIBILITY = '(?:preemptible|nonpreemptible)';
// Every product name `product` builds, for any region; the fixed names have no regex characters.
const BILLABLE_PRODUCT = new RegExp(
  `^(?:${[
    `(?:compute|memory)/n1-${PREEMPTIBILITY}/${REGION}`,
    `disk/pd-ssd/${REGION}`,
    `disk/local-ssd/${PREEMPTIBILITY}/${REGION}`,
    `accelerator/[a-z0-9][a-z0-9-]{0,62}-${PREEMPTIBILITY}/${REGION}`,
    product.ipFee,
    product.serviceFee,
    product.supportFee,
  ].join('|')})$`,
);

/**
 * Whether an attempt can ever be billed for `productName`: one of the names `product` builds,
 * for any region. A rate for anything else would be a catalogue row nothing reads, or, worse,
 * a name that collides with a real resource's versions.
 */
export function isBillableProduct(productName: string): boolean {
  return BILLABLE_PRODUCT.test(productName);
}

/**
 * The dearest rate the catalogue takes, in dollars per unit per ms: $3.60 per unit-hour, i.e.
 * $3,600 per core-hour or $3,686 per GiB-hour of memory, five orders of magnitude above any
 * real price. The bound is what keeps cost finite: quantity (≤ 1e15) × rate × ms (≤ 1e16)
 * stays far inside a double, in SQL and here, however long an attempt runs.
 */
export const MAX_RATE_PER_UNIT_MS = 1e-6;

/** A rate billing may use: finite, positive and at most MAX_RATE_PER_UNIT_MS (NaN is none of these). */
export function isUsableRate(rate: number): boolean {
  return Number.isFinite(rate) && rate > 0 && rate <= MAX_RATE_PER_UNIT_MS;
}

/**
 * Every price ever set, by product: the rate of version v is at index v − 1. Versions are only
 * ever appended (withRate), which is what keeps old attempts at old prices. Plain JSON, so a
 * card can be stored or passed to a workflow as is.
 */
export type RateCard = Readonly<Record<string, readonly number[]>>;

export function resourceName(productName: string, version: number): string {
  return `${productName}/${version}`;
}

/** Splits at the last slash; null unless the name ends in a version (1, 2, ...). */
export function parseResourceName(name: string): { product: string; version: number } | null {
  const slash = name.lastIndexOf('/');
  const version = name.slice(slash + 1);
  if (slash <= 0 || !/^[1-9]\d*$/.test(version)) return null;
  return { product: name.slice(0, slash), version: Number(version) };
}

function versionsOf(card: RateCard, productName: string): readonly number[] | undefined {
  return Object.hasOwn(card, productName) ? card[productName] : undefined;
}

/** The card with a new version of `productName` at `ratePerUnitMs`; earlier versions are kept as they were. */
export function withRate(card: RateCard, productName: string, ratePerUnitMs: number): RateCard {
  if (productName === '' || productName.endsWith('/')) throw new RangeError(`invalid product name '${productName}'`);
  if (!isUsableRate(ratePerUnitMs)) {
    throw new RangeError(`rate of ${productName} must be in (0, ${MAX_RATE_PER_UNIT_MS}] dollars per unit per ms, got ${ratePerUnitMs}`);
  }
  const versions = Object.freeze([...(versionsOf(card, productName) ?? []), ratePerUnitMs]);
  return Object.freeze({ ...card, [productName]: versions });
}

/** A card with version 1 of each product. */
export function rateCard(ratesPerUnitMs: Readonly<Record<string, number>>): RateCard {
  return Object.entries(ratesPerUnitMs).reduce<RateCard>((card, [p, rate]) => withRate(card, p, rate), {});
}

/** The resource a new attempt is billed under, or null when the card does not price the product. */
export function latestResourceName(card: RateCard, productName: string): string | null {
  const versions = versionsOf(card, productName);
  return versions && versions.length > 0 ? resourceName(productName, versions.length) : null;
}

/**
 * Dollars per unit per ms of a resource (`<product>/<version>`). An attempt naming a resource
 * the card does not know is a configuration error, never free: it throws.
 */
export function rateOf(card: RateCard, resource: string): number {
  const parsed = parseResourceName(resource);
  const rate = parsed ? versionsOf(card, parsed.product)?.[parsed.version - 1] : undefined;
  if (rate === undefined) throw new RangeError(`no rate for resource '${resource}'`);
  return rate;
}

/**
 * The rate a recorded resource is priced at when costs are read: rateOf, or 0 for a name the
 * catalogue does not list. Attempts only ever record catalogue names (billing-resources.ts), so
 * this only meets rows written by hand or before a rule held; the SQL prices them the same (its
 * join finds no rate), and a read never fails on a stored value.
 */
export function billedRateOf(card: RateCard, resource: string): number {
  const parsed = parseResourceName(resource);
  const rate = parsed ? versionsOf(card, parsed.product)?.[parsed.version - 1] : undefined;
  return rate !== undefined && isUsableRate(rate) ? rate : 0;
}

export type RateCardEntry = { resource: string; product: string; version: number; rate: number };

/** Every resource of the card with its rate, sorted by name: the rows a resources table holds. */
export function rateCardEntries(card: RateCard): RateCardEntry[] {
  return Object.entries(card)
    .flatMap(([p, versions]) =>
      versions.map((rate, i) => ({ resource: resourceName(p, i + 1), product: p, version: i + 1, rate })),
    )
    .sort((a, b) => compareNames(a.resource, b.resource));
}

/** Code-unit order, not locale order, so a breakdown sorts the same on every machine. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export const LOCAL_REGION = 'local';

/**
 * Prices for region `local`, set so that the default job — 1 core, standard memory, no extra
 * storage, preemptible, on a 16-core standard worker with a 100 GB boot disk — costs exactly
 * $0.0217 per hour, the figure Hail's docs give for that job:
 *
 *   compute  $0.01      = 1 core × $0.006655 + 3.75 GiB × $0.000892/GiB-h  (n1 spot prices; the
 *                          docs' "compute" is the machine price per core, cores and memory together)
 *   disk     $0.00145   = 100 GB boot disk ÷ 16 cores × $0.000232/GiB-h
 *   IP       $0.00025   = $0.004 per worker-hour ÷ 16 cores
 *   service  $0.01      = $0.01 per core-hour
 *   total    $0.0217
 *
 * Disk: the docs derive it from $0.17/GB-month as 0.17 × 100 / 30.4375 / 24 / 16 = $0.0014545 and
 * print it as $0.001454, which makes the exact total $0.0217045 (printed $0.02170). We set the
 * disk at $0.000232/GiB-hour (≈ $0.1695/GiB-month) instead, so the advertised total is exact
 * and not just its rounding.
 *
 * Memory is priced separately rather than folded into compute so that highmem jobs cost more
 * per core than highcpu ones, the same trade-off pool choice weighs.
 *
 * Non-preemptible workers use GCP's on-demand n1 prices ($0.031611/core-h, $0.004237/GiB-h);
 * local SSD its spot and on-demand prices ($0.048 and $0.08 per GB-month). There is no
 * support/logs/firewall fee: it recovers GCP support and Cloud Logging bills that a local
 * deployment does not have, and Hail's $0.0217 predates it.
 *
 * Doubles rather than integer micro-dollars: a per-ms rate is a price divided by 3.6e6 and by
 * 1000 or 1024, which no decimal integer unit holds exactly, so exact integers would need BigInt
 * femto-dollars and a rounding at the end anyway. A cost is a short sum of products each within
 * an ulp, exact to about 1e-15 relative (a billionth of a cent on $10,000), and doubles are what
 * the rates table stores.
 */
export const DEFAULT_LOCAL_RATE_CARD: RateCard = rateCard({
  [product.compute(true, LOCAL_REGION)]: ratePerCoreHour(0.006655),
  [product.memory(true, LOCAL_REGION)]: ratePerGiBHour(0.000892),
  [product.compute(false, LOCAL_REGION)]: ratePerCoreHour(0.031611),
  [product.memory(false, LOCAL_REGION)]: ratePerGiBHour(0.004237),
  [product.pdSsd(LOCAL_REGION)]: ratePerGiBHour(0.000232),
  [product.localSsd(true, LOCAL_REGION)]: ratePerGiBMonth(0.048),
  [product.localSsd(false, LOCAL_REGION)]: ratePerGiBMonth(0.08),
  [product.ipFee]: ratePerInstanceHour(0.004),
  [product.serviceFee]: ratePerCoreHour(0.01),
});

/**
 * The local card's region-priced products repeated for other locations (the zones or regions a
 * cloud deployment creates VMs in), so every attempt has a price from its first second; the
 * cloud's own rates are then added as later versions.
 */
export function rateCardForLocations(locations: readonly string[]): RateCard {
  const perLocation: Record<string, number> = {};
  for (const [name, versions] of Object.entries(DEFAULT_LOCAL_RATE_CARD)) {
    if (!name.endsWith(`/${LOCAL_REGION}`)) continue;
    for (const l of locations) perLocation[`${name.slice(0, -LOCAL_REGION.length)}${l}`] = versions[0]!;
  }
  return rateCard(perLocation);
}
