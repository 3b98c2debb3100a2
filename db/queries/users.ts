import { and, eq } from 'drizzle-orm';
import { billingProjects, billingProjectUsers, tokens, users } from '../schema';
import type { Db, Queryable } from '../client';
import { hashToken } from './tokens';

export type UserRow = typeof users.$inferSelect;
export type BillingProjectRow = typeof billingProjects.$inferSelect;

export async function userForToken(q: Queryable, token: string): Promise<UserRow | null> {
  const rows = await q
    .select({ username: users.username, isAdmin: users.isAdmin, createdAt: users.createdAt })
    .from(tokens)
    .innerJoin(users, eq(users.username, tokens.username))
    .where(eq(tokens.tokenHash, hashToken(token)));
  return rows[0] ?? null;
}

export async function ensureUser(db: Db, username: string, isAdmin = false): Promise<void> {
  await db.insert(users).values({ username, isAdmin }).onConflictDoNothing();
}

/** Stores a token for a user; the plain token is the caller's to keep. Idempotent. */
export async function addToken(db: Db, username: string, token: string): Promise<void> {
  await db.insert(tokens).values({ tokenHash: hashToken(token), username }).onConflictDoNothing();
}

export async function ensureBillingProject(db: Db, name: string): Promise<void> {
  await db.insert(billingProjects).values({ name }).onConflictDoNothing();
}

export async function addProjectMember(db: Db, billingProject: string, username: string): Promise<void> {
  await db.insert(billingProjectUsers).values({ billingProject, username }).onConflictDoNothing();
}

export async function getBillingProject(q: Queryable, name: string): Promise<BillingProjectRow | null> {
  const rows = await q.select().from(billingProjects).where(eq(billingProjects.name, name));
  return rows[0] ?? null;
}

export async function isProjectMember(q: Queryable, billingProject: string, username: string): Promise<boolean> {
  const rows = await q
    .select({ u: billingProjectUsers.username })
    .from(billingProjectUsers)
    .where(and(eq(billingProjectUsers.billingProject, billingProject), eq(billingProjectUsers.username, username)));
  return rows.length > 0;
}

export async function projectsOf(q: Queryable, username: string): Promise<string[]> {
  const rows = await q
    .select({ p: billingProjectUsers.billingProject })
    .from(billingProjectUsers)
    .where(eq(billingProjectUsers.username, username));
  return rows.map((r) => r.p);
}
