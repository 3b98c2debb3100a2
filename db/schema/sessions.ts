import { index, pgTable, text } from 'drizzle-orm/pg-core';
import { users } from './users';
import { ms } from './columns';

/**
 * Web UI sign-in sessions. The cookie carries a random id; only its SHA-256 is stored, so a
 * leaked table opens no session. A session lives only as long as the API token it was made
 * from (token_hash): revoking a user's tokens signs them out of the UI too.
 */
export const uiSessions = pgTable(
  'ui_sessions',
  {
    idHash: text('id_hash').primaryKey(),
    username: text('username')
      .notNull()
      .references(() => users.username),
    tokenHash: text('token_hash').notNull(),
    /** Sent in every state-changing form and compared with the posted one. */
    csrfToken: text('csrf_token').notNull(),
    timeCreated: ms('time_created').notNull(),
    expiresAt: ms('expires_at').notNull(),
  },
  (t) => [index('ui_sessions_expires').on(t.expiresAt)],
);
