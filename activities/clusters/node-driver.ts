/**
 * What the cluster workflow needs from a cloud to own a cluster's nodes. Locally a node is a
 * Docker container (local-nodes.ts); a GCP or Azure driver implements the same interface with
 * VMs (see docs/ARCHITECTURE.md, "Clusters"). Nodes are found by their labels in the cloud
 * itself, never only by what the database recorded, so a driver killed between creating a
 * node and recording it leaks nothing: the next reconcile finds it.
 */
import type { PlannedNode } from '../../domain/clusters/spec';

/** Everything a node needs at creation. */
export type NodeLaunch = {
  cluster: string;
  node: PlannedNode;
  /** The image the node boots (locally a Docker image tag). */
  imageRef: string;
  /** Jupyter's secret; only the service's proxy knows it. */
  jupyterToken: string;
  /** The path prefix the proxy serves Jupyter under. */
  jupyterBaseUrl: string;
};

export type LiveNode = {
  cluster: string;
  node: string;
  /** Identifies the node's shape; a node whose shape changed is re-created. */
  shapeKey: string;
  running: boolean;
  /** When the cloud created it (ms since the epoch): billing starts here. */
  createdMs: number;
  handle: string;
};

export type ExecResult = { exitCode: number; stdout: string; stderr: string };

export interface ClusterNodeDriver {
  /** `spark://<master>:7077`, by the name the cluster's nodes know the master under. */
  sparkMasterUrl(cluster: string): string;
  /** Creates the node unless a running one of the same shape exists. Idempotent. */
  createNode(launch: NodeLaunch): Promise<{ handle: string; createdMs: number; jupyterUrl: string | null }>;
  /** Removes the node; succeeds when it is already gone. */
  removeNode(cluster: string, node: string): Promise<void>;
  /** Every node this deployment runs for the cluster (or for every cluster), from the cloud. */
  listNodes(cluster?: string): Promise<LiveNode[]>;
  /** The cluster's network and shared `${HAIL_HOME}/tmp` store; idempotent. */
  ensureShared(cluster: string): Promise<void>;
  /** Removes what ensureShared made; succeeds when already gone. */
  removeShared(cluster: string): Promise<void>;
  /** Runs a command on a node as the application user in its login environment. */
  exec(cluster: string, node: string, script: string, opts?: { timeoutMs?: number }): Promise<ExecResult>;
  /** The argv an operator runs on this machine to get a login shell on the node. */
  loginCommand(cluster: string, node: string): string[];
  /** Where the service reaches the master's Jupyter, or null when the node has none. */
  jupyterUrl(cluster: string, node: string): Promise<string | null>;
}

/** The shape key of a planned node: what, if changed, means a new node. */
export function shapeKeyOf(n: Pick<PlannedNode, 'role' | 'image' | 'cores' | 'memory_gib'>, imageRef: string): string {
  return `${n.role}:${n.cores}c:${n.memory_gib}g:${imageRef}`;
}
