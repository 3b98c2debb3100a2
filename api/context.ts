import type { Client } from '@temporalio/client';
import type { Db } from '../db/client';
import type { Config } from '../config';
import type { Logger } from '../cli/logger';
import type { ObjectStore } from '../storage/object-store';
import type { PoolDefinition } from '../domain/pools';
import type { WorkflowGateway } from './workflow-gateway';
import type { ApiMetrics } from '../metrics/registry';
import type { ClusterGateway } from './cluster-gateway';
import type { ClusterNodeDriver } from '../activities/clusters/node-driver';

/** Everything a route may use, injected once when the app is built. */
export type Services = {
  db: Db;
  config: Config;
  log: Logger;
  objects: ObjectStore;
  pools: readonly PoolDefinition[];
  workflows: WorkflowGateway;
  /** Request and SQL metrics, served at /metrics; absent in apps built without them. */
  metrics?: ApiMetrics;
  /** Cluster workflows and the nodes' cloud; absent where the app serves no clusters. */
  clusters?: { workflows: ClusterGateway; nodes: ClusterNodeDriver };
};

export type Caller = { username: string; isAdmin: boolean };
export type InstanceCaller = { name: string };

export type AppEnv = {
  Variables: {
    services: Services;
    caller: Caller;
    instance: InstanceCaller;
  };
};

export type { Client };
