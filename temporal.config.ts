/**
 * Temporal connection, worker settings and dev-server flags for the driver and API processes. Workflow code never
 * imports this file (it touches the environment through the config module); workflow-safe
 * names live in workflows/definitions.ts.
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import type { Config } from './config';
import { SEARCH_ATTRIBUTES } from './workflows/definitions';

export const workflowsPath = fileURLToPath(new URL('./workflows/index.ts', import.meta.url));

export { SEARCH_ATTRIBUTES };

/** `--search-attribute` flags for `temporal server start-dev`. */
export function searchAttributeFlags(): string[] {
  return Object.entries(SEARCH_ATTRIBUTES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]);
}

/**
 * How every dev server we run is tuned (local mode, the tests, the bench). Measured on a
 * 2-core machine with one child workflow per job: 5.5-5.9 jobs/s stock, 15.9-19.5 with these.
 *
 * - `journal_mode=wal`, `synchronous=normal` (only with a database file): a commit appends to
 *   the WAL without waiting for an fsync; the WAL is fsynced at checkpoints. A killed server
 *   (kill -9, a crash of the process) loses nothing it committed, since the OS still holds
 *   the written pages; a power cut or an OS crash may lose the last transactions before the
 *   latest checkpoint (the database stays consistent, it just rolls back to an earlier point).
 *   That is the right trade for a dev server; production Temporal runs on its own cluster.
 * - `system.forceSearchAttributesCacheRefreshOnRead=false`: the dev server forces a database
 *   read of the search-attribute cache on every dispatched task; ours are registered at start
 *   with `--search-attribute` and never change afterwards, so the cached copy is always right.
 * - one read and one write partition per task queue: with the default four, tasks are
 *   forwarded between partitions under a throttle, which only pays off with many pollers
 *   across many hosts; one dev server has one host.
 */
export function devServerFlags(opts: { dbFile?: string; dynamicConfig?: readonly string[] } = {}): string[] {
  const storage = opts.dbFile
    ? ['--db-filename', opts.dbFile, '--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=normal']
    : [];
  const dynamic = [
    'system.forceSearchAttributesCacheRefreshOnRead=false',
    'matching.numTaskqueueReadPartitions=1',
    'matching.numTaskqueueWritePartitions=1',
    ...(opts.dynamicConfig ?? []),
  ];
  return [...storage, ...searchAttributeFlags(), ...dynamic.flatMap((kv) => ['--dynamic-config-value', kv])];
}

export async function connectClient(cfg: Config['temporal']): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({ address: cfg.address });
  return { client: new Client({ connection, namespace: cfg.namespace }), connection };
}

export async function connectWorker(cfg: Config['temporal']): Promise<NativeConnection> {
  return NativeConnection.connect({ address: cfg.address });
}

/**
 * The driver's worker, from the config (HB_WORKER_*). Job workflows are many and short and
 * their activities are short database calls, so slots are many. Sticky execution stays on (a
 * cached workflow's next task needs no history replay), and the cache must hold at least the
 * workflows that are open at once (a batch's window plus the long-running ones) or every task
 * of an evicted job replays its history.
 *
 * Measured here (`npm run bench -- --scenario worker-tuning --jobs 2000`, 2 cores): no variant
 * beat the defaults by more than the run's own noise (the defaults, run first and last, gave
 * 24.8-30.0 jobs/s); 40 workflow-task slots, 50 activity slots or a 200-workflow cache were
 * about 12% slower; 2, 4 or 50 pollers, or 300 slots, within the noise.
 */
export function workerTuning(w: Config['temporal']['worker']): Partial<WorkerOptions> {
  return {
    maxConcurrentWorkflowTaskExecutions: w.workflowTaskSlots,
    workflowTaskPollerBehavior: { type: 'simple-maximum', maximum: w.workflowTaskPollers },
    maxConcurrentActivityTaskExecutions: w.activitySlots,
    maxConcurrentLocalActivityExecutions: w.localActivitySlots,
    maxCachedWorkflows: w.cachedWorkflows,
  };
}
