/**
 * Temporal for test files: the run's shared dev server (started by test/setup/global-setup.ts)
 * and the workflow bundle built once for the run. Give each test its own task queue.
 */
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { inject } from 'vitest';

export interface TestTemporal {
  /** host:port of the dev server. */
  address: string;
  namespace: string;
  connection: Connection;
  client: Client;
  /** Bundled workflows/index.ts; null when it could not be built (see workflowBundle()). */
  bundlePath: string | null;
}

let shared: Promise<TestTemporal> | undefined;

/**
 * One connection and client per test file (they are cheap to share and the file's process
 * ends with it). Call it in tests or hooks, not at module top level.
 */
export function testTemporal(): Promise<TestTemporal> {
  shared ??= (async () => {
    const address = inject('temporalAddress');
    const namespace = inject('temporalNamespace');
    const connection = await Connection.connect({ address });
    return {
      address,
      namespace,
      connection,
      client: new Client({ connection, namespace }),
      bundlePath: inject('workflowBundlePath'),
    };
  })();
  return shared;
}

/** `{ codePath }` for `Worker.create({ workflowBundle })`; throws why when there is no bundle. */
export function workflowBundle(): { codePath: string } {
  const codePath = inject('workflowBundlePath');
  if (!codePath) throw new Error(inject('workflowBundleError') ?? 'no workflow bundle');
  return { codePath };
}

/** A task queue no other test (or concurrent run) uses, e.g. `batch-test-3f9c2a1b`. */
export function uniqueTaskQueue(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}
