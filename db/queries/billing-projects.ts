/**
 * Billing projects: listings with their members, and the admin transitions (create, close,
 * reopen, delete, members, limit). Each transition locks the project row and asks
 * domain/accounts.ts what the action does in the current status, so two admins racing on one
 * project see one outcome, and a repeated call changes nothing.
 */
import { and, asc, eq, exists, inArray, ne, or, sql, type SQL } from 'drizzle-orm';
import { batches, batchUpdates, billingProjects, billingProjectUsers } from '../schema';
import type { Db, Queryable, Tx } from '../client';
import { DbError } from './errors';
import { findUser } from './accounts';
import {
  limitRefusal,
  membershipRefusal,
  projectTransition,
  type ProjectAction,
  type ProjectStatus,
} from '../../domain/accounts';

export type ProjectListing = { name: string; status: ProjectStatus; limit: number | null; users: string[] };

/** Projects by name and/or member, oldest name first, each with its members sorted by name. */
export async function listProjects(q: Queryable, opts: { member?: string; name?: string } = {}): Promise<ProjectListing[]> {
  const where: SQL[] = [];
  if (opts.name !== undefined) where.push(eq(billingProjects.name, opts.name));
  if (opts.member !== undefined) {
    where.push(
      exists(
        q
          .select({ one: sql`1` })
          .from(billingProjectUsers)
          .where(and(eq(billingProjectUsers.billingProject, billingProjects.name), eq(billingProjectUsers.username, opts.member))),
      ),
    );
  }
  const projects = await q
    .select({ name: billingProjects.name, status: billingProjects.status, limit: billingProjects.limit })
    .from(billingProjects)
    .where(and(...where))
    .orderBy(asc(billingProjects.name));
  if (projects.length === 0) return [];
  const members = await q
    .select({ p: billingProjectUsers.billingProject, u: billingProjectUsers.username })
    .from(billingProjectUsers)
    .where(inArray(billingProjectUsers.billingProject, projects.map((p) => p.name)))
    .orderBy(asc(billingProjectUsers.username));
  const byProject = new Map<string, string[]>();
  for (const m of members) byProject.set(m.p, [...(byProject.get(m.p) ?? []), m.u]);
  return projects.map((p) => ({ ...p, users: byProject.get(p.name) ?? [] }));
}

/** Creates an open project; creating one that exists (in any status) succeeds and changes nothing, as Hail. */
export async function createProject(db: Db, name: string): Promise<{ created: boolean }> {
  const rows = await db.insert(billingProjects).values({ name }).onConflictDoNothing().returning({ name: billingProjects.name });
  return { created: rows.length > 0 };
}

async function lockProject(tx: Tx, name: string): Promise<ProjectStatus> {
  const rows = await tx
    .select({ status: billingProjects.status })
    .from(billingProjects)
    .where(eq(billingProjects.name, name))
    .for('update');
  const row = rows[0];
  // Hail answers an unknown project with 403 on every billing-project route.
  if (!row) throw new DbError('forbidden', `unknown billing project ${name}`, 'billing_project');
  return row.status;
}

/**
 * Batches that keep a project from closing (Hail's `time_completed IS NULL`): not deleted, and
 * either not complete or with an update not yet committed, which would start jobs once it is.
 */
async function hasOpenBatches(q: Queryable, name: string): Promise<boolean> {
  const pendingUpdate = exists(
    q
      .select({ one: sql`1` })
      .from(batchUpdates)
      .where(and(eq(batchUpdates.batchId, batches.id), eq(batchUpdates.committed, false))),
  );
  const rows = await q
    .select({ id: batches.id })
    .from(batches)
    .where(and(eq(batches.billingProject, name), eq(batches.deleted, false), or(ne(batches.storedState, 'complete'), pendingUpdate)))
    .limit(1);
  return rows.length > 0;
}

export async function changeProjectStatus(db: Db, name: string, action: ProjectAction): Promise<{ status: ProjectStatus; changed: boolean }> {
  return db.transaction(async (tx) => {
    const status = await lockProject(tx, name);
    const open = action === 'close' && status === 'open' ? await hasOpenBatches(tx, name) : false;
    const t = projectTransition(name, status, action, open);
    if (t.kind === 'refused') throw new DbError('forbidden', t.message, 'billing_project');
    if (t.kind === 'unchanged') return { status, changed: false };
    await tx.update(billingProjects).set({ status: t.status }).where(eq(billingProjects.name, name));
    return { status: t.status, changed: true };
  });
}

/** Adds an existing user to an open project; adding a member again succeeds, as Hail. */
export async function addMember(db: Db, name: string, username: string): Promise<{ changed: boolean }> {
  return db.transaction(async (tx) => {
    const status = await lockProject(tx, name);
    const refusal = membershipRefusal(name, status);
    if (refusal) throw new DbError('forbidden', refusal, 'billing_project');
    if (!(await findUser(tx, username))) throw new DbError('not_found', `user ${username} does not exist`, 'user');
    const rows = await tx
      .insert(billingProjectUsers)
      .values({ billingProject: name, username })
      .onConflictDoNothing()
      .returning({ u: billingProjectUsers.username });
    return { changed: rows.length > 0 };
  });
}

/**
 * Removes a member from an open project. Removing someone who is not a member succeeds and
 * changes nothing, so a retried removal cannot fail after the first one went through.
 */
export async function removeMember(db: Db, name: string, username: string): Promise<{ changed: boolean }> {
  return db.transaction(async (tx) => {
    const status = await lockProject(tx, name);
    const refusal = membershipRefusal(name, status);
    if (refusal) throw new DbError('forbidden', refusal, 'billing_project');
    const rows = await tx
      .delete(billingProjectUsers)
      .where(and(eq(billingProjectUsers.billingProject, name), eq(billingProjectUsers.username, username)))
      .returning({ u: billingProjectUsers.username });
    return { changed: rows.length > 0 };
  });
}

export async function setProjectLimit(db: Db, name: string, limit: number | null): Promise<void> {
  await db.transaction(async (tx) => {
    const status = await lockProject(tx, name);
    const refusal = limitRefusal(name, status);
    if (refusal) throw new DbError('forbidden', refusal, 'billing_project');
    await tx.update(billingProjects).set({ limit }).where(eq(billingProjects.name, name));
  });
}
