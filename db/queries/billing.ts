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
 * the rate card, except in accruedCosts, which needs one number per project.
 */
import { sql, type SQL } from 'drizzle-orm';
import { rawRows, type Queryable } from '../client';
import { intArray, textArray } from './sql-util';
import type { BillingPeriod, ResourceUsage } from '../../domain/billing';
import type { ReportUsage } from '../../domain/billing-catalogue';

const MAIN_END_PATH = sql.raw(`'{container_statuses,main,timing,running,finish_time}'`);

/** Main's end as the agent reported it, or NULL (not reported, or not a number). */
const mainEnd = (a: SQL): SQL =>
  sql`(CASE WHEN jsonb_typeof(${a}.status #> ${MAIN_END_PATH}) = 'number' THEN (${a}.status #>> ${MAIN_END_PATH})::numeric::bigint END)`;

/** The end of an attempt's billed window (LEAST ignores a NULL main end). */
export const billedEndSql = (a: SQL, now: SQL): SQL => sql`LEAST(${mainEnd(a)}, COALESCE(${a}.end_time, ${now}))`;

/** Billed ms of an attempt; 0 before main starts or when clocks put the end before the start. */
export const billedMsSql = (a: SQL, now: SQL): SQL =>
  sql`GREATEST(0, ${billedEndSql(a, now)} - ${a}.start_time)`;

/** The database's clock, for conditions that have no `now` argument (list filters). */
export const DB_NOW_MS = sql`(extract(epoch from clock_timestamp()) * 1000)::bigint`;

const nowParam = (now: number): SQL => sql`${now}::bigint`;

/** Each billed resource of `attempts a` as `r.item`, with its rate as `res.rate`. */
const PRICED_RESOURCES = sql`CROSS JOIN LATERAL jsonb_array_elements(a.resources) AS r(item)
                JOIN resources res ON res.name = r.item->>'name'`;

/** Dollars of one priced resource row: quantity × rate × billed ms. */
const costTerm = (now: SQL): SQL => sql`(r.item->>'quantity')::float8 * res.rate * ${billedMsSql(sql`a`, now)}`;

/** Dollars of the attempts matched by `where` (over `attempts a`), per resource rate; one SQL number. */
export function costSql(where: SQL, now: SQL): SQL {
  return sql`(SELECT COALESCE(SUM(${costTerm(now)}), 0)
                FROM attempts a
                ${PRICED_RESOURCES}
               WHERE a.start_time IS NOT NULL AND ${where})`;
}

export async function accruedCosts(q: Queryable, projects: readonly string[], now: number): Promise<Map<string, number>> {
  const out = new Map<string, number>(projects.map((p) => [p, 0]));
  if (projects.length === 0) return out;
  const rows = await rawRows<{ billing_project: string; cost: number | string | null }>(
    q,
    sql`SELECT b.billing_project, SUM(${costTerm(nowParam(now))}) AS cost
          FROM batches b
          JOIN attempts a ON a.batch_id = b.id
          ${PRICED_RESOURCES}
         WHERE b.billing_project = ANY(${textArray(projects)}) AND a.start_time IS NOT NULL
         GROUP BY b.billing_project`,
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

/** One aggregate for many attempts: usage per (key, resource). */
function usageQuery(key: SQL, where: SQL, now: number): SQL {
  return sql`SELECT ${key} AS k, r.item->>'name' AS resource,
                    SUM((r.item->>'quantity')::numeric * ${billedMsSql(sql`a`, nowParam(now))}) AS usage
               FROM attempts a
               CROSS JOIN LATERAL jsonb_array_elements(a.resources) AS r(item)
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
  const to = period.endMsExclusive === null ? end : sql`LEAST(${end}, ${period.endMsExclusive}::bigint)`;
  const overlap = sql`GREATEST(0, ${to} - GREATEST(a.start_time, ${period.startMs}::bigint))`;
  const rows = await rawRows<{ billing_project: string; user: string; resource: string; usage: string | number }>(
    q,
    sql`SELECT b.billing_project, b."user", r.item->>'name' AS resource, SUM((r.item->>'quantity')::numeric * ${overlap}) AS usage
          FROM attempts a
          JOIN batches b ON b.id = a.batch_id
          CROSS JOIN LATERAL jsonb_array_elements(a.resources) AS r(item)
         WHERE a.start_time IS NOT NULL
           AND ${end} > ${period.startMs}::bigint
           ${period.endMsExclusive === null ? sql`` : sql`AND a.start_time < ${period.endMsExclusive}::bigint`}
           ${onlyUser === null ? sql`` : sql`AND b."user" = ${onlyUser}`}
         GROUP BY 1, 2, 3
         ORDER BY 1, 2, 3`,
  );
  const groups = new Map<string, ReportUsage & { usage: ResourceUsage[] }>();
  for (const r of rows) {
    const usage = Number(r.usage);
    if (usage <= 0) continue;
    const key = JSON.stringify([r.billing_project, r.user]);
    const g = groups.get(key) ?? { billing_project: r.billing_project, user: r.user, usage: [] };
    g.usage.push({ resource: r.resource, usage });
    groups.set(key, g);
  }
  return [...groups.values()];
}
