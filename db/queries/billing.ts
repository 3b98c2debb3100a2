/**
 * What attempts have cost, derived rather than accumulated: each attempt's recorded resources
 * (name and quantity, fixed when main started) times the billed milliseconds, times the rate of
 * the resource's version. A duplicated or retried report changes no fact these read, so nothing
 * is ever billed twice.
 *
 * The billed window is domain/billing.ts billedWindow in SQL: from main's start
 * (attempts.start_time) to main's end (the finish of main's running span in the status document
 * the agent reported) or the attempt's end, whichever is first; to `now` while it runs.
 * Usage (Σ quantity × ms) is summed here per resource; rates are applied by the caller with
 * the rate card, except in accruedCosts, which needs one number per project. Cluster nodes are
 * billed the same way, from their start to their removal, to the project fixed on the node, and
 * count in a project's accrued cost (so its limit) and in the billing report.
 */
import { sql, type SQL } from 'drizzle-orm';
import { rawRows, type Queryable } from '../client';
import { intArray, textArray } from './sql-util';
import type { BillingPeriod, ResourceUsage } from '../../domain/billing';
import type { ReportUsage } from '../../domain/billing-catalogue';
import { MAX_RATE_PER_UNIT_MS } from '../../domain/billing-rates';

const MAIN_END_PATH = sql.raw(`'{container_statuses,main,timing,running,finish_time}'`);

/**
 * Bounds on stored numbers a cost is made of. A read must never fail on a stored value, and
 * PostgreSQL raises on a bigint or float8 overflow where JavaScript would carry on, so anything
 * outside these reads as absent (a main end) or 0 (a quantity). Nested CASEs, because only
 * CASE fixes the order in which PostgreSQL evaluates (and so casts) its arguments.
 */
const MAX_QUANTITY = sql.raw('1e15');
const MAX_EPOCH_MS = sql.raw('1e16');

/** Main's end as the agent reported it, or NULL (not reported, not a number, or out of range). */
const mainEnd = (a: SQL): SQL =>
  sql`(CASE WHEN jsonb_typeof(${a}.status #> ${MAIN_END_PATH}) = 'number' THEN
         CASE WHEN (${a}.status #>> ${MAIN_END_PATH})::numeric BETWEEN 0 AND ${MAX_EPOCH_MS}
              THEN (${a}.status #>> ${MAIN_END_PATH})::numeric::bigint END END)`;

/** A recorded resource's quantity (`r.item`), or 0 when it is not a number in [0, 1e15]. */
const QUANTITY = sql`(CASE WHEN jsonb_typeof(r.item->'quantity') = 'number' THEN
         CASE WHEN (r.item->>'quantity')::numeric BETWEEN 0 AND ${MAX_QUANTITY}
              THEN (r.item->>'quantity')::numeric ELSE 0 END ELSE 0 END)`;

/** The end of an attempt's billed window (LEAST ignores a NULL main end). */
export const billedEndSql = (a: SQL, now: SQL): SQL => sql`LEAST(${mainEnd(a)}, COALESCE(${a}.end_time, ${now}))`;

/**
 * Billed ms of an attempt; 0 before main starts or when clocks put the end before the start.
 * In numeric, so no pair of stored times can overflow the subtraction.
 */
export const billedMsSql = (a: SQL, now: SQL): SQL =>
  sql`GREATEST(0, LEAST(${billedEndSql(a, now)}::numeric - ${a}.start_time::numeric, ${MAX_EPOCH_MS}))`;

/** The database's clock, for conditions that have no `now` argument (list filters). */
export const DB_NOW_MS = sql`(extract(epoch from clock_timestamp()) * 1000)::bigint`;

const nowParam = (now: number): SQL => sql`${now}::bigint`;

/**
 * The rate each catalogue row prices at: its own when usable (0 < rate ≤ MAX_RATE_PER_UNIT_MS,
 * which NaN and ±Infinity are not), else the product's last usable rate before it, else 0;
 * rows whose name does not spell their product and version are left out. The same rule as
 * domain/billing-catalogue.ts rateCardFromRows, so SQL sums and the priced JSON agree, and one
 * row stored before the bounds held (1e308) cannot overflow every sum it enters.
 */
export const effectiveRatesSql = sql`(SELECT v.name, v.product, v.version, v.time_created,
                COALESCE(v.usable[cardinality(v.usable)], 0)::float8 AS rate
           FROM (SELECT name, product, version, time_created,
                        array_agg(rate) FILTER (WHERE rate > 0 AND rate <= ${sql.raw(String(MAX_RATE_PER_UNIT_MS))})
                          OVER (PARTITION BY product ORDER BY version) AS usable
                   FROM resources
                  WHERE name = product || '/' || version) v)`;

/** Each billed resource of the row `alias` (an attempt or a cluster node) as `r.item`; none when its value is not an array. */
const resourceItems = (alias: 'a' | 'n'): SQL => {
  const resources = sql.raw(`${alias}.resources`);
  return sql`CROSS JOIN LATERAL jsonb_array_elements(
                  CASE WHEN jsonb_typeof(${resources}) = 'array' THEN ${resources} ELSE '[]'::jsonb END) AS r(item)`;
};
const RESOURCE_ITEMS = resourceItems('a');

/** Each billed resource of the row `alias` as `r.item`, with its rate as `res.rate`. */
const pricedResources = (alias: 'a' | 'n'): SQL => sql`${resourceItems(alias)}
                JOIN ${effectiveRatesSql} res ON res.name = r.item->>'name'`;
const PRICED_RESOURCES = pricedResources('a');

/** Dollars of one priced resource row: quantity × rate × billed ms, each bounded, so always finite. */
const costTerm = (billedMs: SQL): SQL => sql`(${QUANTITY}::float8 * res.rate * ${billedMs}::float8)`;
/** The same for a row of `attempts a`. */
const attemptCostTerm = (now: SQL): SQL => costTerm(billedMsSql(sql`a`, now));

/** Dollars of the attempts matched by `where` (over `attempts a`), per resource rate; one SQL number. */
export function costSql(where: SQL, now: SQL): SQL {
  return sql`(SELECT COALESCE(SUM(${attemptCostTerm(now)}), 0)
                FROM attempts a
                ${PRICED_RESOURCES}
               WHERE a.start_time IS NOT NULL AND ${where})`;
}

/** Billed ms of a cluster node `n`: from its start to its removal, or to now (domain/clusters/costs.ts nodeBilledMs). */
const nodeBilledMsSql = (now: SQL): SQL =>
  sql`GREATEST(0, LEAST(COALESCE(n.time_removed, ${now})::numeric - n.time_started::numeric, ${MAX_EPOCH_MS}))`;

/**
 * Dollars per billing project so far: its batches' attempts and its cluster nodes (billed to
 * the project the node was made for), each resource at its version's rate.
 */
export async function accruedCosts(q: Queryable, projects: readonly string[], now: number): Promise<Map<string, number>> {
  const out = new Map<string, number>(projects.map((p) => [p, 0]));
  if (projects.length === 0) return out;
  const rows = await rawRows<{ billing_project: string; cost: number | string | null }>(
    q,
    sql`SELECT billing_project, SUM(cost) AS cost FROM (
          SELECT b.billing_project, SUM(${attemptCostTerm(nowParam(now))}) AS cost
            FROM batches b
            JOIN attempts a ON a.batch_id = b.id
            ${PRICED_RESOURCES}
           WHERE b.billing_project = ANY(${textArray(projects)}) AND a.start_time IS NOT NULL
           GROUP BY b.billing_project
          UNION ALL
          SELECT n.billing_project, SUM(${costTerm(nodeBilledMsSql(nowParam(now)))}) AS cost
            FROM cluster_nodes n
            ${pricedResources('n')}
           WHERE n.billing_project = ANY(${textArray(projects)})
           GROUP BY n.billing_project) parts
         GROUP BY billing_project`,
  );
  for (const r of rows) out.set(r.billing_project, Number(r.cost ?? 0));
  return out;
}

type UsageRow = { k: string | number; resource: string; usage: string | number };

function groupUsage<K>(rows: readonly UsageRow[], key: (k: string | number) => K): Map<K, ResourceUsage[]> {
  const out = new Map<K, ResourceUsage[]>();
  for (const r of rows) {
    const k = key(r.k);
    const list = out.get(k) ?? [];
    list.push({ resource: r.resource, usage: Number(r.usage) });
    out.set(k, list);
  }
  return out;
}

/** One aggregate for many attempts: usage per (key, resource); `join` brings in what the key reads. */
function usageQuery(key: SQL, where: SQL, now: number, join: SQL = sql``): SQL {
  return sql`SELECT ${key} AS k, r.item->>'name' AS resource,
                    SUM(${QUANTITY} * ${billedMsSql(sql`a`, nowParam(now))}) AS usage
               FROM attempts a
               ${join}
               ${RESOURCE_ITEMS}
              WHERE a.start_time IS NOT NULL AND ${where}
              GROUP BY 1, 2
              ORDER BY 1, 2`;
}

/** Usage per resource of each listed job of a batch (all its attempts), in one statement. */
export async function jobsUsage(q: Queryable, batchId: number, jobIds: readonly number[], now: number): Promise<Map<number, ResourceUsage[]>> {
  if (jobIds.length === 0) return new Map();
  const rows = await rawRows<UsageRow>(q, usageQuery(sql`a.job_id`, sql`a.batch_id = ${batchId} AND a.job_id = ANY(${intArray(jobIds)})`, now));
  return groupUsage(rows, Number);
}

/**
 * Usage per resource of each listed job group: every attempt of every job in it or below it,
 * in one statement. It starts from the batch's attempts, so its cost follows what has run,
 * not how many jobs the groups hold (100,000 waiting jobs cost nothing here).
 */
export async function jobGroupsUsage(q: Queryable, batchId: number, jobGroupIds: readonly number[], now: number): Promise<Map<number, ResourceUsage[]>> {
  if (jobGroupIds.length === 0) return new Map();
  const join = sql`JOIN jobs j ON j.batch_id = a.batch_id AND j.job_id = a.job_id
                   JOIN job_group_self_and_ancestors s ON s.batch_id = j.batch_id AND s.job_group_id = j.job_group_id`;
  const rows = await rawRows<UsageRow>(q, usageQuery(sql`s.ancestor_id`, sql`a.batch_id = ${batchId} AND s.ancestor_id = ANY(${intArray(jobGroupIds)})`, now, join));
  return groupUsage(rows, Number);
}

/** Usage per resource of one job group (jobGroupsUsage of one). */
export async function jobGroupUsage(q: Queryable, batchId: number, jobGroupId: number, now: number): Promise<Map<number, ResourceUsage[]>> {
  return jobGroupsUsage(q, batchId, [jobGroupId], now);
}

/** Usage per resource of each listed batch (all attempts of all its jobs), in one statement. */
export async function batchesUsage(q: Queryable, batchIds: readonly number[], now: number): Promise<Map<number, ResourceUsage[]>> {
  if (batchIds.length === 0) return new Map();
  const ids = sql`${`{${batchIds.join(',')}}`}::bigint[]`;
  const rows = await rawRows<UsageRow>(q, usageQuery(sql`a.batch_id`, sql`a.batch_id = ANY(${ids})`, now));
  return groupUsage(rows, Number);
}

/**
 * Usage per project, user and resource of the billed windows' parts that fall in `period`.
 * `onlyUser` limits the report to one user's batches (what a non-admin may see).
 */
export async function periodUsage(
  q: Queryable,
  period: BillingPeriod,
  now: number,
  onlyUser: string | null,
): Promise<ReportUsage[]> {
  const a = sql`a`;
  const end = billedEndSql(a, nowParam(now));
  /** The ms of a billed window [start, end) inside the period. */
  const overlapOf = (start: SQL, windowEnd: SQL): SQL => {
    const to = period.endMsExclusive === null ? windowEnd : sql`LEAST(${windowEnd}, ${period.endMsExclusive}::bigint)`;
    return sql`GREATEST(0, ${to}::numeric - GREATEST(${start}, ${period.startMs}::bigint)::numeric)`;
  };
  const overlap = overlapOf(sql`a.start_time`, end);
  // Cluster nodes count in the same report, billed to the project and user fixed on each node.
  const nodeEnd = sql`COALESCE(n.time_removed, ${nowParam(now)})`;
  const nodeOverlap = overlapOf(sql`n.time_started`, nodeEnd);
  const rows = await rawRows<{ billing_project: string; user: string; resource: string; usage: string | number }>(
    q,
    sql`SELECT b.billing_project, b."user", r.item->>'name' AS resource, SUM(${QUANTITY} * ${overlap}) AS usage
          FROM attempts a
          JOIN batches b ON b.id = a.batch_id
          ${RESOURCE_ITEMS}
         WHERE a.start_time IS NOT NULL
           AND ${end} > ${period.startMs}::bigint
           ${period.endMsExclusive === null ? sql`` : sql`AND a.start_time < ${period.endMsExclusive}::bigint`}
           ${onlyUser === null ? sql`` : sql`AND b."user" = ${onlyUser}`}
         GROUP BY 1, 2, 3
        UNION ALL
        SELECT n.billing_project, n."user", r.item->>'name' AS resource, SUM(${QUANTITY} * ${nodeOverlap}) AS usage
          FROM cluster_nodes n
          ${resourceItems('n')}
         WHERE ${nodeEnd} > ${period.startMs}::bigint
           ${period.endMsExclusive === null ? sql`` : sql`AND n.time_started < ${period.endMsExclusive}::bigint`}
           ${onlyUser === null ? sql`` : sql`AND n."user" = ${onlyUser}`}
         GROUP BY 1, 2, 3
         ORDER BY 1, 2, 3`,
  );
  const groups = new Map<string, ReportUsage & { usage: ResourceUsage[] }>();
  for (const r of rows) {
    const usage = Number(r.usage);
    if (usage <= 0) continue;
    const key = JSON.stringify([r.billing_project, r.user]);
    const g = groups.get(key) ?? { billing_project: r.billing_project, user: r.user, usage: [] };
    // A resource can come from both attempts and cluster nodes: one entry, summed.
    const same = g.usage.find((u) => u.resource === r.resource);
    if (same) same.usage += usage;
    else g.usage.push({ resource: r.resource, usage });
    groups.set(key, g);
  }
  return [...groups.values()];
}
