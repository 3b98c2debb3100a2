/**
 * /healthz tells the truth, and a submission with Temporal gone fails fast and leaves nothing.
 * Real parts: the API in this process on a fresh PostgreSQL database and a Temporal dev server
 * of this test's own (so it can be killed), reached over real HTTP.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { loadConfig } from '../../config';
import { openDatabase, type Database } from '../../db/client';
import { createLogger } from '../../cli/logger';
import { startApi, type ApiServer } from '../../cli/api';
import { addProjectMember, addToken, ensureBillingProject, ensureUser } from '../../db/queries/users';
import { devServerFlags } from '../../temporal.config';
import { createTestDatabase, type TestDatabase } from '../support/db-url';
import { waitFor } from '../support/service';

let temporal: ChildProcess;
let tdb: TestDatabase;
let database: Database;
let connection: Connection;
let api: ApiServer;
const TOKEN = 'health-test-token-0123456789';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  const port = await freePort();
  temporal = spawn(
    inject('temporalCliPath'),
    ['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'error', ...devServerFlags()],
    { stdio: 'ignore' },
  );
  tdb = await createTestDatabase('health');
  const config = loadConfig({ DATABASE_URL: tdb.url, TEMPORAL_ADDRESS: `127.0.0.1:${port}`, HB_API_PORT: '0', HB_TASK_QUEUE: `health-${port}` });
  database = await openDatabase(config.database);
  await ensureUser(database.db, 'alice', false);
  await addToken(database.db, 'alice', TOKEN);
  await ensureBillingProject(database.db, 'p');
  await addProjectMember(database.db, 'p', 'alice');
  connection = await waitFor('temporal', () => Connection.connect({ address: config.temporal.address, connectTimeout: 1000 }).catch(() => null), 60_000, 200);
  api = await startApi({ config, db: database.db, log: createLogger('error'), client: new Client({ connection }) });
});

afterAll(async () => {
  temporal?.kill('SIGKILL');
  await api?.stop();
  await connection?.close().catch(() => undefined);
  await database?.close().catch(() => undefined);
  await tdb?.drop();
});

const health = async () => {
  const res = await fetch(`${api.url}/healthz`);
  return { status: res.status, body: await res.json() };
};

it('reports the database and Temporal, 503 naming the one that is down; submissions fail fast and leave no batch', async () => {
  expect(await health()).toEqual({ status: 200, body: { ok: true, database: 'ok', temporal: 'ok' } });

  const exited = new Promise((r) => temporal.once('exit', r));
  temporal.kill('SIGKILL');
  await exited;
  const began = Date.now();
  expect(await health()).toEqual({ status: 503, body: { ok: false, database: 'ok', temporal: 'down' } });
  expect(Date.now() - began).toBeLessThan(5_000);

  const submitted = Date.now();
  const res = await fetch(`${api.url}/api/v1alpha/batches/create-fast`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      batch: { billing_project: 'p', n_jobs: 1, token: 'no-temporal' },
      bunch: [{ job_id: 1, process: { type: 'docker', image: 'x', command: ['true'] } }],
    }),
  });
  expect(res.status).toBe(503);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unavailable');
  expect(Date.now() - submitted).toBeLessThan(5_000);
  const rows = await database.db.execute(sql`select (select count(*) from batches)::int as b, (select count(*) from jobs)::int as j`);
  expect((rows as unknown as { b: number; j: number }[])[0]).toEqual({ b: 0, j: 0 });

  // The database gone too: both named.
  await tdb.drop();
  expect(await health()).toEqual({ status: 503, body: { ok: false, database: 'down', temporal: 'down' } });
});
