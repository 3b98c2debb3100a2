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
import { createInstanceLifecycle } from '../activities/instances';
import { createCloudDriver } from '../activities/cloud';
import { connectWorker, workerTuning, workflowsPath } from '../temporal.config';
import {
  autoscalerWorkflowId,
  billingLimitsWorkflowId,
  callbacksPokeSignal,
  pricesWorkflowId,
  callbacksWorkflowId,
  schedulerWorkflowId,
  type AutoscalerWorkflowInput,
  type BillingLimitsWorkflowInput,
  type CallbacksWorkflowInput,
  type PricesWorkflowInput,
  type SchedulerWorkflowInput,
} from '../workflows/definitions';
import { seedResources } from '../db/queries/resources';
import { DEFAULT_LOCAL_RATE_CARD, rateCardForLocations } from '../domain/billing-rates';
import { seedPools } from '../db/queries/pools';
import { localPoolSeeds } from '../domain/pool-config';
import { createDriverMetrics } from '../metrics/registry';
import { instrumentDb } from '../metrics/sql';
import { activityMetricsInterceptor } from '../metrics/activities';
import { startMetricsServer } from '../metrics/server';
import { jobCountsByState } from '../db/queries/metrics';

/** `metricsUrl`: the driver's Prometheus endpoint. */
export type Driver = { metricsUrl: string; stop(opts?: { deleteInstances?: boolean }): Promise<void> };

/**
 * Starts one of the driver's long-running workflows unless it already runs: each exists once
 * per task queue, whichever driver replica gets there first.
 */
async function ensureRunning(client: Client, config: Config, workflowType: string, workflowId: string, input: object): Promise<void> {
  try {
    await client.workflow.start(workflowType, { workflowId, taskQueue: config.temporal.taskQueue, args: [input] });
  } catch (e) {
    if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
  }
}

export async function ensureScheduler(client: Client, config: Config): Promise<void> {
  const input: SchedulerWorkflowInput = { intervalMs: config.driver.schedulerIntervalMs };
  await ensureRunning(client, config, 'schedulerWorkflow', schedulerWorkflowId(config.temporal.taskQueue), input);
}

/** The billing-limit enforcer. */
export async function ensureBillingLimits(client: Client, config: Config): Promise<void> {
  const input: BillingLimitsWorkflowInput = { intervalMs: config.driver.billingLimitsIntervalMs };
  await ensureRunning(client, config, 'billingLimitsWorkflow', billingLimitsWorkflowId(config.temporal.taskQueue), input);
}

/** The reader of the cloud's list prices (clouds only: local prices are the catalogue's own). */
export async function ensurePrices(client: Client, config: Config): Promise<void> {
  if (config.cloud.kind === 'local') return;
  const input: PricesWorkflowInput = { intervalMs: config.cloud.priceRefreshMs };
  await ensureRunning(client, config, 'pricesWorkflow', pricesWorkflowId(config.temporal.taskQueue), input);
}

/**
 * The callback deliverer, started if need be and poked either way: callbacks a killed driver
 * left due go out as soon as a driver is back, not after the loop's next interval.
 */
export async function ensureCallbacks(client: Client, config: Config): Promise<void> {
  const input: CallbacksWorkflowInput = { intervalMs: config.driver.callbacks.intervalMs };
  await client.workflow.signalWithStart('callbacksWorkflow', {
    workflowId: callbacksWorkflowId(config.temporal.taskQueue),
    taskQueue: config.temporal.taskQueue,
    args: [input],
    signal: callbacksPokeSignal,
  });
}

/** The autoscaler owns the VMs. */
export async function ensureAutoscaler(client: Client, config: Config): Promise<void> {
  const input: AutoscalerWorkflowInput = {};
  await ensureRunning(client, config, 'autoscalerWorkflow', autoscalerWorkflowId(config.temporal.taskQueue), input);
}

/** The SDK would stop workers on SIGINT by itself; shutdown has one owner, cli/lifecycle.ts. */
function installRuntime(): void {
  try {
    Runtime.install({ shutdownSignals: [] });
  } catch {
    // Already installed in this process (a second driver in tests): keep the first.
  }
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
  const { config, log, client } = deps;
  installRuntime();
  const metrics = createDriverMetrics(() => jobCountsByState(deps.db));
  // Every statement the activities run is timed under its query function's name.
  const db = instrumentDb(deps.db, metrics.sql);
  // Attempts are priced from the catalogue: it exists before the first job can start.
  await seedResources(db, DEFAULT_LOCAL_RATE_CARD, Date.now());
  const cloudLocations = config.cloud.kind === 'gcp' ? config.cloud.gcp.zones : config.cloud.kind === 'azure' ? config.cloud.azure.locations : [];
  await seedResources(db, rateCardForLocations(cloudLocations), Date.now());
  // Rows that exist keep what an admin set; only missing pools are added.
  await seedPools(db, localPoolSeeds(config.localPool.pools, config.localPool.coresPerAgent), Date.now());
  const cloud = await createCloudDriver(config, deps.apiUrl);
  const connection = await connectWorker(config.temporal);
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    ...(deps.workflowBundlePath ? { workflowBundle: { codePath: deps.workflowBundlePath } } : { workflowsPath }),
    activities: createActivities({ db, config, log, metrics }, { driver: cloud, apiUrl: deps.apiUrl ?? config.api.url }),
    interceptors: { activity: [activityMetricsInterceptor(metrics)] },
    ...workerTuning(config.temporal.worker),
  });
  const metricsServer = await startMetricsServer({
    host: config.metrics.driverHost,
    port: config.metrics.driverPort,
    registry: metrics.registry,
    ...(config.metrics.token ? { token: config.metrics.token } : {}),
  });
  const running = worker.run();
  await ensureScheduler(client, config);
  await ensureBillingLimits(client, config);
  await ensurePrices(client, config);
  await ensureCallbacks(client, config);
  await ensureAutoscaler(client, config);
  log.info('driver started', { taskQueue: config.temporal.taskQueue, metrics: metricsServer.url });

  return {
    metricsUrl: metricsServer.url,
    async stop(opts = {}) {
      const lifecycle = createInstanceLifecycle({ db, config, log }, cloud, deps.apiUrl ?? config.api.url);
      // Deleted while the worker still runs, so workflows can record what the agents' last
      // reports caused; then once more after it stopped, for any VM an autoscaler step
      // created meanwhile.
      if (opts.deleteInstances) await lifecycle.deleteAll('service stopped');
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await connection.close();
      await metricsServer.stop();
      if (opts.deleteInstances) await lifecycle.deleteAll('service stopped');
    },
  };
}
