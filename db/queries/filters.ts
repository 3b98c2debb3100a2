/**
 * Compiles the typed list queries of domain/query-ast into SQL conditions. Values always travel
 * as parameters; only operators from the closed AST sets are spliced into the text.
 */
import { sql, type SQL } from 'drizzle-orm';
import type {
  BatchClause,
  BatchQuery,
  ComparisonOp,
  JobClause,
  JobQuery,
  MatchOp,
  SharedClause,
} from '../../domain/query-ast';
import { costSql, DB_NOW_MS } from './billing';

const op = (o: ComparisonOp): SQL => sql.raw(o === '!=' ? '<>' : o);
const likeEscape = (s: string) => `%${s.replace(/[\\%_]/g, (m) => `\\${m}`)}%`;

function match(column: SQL, o: MatchOp, value: string): SQL {
  switch (o) {
    case '=':
      return sql`${column} = ${value}`;
    case '!=':
      return sql`${column} IS DISTINCT FROM ${value}`;
    case '=~':
      return sql`${column} LIKE ${likeEscape(value)}`;
    case '!~':
      return sql`${column} NOT LIKE ${likeEscape(value)}`;
  }
}

/**
 * Relative slack of a cost comparison. The JSON cost (summed in TypeScript) and this SQL sum add
 * the same float8 terms in another order, so they may differ in the last bits; without slack,
 * `cost <= X` with X copied from a job's JSON could miss that very job.
 */
const COST_SLACK = 1e-9;

function costCompare(cost: SQL, o: ComparisonOp, value: number): SQL {
  const tol = sql`(${COST_SLACK}::float8 * GREATEST(abs(${value}::float8), 1e-300))`;
  switch (o) {
    case '=':
      return sql`abs(${cost} - ${value}::float8) <= ${tol}`;
    case '!=':
      return sql`abs(${cost} - ${value}::float8) > ${tol}`;
    case '<':
      return sql`${cost} < ${value}::float8 - ${tol}`;
    case '<=':
      return sql`${cost} <= ${value}::float8 + ${tol}`;
    case '>':
      return sql`${cost} > ${value}::float8 + ${tol}`;
    case '>=':
      return sql`${cost} >= ${value}::float8 - ${tol}`;
  }
}

function shared(c: SharedClause, attrs: SQL, start: SQL, end: SQL, cost: SQL): SQL {
  switch (c.kind) {
    case 'attribute':
      // As Hail: `k != v` holds only for rows that have k (with another value), like `k !~ v`.
      return c.op === '!='
        ? sql`(${attrs} ->> ${c.key}) <> ${c.value}`
        : match(sql`(${attrs} ->> ${c.key})`, c.op, c.value);
    case 'has_attribute':
      return sql`jsonb_exists(${attrs}, ${c.key})`;
    case 'keyword':
      return c.exact
        ? sql`EXISTS (SELECT 1 FROM jsonb_each_text(${attrs}) kv WHERE kv.key = ${c.text} OR kv.value = ${c.text})`
        : sql`EXISTS (SELECT 1 FROM jsonb_each_text(${attrs}) kv WHERE kv.key LIKE ${likeEscape(c.text)} OR kv.value LIKE ${likeEscape(c.text)})`;
    case 'start_time':
      return sql`${start} ${op(c.op)} ${c.time_ms}`;
    case 'end_time':
      return sql`${end} ${op(c.op)} ${c.time_ms}`;
    case 'duration':
      return sql`(${end} - ${start}) ${op(c.op)} ${c.duration_ms}`;
    case 'cost':
      // Live cost, at the database's clock: a running job's cost grows while it is compared.
      return costCompare(cost, c.op, c.value);
  }
}

const BATCH_STATE_SQL: Record<string, SQL> = {
  open: sql`b.stored_state = 'open'`,
  closed: sql`b.stored_state <> 'open'`,
  complete: sql`b.stored_state = 'complete'`,
  running: sql`b.stored_state = 'running'`,
  cancelled: sql`b.cancelled`,
  failure: sql`b.n_failed > 0`,
  success: sql`(b.stored_state = 'complete' AND b.n_succeeded = b.n_jobs)`,
};

function batchClause(c: BatchClause): SQL {
  switch (c.kind) {
    case 'not':
      return sql`NOT (${batchClause(c.clause)})`;
    case 'batch_id':
      return sql`b.id ${op(c.op)} ${c.value}`;
    case 'user':
      return match(sql`b."user"`, c.op, c.value);
    case 'billing_project':
      return match(sql`b.billing_project`, c.op, c.value);
    case 'state': {
      const cond = BATCH_STATE_SQL[c.state]!;
      return c.op === '=' ? cond : sql`NOT (${cond})`;
    }
    default:
      return shared(c, sql`b.attributes`, sql`b.time_created`, sql`b.time_completed`, costSql(sql`a.batch_id = b.id`, DB_NOW_MS));
  }
}

/** The batch query as a condition on the `batches` table (aliased b through a subselect). */
export function batchFilter(q: BatchQuery): SQL | undefined {
  if (q.length === 0) return undefined;
  const conds = q.map(batchClause);
  return sql`batches.id IN (SELECT b.id FROM batches b WHERE ${sql.join(conds, sql` AND `)})`;
}

const JOB_COST = costSql(sql`a.batch_id = jobs.batch_id AND a.job_id = jobs.job_id`, DB_NOW_MS);

const instanceOf = sql`(SELECT a.instance_name FROM attempts a WHERE a.batch_id = jobs.batch_id AND a.job_id = jobs.job_id AND a.attempt_id = jobs.attempt_id)`;

function jobClause(c: JobClause): SQL {
  switch (c.kind) {
    case 'not':
      return sql`NOT (${jobClause(c.clause)})`;
    case 'job_id':
      return sql`jobs.job_id ${op(c.op)} ${c.value}`;
    case 'state': {
      const cond = sql`jobs.state::text = ANY(${`{${c.states.join(',')}}`}::text[])`;
      return c.op === '=' ? cond : sql`NOT (${cond})`;
    }
    case 'instance':
      return match(instanceOf, c.op, c.value);
    case 'instance_collection':
      return match(sql`jobs.pool`, c.op, c.value);
    case 'exit_code':
      return sql`jobs.exit_code ${op(c.op)} ${c.value}`;
    case 'keyword': {
      const attr = shared(c, sql`jobs.attributes`, sql`jobs.start_time`, sql`jobs.end_time`, JOB_COST);
      const inst = c.exact ? sql`${instanceOf} = ${c.text}` : sql`${instanceOf} LIKE ${likeEscape(c.text)}`;
      return sql`(${attr} OR coalesce(${inst}, false))`;
    }
    default:
      return shared(c, sql`jobs.attributes`, sql`jobs.start_time`, sql`jobs.end_time`, JOB_COST);
  }
}

export function jobFilter(q: JobQuery): SQL | undefined {
  if (q.length === 0) return undefined;
  const conds = q.map(jobClause);
  // On the listed row itself: a subquery over jobs here made PostgreSQL join the batch's jobs
  // to themselves, minutes at 100,000 jobs when few rows match.
  return sql`(${sql.join(conds, sql` AND `)})`;
}
