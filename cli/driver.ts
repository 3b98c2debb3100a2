/**
 * The driver process: the Temporal worker hosting every workflow and activity, the scheduler
 * workflow's guarantee of existence, and the local pool of agent "VMs".
 */
import { Runtime, Worker } from '@temporalio/worker';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Db } from '../db/client';
import type { Logger } from './logger';
import { createActivities } from '../activities';
import { createPoolManager, type PoolTarget } from '../activities/pool';
import { createLocalDriver } from '../activities/cloud/local';
import { connectWorker, workerTuning, workflowsPath } from '../temporal.config';
import { schedulerWorkflowId } from '../workflows/definitions';
import type { schedulerWorkflow } from '../workflows/scheduler';

export type Driver = { stop(opts?: { deleteInstances?: boolean }): Promise<void> };

export async function ensureScheduler(client: Client, config: Config): Promise<void> {
  try {
    await client.workflow.start<typeof schedulerWorkflow>('schedulerWorkflow', {
      workflowId: schedulerWorkflowId(config.temporal.taskQueue),
      taskQueue: config.temporal.taskQueue,
      args: [{ intervalMs: config.driver.schedulerIntervalMs }],
    });
  } catch (e) {
    if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
  }
}

/** The SDK would stop workers on SIGINT by itself; shutdown has one owner, cli/lifecycle.ts. */
function installRuntime(): void {
  try {
    Runtime.install({ shutdownSignals: [] });
  } catch {
    // Already installed in this process (a second driver in tests): keep the first.
  }
}

export function poolTargets(config: Config): PoolTarget[] {
  return config.localPool.pools.map((p) => ({ pool: p.pool, count: p.count, cores: config.localPool.coresPerAgent }));
}

export async function startDriver(deps: {
  config: Config;
  db: Db;
  log: Logger;
  client: Client;
  workflowBundlePath?: string;
  /** Where agents reach the API, when not the configured URL. */
  apiUrl?: string;
}): Promise<Driver> {
  const { config, db, log, client } = deps;
  installRuntime();
  const connection = await connectWorker(config.temporal);
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    ...(deps.workflowBundlePath ? { workflowBundle: { codePath: deps.workflowBundlePath } } : { workflowsPath }),
    activities: createActivities({ db, config, log }),
    ...workerTuning,
  });
  const running = worker.run();
  await ensureScheduler(client, config);

  const pool = createPoolManager({ db, config, log }, createLocalDriver(config, deps.apiUrl));
  const targets = poolTargets(config);
  await pool.ensure(targets);
  // Replace agents that die (a crashed "VM") without waiting for a restart of the driver.
  const watch = setInterval(() => {
    pool.ensure(targets).catch((e: unknown) => log.warn('pool check failed', { error: String(e) }));
  }, 10_000);
  log.info('driver started', { taskQueue: config.temporal.taskQueue });

  return {
    async stop(opts = {}) {
      clearInterval(watch);
      if (opts.deleteInstances) await pool.deleteAll('service stopped');
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await connection.close();
    },
  };
}
