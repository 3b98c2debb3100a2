/**
 * What a cluster is asked to be, and the nodes that makes. A spec names an image by its
 * versioned name, the master's shape and the workers' shape and count; nodes follow from it
 * by name (`<cluster>-master`, `<cluster>-worker-<i>`), so a plan can diff by name. Pure.
 */
import { z } from 'zod';
import { SpecError } from '../errors';

/** Cluster names are DNS labels: they name containers, networks and VMs. */
export const CLUSTER_NAME = /^[a-z][a-z0-9-]{0,38}[a-z0-9]$/;
/** `hail-base/1.0.0`: a name and a semantic version. */
export const IMAGE_NAME = /^[a-z][a-z0-9-]{0,62}\/(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})$/;

export const MAX_WORKERS = 64;

const shapeSchema = z.strictObject({
  cores: z.number().int().min(1).max(96),
  memory_gib: z.number().int().min(1).max(624),
});

export const clusterSpecSchema = z.strictObject({
  image: z.string().regex(IMAGE_NAME, 'expected a versioned image name such as hail-base/1.0.0'),
  master: shapeSchema.default({ cores: 1, memory_gib: 2 }),
  worker: shapeSchema.default({ cores: 1, memory_gib: 2 }),
  workers: z.number().int().min(0).max(MAX_WORKERS),
});

export type ClusterSpec = z.infer<typeof clusterSpecSchema>;
export type NodeShape = z.infer<typeof shapeSchema>;
export type NodeRole = 'master' | 'worker';

/** One node a spec asks for. */
export type PlannedNode = { name: string; role: NodeRole; image: string; cores: number; memory_gib: number };

/** How a plan treats one node. `change` re-creates it (a node's shape is fixed at creation). */
export type NodeChange = 'add' | 'remove' | 'change' | 'keep';
export type NodePlan = { node: string; change: NodeChange; before: PlannedNode | null; after: PlannedNode | null };

export function validateClusterName(name: unknown, field = 'name'): string {
  if (typeof name !== 'string' || !CLUSTER_NAME.test(name)) {
    throw new SpecError(field, 'expected 2-40 characters of a-z, 0-9 and -, starting with a letter and not ending with -');
  }
  return name;
}

export function validateImageName(name: unknown, field = 'name'): string {
  if (typeof name !== 'string' || !IMAGE_NAME.test(name)) {
    throw new SpecError(field, 'expected a versioned image name such as hail-base/1.0.0');
  }
  return name;
}

/** A spec from user JSON; the first problem is a SpecError naming its field under `field`. */
export function parseClusterSpec(value: unknown, field = 'spec'): ClusterSpec {
  const parsed = clusterSpecSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const path = [field, ...issue.path.map(String)].join('.');
  throw new SpecError(path, issue.message);
}

export const masterName = (cluster: string) => `${cluster}-master`;
export const workerName = (cluster: string, i: number) => `${cluster}-worker-${i}`;

/** Every node of a spec, master first, workers by index. */
export function nodesOf(cluster: string, spec: ClusterSpec | null): PlannedNode[] {
  if (spec === null) return [];
  const master: PlannedNode = { name: masterName(cluster), role: 'master', image: spec.image, ...spec.master };
  const workers = Array.from({ length: spec.workers }, (_, i): PlannedNode => ({
    name: workerName(cluster, i + 1),
    role: 'worker',
    image: spec.image,
    ...spec.worker,
  }));
  return [master, ...workers];
}
