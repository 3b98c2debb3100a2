/**
 * The resource catalogue as stored (one row per `<product>/<version>`) turned back into a rate
 * card, the shape of an admin's price change, and what a billing report adds up. Pure.
 */
import { isBillableProduct, isUsableRate, MAX_RATE_PER_UNIT_MS, parseResourceName, type RateCard } from './billing-rates';
import { usageCostBreakdown, type ResourceCost, type ResourceUsage } from './billing';
import { SpecError, showValue } from './errors';
import { unstorableText } from './limits';

export type CatalogueRow = { name: string; product: string; version: number; rate: number };

/**
 * The card a set of catalogue rows describes, as billing prices with it. Every stored row is
 * data someone may have written before the rules held, and a read must never fail on one: a
 * version whose rate is not usable (isUsableRate), or that is missing, prices at the product's
 * last usable rate before it — what the product cost before the bad change — or at 0 when there
 * is none; a row whose name does not spell its product and version names nothing and is
 * skipped. db/queries/billing.ts prices in SQL by the same rule (`effectiveRates`).
 */
export function rateCardFromRows(rows: readonly CatalogueRow[]): RateCard {
  const byProduct = new Map<string, Map<number, number>>();
  for (const row of rows) {
    const parsed = parseResourceName(row.name);
    if (!parsed || parsed.product !== row.product || parsed.version !== row.version) continue;
    const versions = byProduct.get(row.product) ?? new Map<number, number>();
    versions.set(row.version, row.rate);
    byProduct.set(row.product, versions);
  }
  const card: Record<string, readonly number[]> = {};
  for (const [productName, versions] of byProduct) {
    const rates: number[] = [];
    let lastUsable = 0;
    for (let v = 1; v <= Math.max(...versions.keys()); v++) {
      const rate = versions.get(v);
      if (rate !== undefined && isUsableRate(rate)) lastUsable = rate;
      rates.push(lastUsable);
    }
    card[productName] = Object.freeze(rates);
  }
  return Object.freeze(card);
}

export type NewRate = { product: string; rate: number };

/**
 * An admin's price change: `{product, rate}` with the rate in dollars per unit per ms, the unit
 * the catalogue lists. The product must be one billing uses (a rate for anything else prices
 * nothing), and the rate usable (isUsableRate): one stored rate multiplies every attempt's
 * cost, so an unbounded one would overflow every sum it enters.
 */
export function parseNewRate(body: unknown): NewRate {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new SpecError('body', 'expected an object {product, rate}');
  }
  const { product, rate, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw new SpecError(unknown, `unknown field; expected product and rate`);
  if (typeof product !== 'string' || product.trim() === '' || product !== product.trim()) {
    throw new SpecError('product', `expected a product name such as 'service-fee', got ${showValue(product)}`);
  }
  if (product.endsWith('/') || product.startsWith('/') || parseResourceName(product) !== null || product.length > 200) {
    throw new SpecError('product', `invalid product name ${showValue(product)}: it may not start or end with '/' or end in a version`);
  }
  const unstorable = unstorableText(product);
  if (unstorable !== null) throw new SpecError('product', `invalid product name: it ${unstorable}`);
  if (!isBillableProduct(product)) {
    throw new SpecError(
      'product',
      `unknown product ${showValue(product)}; expected one billing uses, e.g. 'service-fee', 'ip-fee/1024' or 'compute/n1-preemptible/<region>'`,
    );
  }
  if (typeof rate !== 'number' || !isUsableRate(rate)) {
    throw new SpecError(
      'rate',
      `expected a number > 0 and ≤ ${MAX_RATE_PER_UNIT_MS} (dollars per unit per ms), got ${showValue(rate)}`,
    );
  }
  return { product, rate };
}

/** One group of a billing report: whose spending, and its usage per resource in the period. */
export type ReportUsage = { billing_project: string; user: string; usage: readonly ResourceUsage[] };

export type SpendRow = { billing_project: string; user: string; total_spent: number };
export type SpendBreakdownRow = { billing_project: string; user: string; resource: string; cost: number };

/** Hail's `billing` report: one row per project and user, with what they spent, sorted. */
export function spendReport(groups: readonly ReportUsage[], card: RateCard): SpendRow[] {
  return spendBreakdown(groups, card)
    .reduce<SpendRow[]>((rows, line) => {
      const last = rows[rows.length - 1];
      if (last && last.billing_project === line.billing_project && last.user === line.user) last.total_spent += line.cost;
      else rows.push({ billing_project: line.billing_project, user: line.user, total_spent: line.cost });
      return rows;
    }, []);
}

/** Hail's `billing_breakdown`: one row per project, user and resource, each with its cost. */
export function spendBreakdown(groups: readonly ReportUsage[], card: RateCard): SpendBreakdownRow[] {
  const sorted = [...groups].sort(
    (a, b) => compare(a.billing_project, b.billing_project) || compare(a.user, b.user),
  );
  return sorted.flatMap((g) => {
    const lines: ResourceCost[] = usageCostBreakdown(g.usage, card);
    return lines.map((l) => ({ billing_project: g.billing_project, user: g.user, resource: l.resource, cost: l.cost }));
  });
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Cost and its breakdown as the job and batch JSON carry them. */
/** `msec_mcpu`: the thousandths of a core times the milliseconds the job's main ran (Hail's field). */
export type CostSummary = { cost: number; cost_breakdown: ResourceCost[]; msec_mcpu: number };

export const NO_COST: CostSummary = Object.freeze({ cost: 0, cost_breakdown: [], msec_mcpu: 0 }) as CostSummary;

/** A job's or batch's cost from its usage per resource: the breakdown, its sum and its core time. */
export function costSummary(usage: readonly ResourceUsage[], card: RateCard): CostSummary {
  const cost_breakdown = usageCostBreakdown(usage, card);
  return { cost: cost_breakdown.reduce((sum, l) => sum + l.cost, 0), cost_breakdown, msec_mcpu: msecMcpu(usage) };
}

/** Compute is billed in mcpu, so its usage (quantity × ms) is exactly the core time. */
export function msecMcpu(usage: readonly ResourceUsage[]): number {
  const total = usage.filter((u) => u.resource.startsWith('compute/')).reduce((sum, u) => sum + u.usage, 0);
  return Number.isFinite(total) ? Math.round(total) : 0;
}
