import { and, eq, gt, lt } from 'drizzle-orm';
import { tokens, uiSessions, users } from '../schema';
import type { Db, Queryable } from '../client';
import { hashToken } from './tokens';

export type UiSession = { username: string; isAdmin: boolean; csrfToken: string };

/** Stores a session made from an API token; `id` and `csrfToken` are the caller's random values. */
export async function createUiSession(
  db: Db,
  s: { id: string; username: string; tokenHash: string; csrfToken: string; now: number; ttlMs: number },
): Promise<void> {
  // Expired sessions are dropped here, so the table never grows without bound.
  await db.delete(uiSessions).where(lt(uiSessions.expiresAt, s.now));
  await db.insert(uiSessions).values({
    idHash: hashToken(s.id),
    username: s.username,
    tokenHash: s.tokenHash,
    csrfToken: s.csrfToken,
    timeCreated: s.now,
    expiresAt: s.now + s.ttlMs,
  });
}

/** The live session for a cookie id: unexpired, and its API token not revoked. */
export async function findUiSession(q: Queryable, id: string, now: number): Promise<UiSession | null> {
  const rows = await q
    .select({ username: users.username, isAdmin: users.isAdmin, csrfToken: uiSessions.csrfToken })
    .from(uiSessions)
    .innerJoin(tokens, and(eq(tokens.tokenHash, uiSessions.tokenHash), eq(tokens.username, uiSessions.username)))
    .innerJoin(users, eq(users.username, uiSessions.username))
    .where(and(eq(uiSessions.idHash, hashToken(id)), gt(uiSessions.expiresAt, now)));
  return rows[0] ?? null;
}

/** Signing out; deleting a session that is already gone is fine. */
export async function deleteUiSession(db: Db, id: string): Promise<void> {
  await db.delete(uiSessions).where(eq(uiSessions.idHash, hashToken(id)));
}
