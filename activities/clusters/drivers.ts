/**
 * The cluster node driver of the configured cloud: containers on the local cloud, VMs on GCP
 * and Azure (vm-nodes.ts over each cloud's NodeMachines). The API and the driver process both
 * build theirs here, so they always agree on where nodes are.
 */
import type { Config } from '../../config';
import type { Db } from '../../db/client';
import { getCluster } from '../../db/queries/clusters';
import { createAzureNodeMachines } from '../cloud/azure/nodes';
import { createGcpNodeMachines } from '../cloud/gcp/nodes';
import { createLocalNodeDriver } from './local-nodes';
import type { ClusterNodeDriver } from './node-driver';
import { createVmNodeDriver, type NodeMachines } from './vm-nodes';

export function createClusterNodeDriver(config: Config, db: Db): ClusterNodeDriver {
  const cloud = config.cloud;
  if (cloud.kind === 'local') return createLocalNodeDriver(config.clusters);
  const deployment = config.clusters.deployment;
  const machines: NodeMachines = cloud.kind === 'gcp' ? createGcpNodeMachines(cloud, deployment) : createAzureNodeMachines(cloud, deployment);
  return createVmNodeDriver({
    deployment,
    machines,
    imageRegistry: config.clusters.imageRegistry,
    async secretOf(cluster) {
      const row = await getCluster(db, cluster);
      if (!row) throw new Error(`cluster ${cluster} not found`);
      return row.jupyterToken;
    },
  });
}
