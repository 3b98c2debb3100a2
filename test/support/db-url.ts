/**
 * A fresh PostgreSQL database per test file (or test) on the real server, so tests never
 * share rows and can run in parallel. Migrations are the caller's business.
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, inject } from 'vitest';
import { openDatabase, type Database, type Db } from '../../db/client';

export interface TestDatabase {
  /** Connection URL of the new database. */
  url: string;
  name: string;
  /** Terminates every connection to it and drops it. Safe to call twice. */
  drop(): Promise<void>;
}

// PostgreSQL truncates identifiers at 63 bytes.
const MAX_NAME = 63;

export async function createTestDatabase(prefix: string): Promise<TestDatabase> {
  const adminUrl = inject('databaseAdminUrl');
  const suffix = randomBytes(5).toString('hex');
  const cleanPrefix = prefix.toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^_+|_+$/g, '');
  const name = `hb_${cleanPrefix}`.slice(0, MAX_NAME - suffix.length - 1) + `_${suffix}`;

  await withAdmin(adminUrl, (sql) => sql.unsafe(`CREATE DATABASE "${name}"`));

  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    name,
    async drop() {
      if (dropped) return;
      dropped = true;
      await withAdmin(adminUrl, async (sql) => {
        await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                  WHERE datname = ${name} AND pid <> pg_backend_pid()`;
        await sql.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      });
    },
  };
}

async function withAdmin<T>(adminUrl: string, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * A test file's own migrated database: created (and seeded) before its tests, closed and
 * dropped after them. Read `.db` inside tests and hooks, not at import time.
 */
export function useTestDatabase(prefix: string, seed: (db: Db) => Promise<void> = async () => {}): { readonly db: Db } {
  let tdb: TestDatabase | undefined;
  let database: Database | undefined;
  beforeAll(async () => {
    tdb = await createTestDatabase(prefix);
    database = await openDatabase({ kind: 'postgres', url: tdb.url });
    await seed(database.db);
  });
  afterAll(async () => {
    await database?.close();
    await tdb?.drop();
  });
  return {
    get db(): Db {
      if (!database) throw new Error(`the ${prefix} test database is not open yet`);
      return database.db;
    },
  };
}
