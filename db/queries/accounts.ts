/**
 * Administration of users and their tokens, shared by the admin API routes and the
 * `admin` command line. Tokens are minted here and stored only as hashes.
 */
import { asc, count, eq } from 'drizzle-orm';
import { tokens, users } from '../schema';
import type { Db, Queryable } from '../client';
import { DbError } from './errors';
import { hashToken, newToken } from './tokens';
import type { UserRow } from './users';

export async function findUser(q: Queryable, username: string): Promise<UserRow | null> {
  const rows = await q.select().from(users).where(eq(users.username, username));
  return rows[0] ?? null;
}

async function existingUser(q: Queryable, username: string): Promise<UserRow> {
  const u = await findUser(q, username);
  if (!u) throw new DbError('not_found', `user ${username} does not exist`, 'user');
  return u;
}

/**
 * Creates a user. Repeating the same creation succeeds (created: false), so a retried request
 * or script is harmless; asking for an existing user with a different admin flag is a conflict
 * rather than a silent promotion or demotion.
 */
export async function createUser(db: Db, username: string, isAdmin: boolean): Promise<{ user: UserRow; created: boolean }> {
  const inserted = await db.insert(users).values({ username, isAdmin }).onConflictDoNothing().returning();
  if (inserted[0]) return { user: inserted[0], created: true };
  const user = await existingUser(db, username);
  if (user.isAdmin !== isAdmin) {
    throw new DbError('conflict', `user ${username} already exists with is_admin ${user.isAdmin}`, 'username');
  }
  return { user, created: false };
}

export type UserListing = UserRow & { nTokens: number };

export async function listUsers(q: Queryable): Promise<UserListing[]> {
  const rows = await q
    .select({ username: users.username, isAdmin: users.isAdmin, createdAt: users.createdAt, nTokens: count(tokens.tokenHash) })
    .from(users)
    .leftJoin(tokens, eq(tokens.username, users.username))
    .groupBy(users.username)
    .orderBy(asc(users.username));
  return rows;
}

/** A fresh token for an existing user; the plain token is returned once and never stored. */
export async function issueToken(db: Db, username: string): Promise<string> {
  await existingUser(db, username);
  const token = newToken();
  await db.insert(tokens).values({ tokenHash: hashToken(token), username });
  return token;
}

/** Revokes every token of a user; revoking none is not an error, so the call is idempotent. */
export async function revokeTokens(db: Db, username: string): Promise<number> {
  await existingUser(db, username);
  const gone = await db.delete(tokens).where(eq(tokens.username, username)).returning({ h: tokens.tokenHash });
  return gone.length;
}
