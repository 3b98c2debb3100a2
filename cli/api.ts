/** The API process: the Hono app on a Node HTTP server. Stateless; run as many as needed. */
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Db } from '../db/client';
import type { Logger } from './logger';
import { createApp } from '../api/app';
import { createWorkflowGateway } from '../api/workflow-gateway';
import { openObjectStore } from '../storage/stores';
import { definePools } from '../domain/pools';
import { seedResources } from '../db/queries/resources';
import { DEFAULT_LOCAL_RATE_CARD } from '../domain/billing-rates';
import { seedPools } from '../db/queries/pools';
import { localPoolSeeds } from '../domain/pool-config';
import { createApiMetrics } from '../metrics/registry';
import { instrumentDb } from '../metrics/sql';
import { createClusterGateway } from '../api/cluster-gateway';
import { createClusterNodeDriver } from '../activities/clusters/drivers';
import { jupyterUpgrade } from '../api/jupyter-proxy';
import type { Services } from '../api/context';

export type ApiServer = { url: string; port: number; stop(): Promise<void> };

export async function startApi(deps: { config: Config; db: Db; log: Logger; client: Client }): Promise<ApiServer> {
  const { config, db, log, client } = deps;
  await seedResources(db, DEFAULT_LOCAL_RATE_CARD, Date.now());
  // Submission rounds jobs against the stored pools; seed them if the driver has not yet.
  await seedPools(db, localPoolSeeds(config.localPool.pools, config.localPool.coresPerAgent), Date.now());
  const metrics = createApiMetrics();
  const services: Services = {
    // Every statement a route runs is timed under its query function's name.
    db: instrumentDb(db, metrics.sql),
    metrics,
    config,
    log,
    objects: openObjectStore(config.objectStore),
    pools: definePools(config.localPool.coresPerAgent),
    workflows: createWorkflowGateway(client, {
      taskQueue: config.temporal.taskQueue,
      batchWindow: config.driver.batchWindow,
      batchPartitions: config.driver.batchPartitions,
    }),
    clusters: { workflows: createClusterGateway(client, config.temporal.taskQueue), nodes: createClusterNodeDriver(config, db) },
  };
  const app = createApp(services);
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: config.api.host, port: config.api.port }, () => resolve(s));
    s.once('error', reject);
  });
  // Websockets of clusters' Jupyter servers (kernel channels) bypass the Hono app.
  server.on('upgrade', jupyterUpgrade(services));
  const port = (server.address() as AddressInfo).port;
  const url = `http://${config.api.host}:${port}`;
  log.info('api listening', { url });
  return {
    url,
    port,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
