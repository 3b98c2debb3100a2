/**
 * Temporal connection and worker settings for the driver and API processes. Workflow code never
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

export async function connectClient(cfg: Config['temporal']): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({ address: cfg.address });
  return { client: new Client({ connection, namespace: cfg.namespace }), connection };
}

export async function connectWorker(cfg: Config['temporal']): Promise<NativeConnection> {
  return NativeConnection.connect({ address: cfg.address });
}

/** Worker tuning: job workflows are many and short; activities are short database calls. */
export const workerTuning: Partial<WorkerOptions> = {
  maxConcurrentWorkflowTaskExecutions: 100,
  maxConcurrentActivityTaskExecutions: 200,
  maxCachedWorkflows: 2000,
};
