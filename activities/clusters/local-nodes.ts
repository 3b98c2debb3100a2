/**
 * The local cloud's cluster nodes: one Docker container per node on a network of the
 * cluster's own, with a named volume as the shared `${HAIL_HOME}/tmp` on every node (what NFS
 * or a cloud file store is on VMs). Containers, networks and volumes carry labels naming the
 * deployment, cluster and node, and are always found again by those labels.
 */
import Docker from 'dockerode';
import { PassThrough } from 'node:stream';
import type { ClusterNodeDriver, ExecResult, LiveNode, NodeLaunch } from './node-driver';
import { shapeKeyOf } from './node-driver';
import { masterName } from '../../domain/clusters/spec';

const LABEL = {
  deployment: 'hail-batch.cluster-deployment',
  cluster: 'hail-batch.cluster',
  node: 'hail-batch.cluster-node',
  shape: 'hail-batch.cluster-shape',
} as const;

const JUPYTER_PORT = '8888/tcp';
const HAIL_HOME = '/hail';
const MIB = 1024 * 1024;

export type LocalNodesConfig = { deployment: string; dockerSocket: string; publishHost: string };

export function createLocalNodeDriver(cfg: LocalNodesConfig): ClusterNodeDriver {
  const docker = new Docker({ socketPath: cfg.dockerSocket });
  const prefix = `hbc-${cfg.deployment}`;
  const containerName = (node: string) => `${prefix}-${node}`;
  const networkName = (cluster: string) => `${prefix}-${cluster}`;
  const volumeName = (cluster: string) => `${prefix}-${cluster}-tmp`;
  const labels = (cluster: string, extra: Record<string, string> = {}) => ({
    [LABEL.deployment]: cfg.deployment,
    [LABEL.cluster]: cluster,
    ...extra,
  });

  async function find(cluster: string, node: string) {
    const found = await docker.listContainers({
      all: true,
      filters: { label: [`${LABEL.deployment}=${cfg.deployment}`, `${LABEL.cluster}=${cluster}`, `${LABEL.node}=${node}`] },
    });
    return found;
  }

  async function publishedJupyter(id: string): Promise<string | null> {
    const info = await docker.getContainer(id).inspect();
    const binding = info.NetworkSettings.Ports?.[JUPYTER_PORT]?.[0];
    return binding ? `http://${cfg.publishHost}:${binding.HostPort}` : null;
  }

  async function removeById(id: string): Promise<void> {
    await docker
      .getContainer(id)
      .remove({ force: true })
      .catch((e: { statusCode?: number }) => {
        if (e.statusCode !== 404 && e.statusCode !== 409) throw e;
      });
  }

  const driver: ClusterNodeDriver = {
    // Nodes find each other by their names on the cluster's network (container aliases).
    sparkMasterUrl: (cluster) => `spark://${masterName(cluster)}:7077`,

    async ensureShared(cluster) {
      const nets = await docker.listNetworks({ filters: { name: [networkName(cluster)] } });
      if (!nets.some((n) => n.Name === networkName(cluster))) {
        await docker.createNetwork({ Name: networkName(cluster), Driver: 'bridge', Labels: labels(cluster), CheckDuplicate: true }).catch((e: { statusCode?: number }) => {
          if (e.statusCode !== 409) throw e;
        });
      }
      await docker.createVolume({ Name: volumeName(cluster), Labels: labels(cluster) });
    },

    async removeShared(cluster) {
      await docker
        .getNetwork(networkName(cluster))
        .remove()
        .catch((e: { statusCode?: number }) => {
          if (e.statusCode !== 404) throw e;
        });
      await docker
        .getVolume(volumeName(cluster))
        .remove({ force: true })
        .catch((e: { statusCode?: number }) => {
          if (e.statusCode !== 404) throw e;
        });
    },

    async createNode(l: NodeLaunch) {
      const shape = shapeKeyOf(l.node, l.imageRef);
      for (const c of await find(l.cluster, l.node.name)) {
        if (c.Labels[LABEL.shape] === shape && c.State === 'running') {
          return { handle: c.Id, createdMs: c.Created * 1000, jupyterUrl: l.node.role === 'master' ? await publishedJupyter(c.Id) : null };
        }
        await removeById(c.Id);
      }
      await driver.ensureShared(l.cluster);
      const memMiB = l.node.memory_gib * 1024;
      // Spark gets what the node has, less room for the JVM daemons themselves.
      const workerMiB = Math.max(512, memMiB - 512);
      const isMaster = l.node.role === 'master';
      const container = await docker.createContainer({
        name: containerName(l.node.name),
        Hostname: l.node.name,
        Image: l.imageRef,
        Labels: labels(l.cluster, { [LABEL.node]: l.node.name, [LABEL.shape]: shape }),
        Env: [
          `HB_NODE_ROLE=${l.node.role}`,
          `HB_SPARK_MASTER=${driver.sparkMasterUrl(l.cluster)}`,
          `HB_WORKER_CORES=${l.node.cores}`,
          `HB_WORKER_MEMORY=${workerMiB}m`,
          `HB_JUPYTER_TOKEN=${l.jupyterToken}`,
          `HB_JUPYTER_BASE_URL=${l.jupyterBaseUrl}`,
          `HAIL_HOME=${HAIL_HOME}`,
        ],
        ExposedPorts: isMaster ? { [JUPYTER_PORT]: {} } : {},
        HostConfig: {
          NetworkMode: networkName(l.cluster),
          NanoCpus: l.node.cores * 1e9,
          Memory: memMiB * MIB,
          Binds: [`${volumeName(l.cluster)}:${HAIL_HOME}/tmp`],
          // Docker picks a free host port; the proxy reads it back from the container.
          PortBindings: isMaster ? { [JUPYTER_PORT]: [{ HostIp: cfg.publishHost, HostPort: '' }] } : {},
          RestartPolicy: { Name: 'unless-stopped' },
        },
        NetworkingConfig: { EndpointsConfig: { [networkName(l.cluster)]: { Aliases: [l.node.name] } } },
      }).catch(async (e: { statusCode?: number }) => {
        // A create that raced another (a retried activity): take the one that exists.
        if (e.statusCode !== 409) throw e;
        return docker.getContainer(containerName(l.node.name));
      });
      await container.start().catch((e: { statusCode?: number }) => {
        if (e.statusCode !== 304) throw e;
      });
      const info = await container.inspect();
      return { handle: info.Id, createdMs: Date.parse(info.Created), jupyterUrl: isMaster ? await publishedJupyter(info.Id) : null };
    },

    async removeNode(cluster, node) {
      for (const c of await find(cluster, node)) await removeById(c.Id);
    },

    async listNodes(cluster) {
      const filters = [`${LABEL.deployment}=${cfg.deployment}`, ...(cluster ? [`${LABEL.cluster}=${cluster}`] : [])];
      const found = await docker.listContainers({ all: true, filters: { label: filters } });
      return found
        .filter((c) => c.Labels[LABEL.node])
        .map(
          (c): LiveNode => ({
            cluster: c.Labels[LABEL.cluster]!,
            node: c.Labels[LABEL.node]!,
            shapeKey: c.Labels[LABEL.shape] ?? '',
            running: c.State === 'running',
            createdMs: c.Created * 1000,
            handle: c.Id,
          }),
        );
    },

    async exec(cluster, node, script, opts = {}): Promise<ExecResult> {
      const [c] = await find(cluster, node);
      if (!c) throw new Error(`node ${node} of cluster ${cluster} not found`);
      const exec = await docker.getContainer(c.Id).exec({
        Cmd: ['runuser', '-u', 'hail', '--', 'bash', '-lc', script],
        AttachStdout: true,
        AttachStderr: true,
        WorkingDir: HAIL_HOME,
      });
      const stream = await exec.start({ hijack: true, stdin: false });
      const out = new PassThrough();
      const err = new PassThrough();
      const chunks = { out: [] as Buffer[], err: [] as Buffer[] };
      out.on('data', (b: Buffer) => chunks.out.push(b));
      err.on('data', (b: Buffer) => chunks.err.push(b));
      docker.modem.demuxStream(stream, out, err);
      const timeoutMs = opts.timeoutMs ?? 120_000;
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => {
          stream.destroy();
          reject(new Error(`command on ${node} timed out after ${timeoutMs} ms`));
        }, timeoutMs);
        stream.on('end', () => {
          clearTimeout(t);
          resolve();
        });
        stream.on('error', (e) => {
          clearTimeout(t);
          reject(e);
        });
      });
      const info = await exec.inspect();
      return { exitCode: info.ExitCode ?? -1, stdout: Buffer.concat(chunks.out).toString('utf8'), stderr: Buffer.concat(chunks.err).toString('utf8') };
    },

    loginCommand(_cluster, node) {
      return ['docker', 'exec', '-it', containerName(node), 'runuser', '-u', 'hail', '--', 'bash', '-l'];
    },

    async jupyterUrl(cluster, node) {
      const [c] = await find(cluster, node);
      return c && c.State === 'running' ? publishedJupyter(c.Id) : null;
    },
  };
  return driver;
}
