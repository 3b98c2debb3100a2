import { boolean, pgTable, primaryKey, text, timestamp, doublePrecision } from 'drizzle-orm/pg-core';

export const users = pgTable('users', {
  username: text('username').primaryKey(),
  isAdmin: boolean('is_admin').notNull().default(false),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** Bearer tokens are stored as SHA-256 hashes; the plain token is shown once, at creation. */
export const tokens = pgTable('tokens', {
  tokenHash: text('token_hash').primaryKey(),
  username: text('username')
    .notNull()
    .references(() => users.username),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

export const billingProjects = pgTable('billing_projects', {
  name: text('name').primaryKey(),
  status: text('status', { enum: ['open', 'closed', 'deleted'] }).notNull().default('open'),
  limit: doublePrecision('limit'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

export const billingProjectUsers = pgTable(
  'billing_project_users',
  {
    billingProject: text('billing_project')
      .notNull()
      .references(() => billingProjects.name),
    username: text('username').notNull(),
  },
  (t) => [primaryKey({ columns: [t.billingProject, t.username] })],
);
