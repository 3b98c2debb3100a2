/**
 * The resource catalogue as stored (one row per `<product>/<version>`) turned back into a rate
 * card, the shape of an admin's price change, and what a billing report adds up. Pure.
 */
import { parseResourceName, type RateCard } from './billing-rates';
import { usageCostBreakdown, type ResourceCost, type ResourceUsage } from './billing';
import { SpecError, showValue } from './errors';
import { unstorableText } from './limits';

export type CatalogueRow = { name: string; product: string; version: number; rate: number };

/**
 * The card a set of catalogue rows describes. Versions of a product must run 1..n without a
 * gap, since a card indexes rates by version; a gap means a corrupt catalogue and throws rather
 * than silently pricing an attempt at a neighbour's rate.
 */
export function rateCardFromRows(rows: readonly CatalogueRow[]): RateCard {
  const byProduct = new Map<string, Map<number, number>>();
  for (const row of rows) {
    const parsed = parseResourceName(row.name);
    if (!parsed || parsed.product !== row.product || parsed.version !== row.version) {
      throw new RangeError(`catalogue row ${row.name} does not match product ${row.product} version ${row.version}`);
    }
    const versions = byProduct.get(row.product) ?? new Map<number, number>();
    versions.set(row.version, row.rate);
    byProduct.set(row.product, versions);
  }
  const card: Record<string, readonly number[]> = {};
  for (const [productName, versions] of byProduct) {
    const rates: number[] = [];
    for (let v = 1; v <= versions.size; v++) {
      const rate = versions.get(v);
      if (rate === undefined) throw new RangeError(`catalogue of ${productName} has no version ${v}`);
      rates.push(rate);
    }
    card[productName] = Object.freeze(rates);
  }
  return Object.freeze(card);
}

export type NewRate = { product: string; rate: number };

/**
 * An admin's price change: `{product, rate}` with the rate in dollars per unit per ms, the unit
 * the catalogue lists. A product name may not end in a version (`/3`), or its resource names
 * would not parse back.
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
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0) {
    throw new SpecError('rate', `expected a number ≥ 0 (dollars per unit per ms), got ${showValue(rate)}`);
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
export type CostSummary = { cost: number; cost_breakdown: ResourceCost[] };

export const NO_COST: CostSummary = Object.freeze({ cost: 0, cost_breakdown: [] }) as CostSummary;

/** A job's or batch's cost from its usage per resource: the breakdown and its sum. */
export function costSummary(usage: readonly ResourceUsage[], card: RateCard): CostSummary {
  const cost_breakdown = usageCostBreakdown(usage, card);
  return { cost: cost_breakdown.reduce((sum, l) => sum + l.cost, 0), cost_breakdown };
}
