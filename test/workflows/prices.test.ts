/**
 * The prices workflow on the real dev server, in a worker of its own whose refreshPrices
 * stands for the cloud: it reads prices at once and then every interval, and a read that
 * fails for good is logged and left to the next interval rather than ending the workflow.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import { testTemporal, uniqueTaskQueue, workflowBundle, type TestTemporal } from '../support/temporal';
import { waitFor } from '../support/service';

let t: TestTemporal;
let connection: NativeConnection;
beforeAll(async () => {
  t = await testTemporal();
  connection = await NativeConnection.connect({ address: t.address });
});
afterAll(async () => {
  await connection?.close();
});

it('reads prices at once and every interval, and outlives a read that fails', async () => {
  const taskQueue = uniqueTaskQueue('prices');
  const calls: number[] = [];
  const worker = await Worker.create({
    connection,
    namespace: t.namespace,
    taskQueue,
    workflowBundle: workflowBundle(),
    activities: {
      async refreshPrices() {
        calls.push(Date.now());
        // The second read fails in a way retries cannot mend (the activity's policy would
        // otherwise retry it for up to an interval).
        if (calls.length === 2) throw ApplicationFailure.nonRetryable('pricing API refused');
        return { regions: 1, added: [] };
      },
    },
  });
  const handle = await t.client.workflow.start('pricesWorkflow', { taskQueue, workflowId: `${taskQueue}-prices`, args: [{ intervalMs: 300 }] });
  try {
    await worker.runUntil(async () => {
      await waitFor('four reads', async () => calls.length >= 4, 30_000);
    });
    const { status } = await handle.describe();
    expect(status.name).toBe('RUNNING');
    // Each read after the first waited for the interval.
    for (let i = 1; i < 4; i++) expect(calls[i]! - calls[i - 1]!).toBeGreaterThanOrEqual(250);
  } finally {
    await handle.terminate('test over').catch(() => undefined);
  }
}, 60_000);
