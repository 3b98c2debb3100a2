/**
 * The `admin` command as an operator runs it: a real process on a fresh PostgreSQL database.
 * A token it prints must authenticate against that database; its mistakes exit non-zero with
 * a message and no stack.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db-url';
import { openDatabase, type Database } from '../../db/client';
import { userForToken } from '../../db/queries/users';
import { loadConfig } from '../../config';

const CLI = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));

let tdb: TestDatabase;
let database: Database;

type Run = { code: number; stdout: string; stderr: string };

function admin(...args: string[]): Promise<Run> {
  return adminWith({ DATABASE_URL: tdb.url }, ...args);
}

function adminWith(env: Record<string, string | undefined>, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', CLI, 'admin', ...args],
      { env: { ...process.env, HB_LOG_LEVEL: 'warn', ...env } },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  tdb = await createTestDatabase('admin_cli');
  database = await openDatabase(loadConfig({ DATABASE_URL: tdb.url }).database);
});
afterAll(async () => {
  await database?.close();
  await tdb?.drop();
});

describe('admin command', () => {
  it('creates users idempotently and refuses a changed admin flag', async () => {
    expect(await admin('create-user', 'ops', '--admin')).toMatchObject({ code: 0, stdout: 'created ops (admin)\n' });
    expect(await admin('create-user', 'ops', '--admin')).toMatchObject({ code: 0, stdout: 'exists ops (admin)\n' });
    const changed = await admin('create-user', 'ops');
    expect(changed.code).toBe(2);
    expect(changed.stderr).toMatch(/already exists with is_admin true/);
    expect((await admin('create-user', 'alice')).stdout).toBe('created alice\n');
  });

  it('prints a token that authenticates as the user, and revokes it', async () => {
    const made = await admin('create-token', 'alice');
    expect(made.code).toBe(0);
    const token = made.stdout.trim();
    expect(token).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(await userForToken(database.db, token)).toMatchObject({ username: 'alice', isAdmin: false });

    expect((await admin('list-users')).stdout).toBe('alice\tuser\t1 token(s)\nops\tadmin\t0 token(s)\n');
    expect((await admin('revoke-tokens', 'alice')).stdout).toBe('revoked 1 token(s) of alice\n');
    expect(await userForToken(database.db, token)).toBeNull();
  });

  it('explains mistakes without a stack trace', async () => {
    for (const [args, pattern] of [
      [['create-user', 'Not-Valid'], /not a valid username/],
      [['create-token', 'ghost'], /user ghost does not exist/],
      [['create-user'], /takes one user name/],
      [['create-token', 'alice', '--admin'], /unknown option --admin/],
      [['frobnicate'], /usage: cli\/main.ts admin/],
    ] as const) {
      const run = await admin(...args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).toMatch(pattern);
      expect(run.stderr).not.toMatch(/\n\s+at /);
    }
  });
});

describe('admin command on the embedded database', () => {
  it('works on a data directory no service holds, holding its lock only while it runs', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hb-admin-pglite-'));
    try {
      const env = { DATABASE_URL: undefined, HB_DATA_DIR: dataDir };
      expect(await adminWith(env, 'create-user', 'ops', '--admin')).toMatchObject({ code: 0, stdout: 'created ops (admin)\n' });
      expect(existsSync(path.join(dataDir, 'local.pid'))).toBe(false);
      expect((await adminWith(env, 'create-token', 'ops')).code).toBe(0);
      expect(await adminWith(env, 'list-users')).toMatchObject({ code: 0, stdout: 'ops\tadmin\t1 token(s)\n' });
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
