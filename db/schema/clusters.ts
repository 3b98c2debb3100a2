import { bigint, bigserial, index, integer, jsonb, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';
import type { ClusterSpec, NodePlan, PlannedNode } from '../../domain/clusters/spec';
import type { QuantifiedResource } from '../../domain/billing-resources';
import { ms } from './columns';

/**
 * Cluster images, by versioned name (`hail-base/1.0.0`). `ref` is the content-addressed
 * local image the name stands for; the project that built it owns it.
 */
export const clusterImages = pgTable('cluster_images', {
  name: text('name').primaryKey(),
  billingProject: text('billing_project').notNull(),
  ref: text('ref').notNull(),
  state: text('state', { enum: ['building', 'built', 'failed'] }).notNull(),
  error: text('error'),
  buildMs: bigint('build_ms', { mode: 'number' }),
  createdBy: text('created_by').notNull(),
  timeCreated: ms('time_created').notNull(),
});

/** An image shared with a project; `time_accepted` set once that project accepts it. */
export const clusterImageShares = pgTable(
  'cluster_image_shares',
  {
    image: text('image').notNull(),
    billingProject: text('billing_project').notNull(),
    timeShared: ms('time_shared').notNull(),
    timeAccepted: ms('time_accepted'),
  },
  (t) => [primaryKey({ columns: [t.image, t.billingProject] })],
);

/**
 * One row per cluster name. `generation` counts applied plans: a plan records the generation
 * it was made against and is stale once the cluster moved on. `spec` is what the last applied
 * plan asked for (null before the first one and after a destroy).
 */
export const clusters = pgTable('clusters', {
  name: text('name').primaryKey(),
  billingProject: text('billing_project').notNull(),
  createdBy: text('created_by').notNull(),
  state: text('state', { enum: ['absent', 'applying', 'running', 'destroyed', 'failed'] }).notNull(),
  generation: integer('generation').notNull().default(0),
  spec: jsonb('spec').$type<ClusterSpec | null>(),
  jupyterToken: text('jupyter_token').notNull(),
  applyingPlan: bigint('applying_plan', { mode: 'number' }),
  error: text('error'),
  timeCreated: ms('time_created').notNull(),
  timeUpdated: ms('time_updated').notNull(),
});

/** A stored plan: the diff between a spec and the cluster at `base_generation`. */
export const clusterPlans = pgTable(
  'cluster_plans',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    cluster: text('cluster').notNull(),
    action: text('action', { enum: ['create', 'update', 'destroy'] }).notNull(),
    baseGeneration: integer('base_generation').notNull(),
    spec: jsonb('spec').$type<ClusterSpec | null>(),
    diff: jsonb('diff').$type<NodePlan[]>().notNull(),
    hourlyCost: jsonb('hourly_cost').$type<{ before: number; after: number }>().notNull(),
    state: text('state', { enum: ['planned', 'applying', 'applied', 'superseded', 'failed'] }).notNull(),
    createdBy: text('created_by').notNull(),
    timeCreated: ms('time_created').notNull(),
    timeApplied: ms('time_applied'),
  },
  (t) => [index('cluster_plans_cluster').on(t.cluster, t.id)],
);

/**
 * Nodes as the cluster's workflow recorded them: billed from `time_started` to `time_removed`
 * (or now) at the resources fixed when they were created, like a job's attempt.
 */
export const clusterNodes = pgTable(
  'cluster_nodes',
  {
    cluster: text('cluster').notNull(),
    node: text('node').notNull(),
    /** The cluster generation that created it; a re-created node is a new row. */
    generation: integer('generation').notNull(),
    role: text('role', { enum: ['master', 'worker'] }).notNull(),
    /** Who pays: the cluster's billing project and user when the node was made (a cluster may move later). */
    billingProject: text('billing_project').notNull(),
    user: text('user').notNull(),
    shape: jsonb('shape').$type<PlannedNode>().notNull(),
    resources: jsonb('resources').$type<QuantifiedResource[]>().notNull(),
    handle: text('handle'),
    jupyterUrl: text('jupyter_url'),
    timeStarted: ms('time_started').notNull(),
    timeRemoved: ms('time_removed'),
  },
  (t) => [
    uniqueIndex('cluster_nodes_key').on(t.cluster, t.node, t.generation),
    index('cluster_nodes_live').on(t.cluster, t.timeRemoved),
  ],
);
