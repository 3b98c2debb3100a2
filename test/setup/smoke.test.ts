/** The test harness itself: shared Temporal dev server, per-test databases, Docker. */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { defineSearchAttributeKey } from '@temporalio/common';
import postgres from 'postgres';
import { describe, expect, inject, it } from 'vitest';
import { createTestDatabase } from '../support/db-url';
import { testTemporal, uniqueTaskQueue } from '../support/temporal';

const run = promisify(execFile);

describe('test harness', () => {
  it('shares a Temporal dev server with the search attributes registered', async () => {
    const { client, connection, address, namespace } = await testTemporal();
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);

    const info = await connection.workflowService.getSystemInfo({});
    expect(info.serverVersion).toMatch(/^\d+\.\d+/);

    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    for (const name of ['BatchId', 'BatchUser', 'BillingProject', 'BatchState']) {
      expect(customAttributes?.[name], name).toBeDefined();
    }

    // A workflow nobody polls for is still findable by a custom search attribute.
    const taskQueue = uniqueTaskQueue('smoke');
    const handle = await client.workflow.start('neverPolled', {
      taskQueue,
      workflowId: taskQueue,
      typedSearchAttributes: [{ key: defineSearchAttributeKey('BatchId', 'KEYWORD'), value: taskQueue }],
    });
    await expect
      .poll(async () => (await client.workflow.count(`BatchId = "${taskQueue}"`)).count, { timeout: 10_000 })
      .toBe(1);
    await handle.terminate('smoke test');
    expect((await handle.describe()).status.name).toBe('TERMINATED');
  });

  it('bundled the workflows once for the run', () => {
    const bundlePath = inject('workflowBundlePath');
    if (bundlePath === null) throw new Error(inject('workflowBundleError') ?? 'no bundle');
    expect(existsSync(bundlePath)).toBe(true);
  });

  it('creates a database that accepts queries and drops it', async () => {
    const db = await createTestDatabase('smoke');
    expect(db.name).toMatch(/^hb_smoke_[0-9a-f]{10}$/);
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      await sql`CREATE TABLE t (n int)`;
      await sql`INSERT INTO t VALUES (41), (1)`;
      const [row] = await sql<{ total: number }[]>`SELECT sum(n)::int AS total, current_database() AS db FROM t`;
      expect(row?.total).toBe(42);
    } finally {
      await sql.end({ timeout: 5 });
    }
    await db.drop();

    const admin = postgres(inject('databaseAdminUrl'), { max: 1 });
    try {
      const rows = await admin`SELECT 1 FROM pg_database WHERE datname = ${db.name}`;
      expect(rows).toHaveLength(0);
    } finally {
      await admin.end({ timeout: 5 });
    }
  });

  it('reaches a Docker engine with the test image', async () => {
    const { stdout } = await run('docker', ['info', '--format', '{{.ServerVersion}}']);
    expect(stdout.trim()).toMatch(/^\d+\.\d+/);
    const image = await run('docker', ['image', 'inspect', '--format', '{{.Id}}', 'hail-batch-busybox:latest']);
    expect(image.stdout.trim()).toMatch(/^sha256:/);
  });
});
