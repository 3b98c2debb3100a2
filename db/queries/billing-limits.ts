/** What the limit enforcer reads: projects that have a limit, and their batches still running. */
import { sql } from 'drizzle-orm';
import { rawRows, type Queryable } from '../client';
import { textArray } from './sql-util';

export async function limitedProjects(q: Queryable): Promise<{ name: string; limit: number }[]> {
  const rows = await rawRows<{ name: string; limit: number | string }>(
    q,
    sql`SELECT name, "limit" FROM billing_projects WHERE "limit" IS NOT NULL AND status <> 'deleted' ORDER BY name`,
  );
  return rows.map((r) => ({ name: r.name, limit: Number(r.limit) }));
}

/** Batches of these projects with work still going on, cancelled or not, oldest first. */
export async function runningBatchesOf(
  q: Queryable,
  projects: readonly string[],
  limit: number,
): Promise<{ id: number; cancelled: boolean }[]> {
  if (projects.length === 0) return [];
  const rows = await rawRows<{ id: number | string; cancelled: boolean }>(
    q,
    sql`SELECT id, cancelled FROM batches
         WHERE billing_project = ANY(${textArray(projects)}) AND stored_state = 'running'
         ORDER BY id LIMIT ${limit}`,
  );
  return rows.map((r) => ({ id: Number(r.id), cancelled: r.cancelled }));
}
