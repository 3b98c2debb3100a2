/**
 * Clusters, their stored plans, nodes and images. Applying a plan is one transaction that
 * checks it against the cluster row (locked), so two applies can never both pass the
 * staleness check.
 */
import { and, desc, eq, isNull, sql } from 'drizzle-orm';
import type { Db, Queryable } from '../client';
import { clusterImageShares, clusterImages, clusterNodes, clusterPlans, clusters } from '../schema';
import type { ClusterSpec, NodePlan, PlannedNode } from '../../domain/clusters/spec';
import type { PlanAction, ClusterFacts, StoredPlan } from '../../domain/clusters/plan';
import { applyRefusal } from '../../domain/clusters/plan';
import type { QuantifiedResource } from '../../domain/billing-resources';

export type ClusterRow = typeof clusters.$inferSelect;
export type PlanRow = typeof clusterPlans.$inferSelect;
export type NodeRow = typeof clusterNodes.$inferSelect;
export type ImageRow = typeof clusterImages.$inferSelect;

export async function getCluster(q: Queryable, name: string): Promise<ClusterRow | null> {
  const [row] = await q.select().from(clusters).where(eq(clusters.name, name));
  return row ?? null;
}

export async function listClusters(q: Queryable, projects: readonly string[] | null): Promise<ClusterRow[]> {
  const rows = await q.select().from(clusters).orderBy(clusters.name);
  return projects === null ? rows : rows.filter((r) => projects.includes(r.billingProject));
}

export function factsOf(row: ClusterRow | null): ClusterFacts {
  if (row === null) return { exists: false, spec: null, generation: 0, applying: false };
  return { exists: true, spec: row.spec ?? null, generation: row.generation, applying: row.applyingPlan !== null };
}

/** The cluster row, made (absent, generation 0) if there is none. */
export async function ensureCluster(db: Db, c: { name: string; billingProject: string; createdBy: string; jupyterToken: string }, now: number): Promise<ClusterRow> {
  await db
    .insert(clusters)
    .values({ ...c, state: 'absent', generation: 0, spec: null, timeCreated: now, timeUpdated: now })
    .onConflictDoNothing();
  return (await getCluster(db, c.name))!;
}

/** A cluster with nothing running may move to another billing project with its next create. */
export async function setClusterProject(db: Db, name: string, billingProject: string): Promise<void> {
  await db.update(clusters).set({ billingProject }).where(and(eq(clusters.name, name), isNull(clusters.spec), isNull(clusters.applyingPlan)));
}

export async function insertPlan(
  db: Db,
  p: { cluster: string; action: PlanAction; baseGeneration: number; spec: ClusterSpec | null; diff: NodePlan[]; hourlyCost: { before: number; after: number }; createdBy: string },
  now: number,
): Promise<PlanRow> {
  const [row] = await db.insert(clusterPlans).values({ ...p, state: 'planned', timeCreated: now }).returning();
  return row!;
}

export async function getPlan(q: Queryable, id: number): Promise<PlanRow | null> {
  const [row] = await q.select().from(clusterPlans).where(eq(clusterPlans.id, id));
  return row ?? null;
}

export async function latestPlan(q: Queryable, cluster: string): Promise<PlanRow | null> {
  const [row] = await q.select().from(clusterPlans).where(eq(clusterPlans.cluster, cluster)).orderBy(desc(clusterPlans.id)).limit(1);
  return row ?? null;
}

const storedPlan = (p: PlanRow): StoredPlan => ({ id: p.id, cluster: p.cluster, action: p.action, baseGeneration: p.baseGeneration, state: p.state });

/**
 * Takes a plan for applying: refuses it (the reason) unless it is this cluster's, of an
 * allowed action, still planned and made against the cluster's current generation. On
 * success the cluster moves to the next generation, which makes every other plan stale.
 */
export async function beginApply(
  db: Db,
  cluster: string,
  planId: number,
  allowed: readonly PlanAction[],
  now: number,
): Promise<{ ok: true; plan: PlanRow; cluster: ClusterRow } | { ok: false; field: string; reason: string }> {
  return db.transaction(async (tx) => {
    const [row] = await tx.select().from(clusters).where(eq(clusters.name, cluster)).for('update');
    const plan = await getPlan(tx, planId);
    const refusal = applyRefusal(plan ? storedPlan(plan) : null, cluster, factsOf(row ?? null), allowed);
    if (refusal) return { ok: false as const, ...refusal };
    await tx.update(clusterPlans).set({ state: 'applying' }).where(eq(clusterPlans.id, planId));
    const [updated] = await tx
      .update(clusters)
      .set({ generation: row!.generation + 1, applyingPlan: planId, state: 'applying', error: null, timeUpdated: now })
      .where(eq(clusters.name, cluster))
      .returning();
    return { ok: true as const, plan: { ...plan!, state: 'applying' as const }, cluster: updated! };
  });
}

/** Undoes beginApply when the workflow could not be told (Temporal down): nothing was done. */
export async function abandonApply(db: Db, cluster: string, planId: number, previousGeneration: number, previousState: ClusterRow['state']): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.update(clusterPlans).set({ state: 'planned' }).where(and(eq(clusterPlans.id, planId), eq(clusterPlans.state, 'applying')));
    await tx
      .update(clusters)
      .set({ generation: previousGeneration, applyingPlan: null, state: previousState })
      .where(and(eq(clusters.name, cluster), eq(clusters.applyingPlan, planId)));
  });
}

/** The plan is carried out: the cluster is what it asked for. Idempotent. */
export async function finishApply(db: Db, cluster: string, planId: number, now: number): Promise<void> {
  await db.transaction(async (tx) => {
    const plan = await getPlan(tx, planId);
    if (!plan || plan.state !== 'applying') return;
    await tx.update(clusterPlans).set({ state: 'applied', timeApplied: now }).where(eq(clusterPlans.id, planId));
    await tx
      .update(clusters)
      .set({ spec: plan.spec, state: plan.action === 'destroy' ? 'destroyed' : 'running', applyingPlan: null, timeUpdated: now })
      .where(and(eq(clusters.name, cluster), eq(clusters.applyingPlan, planId)));
  });
}

export async function failApply(db: Db, cluster: string, planId: number, error: string, now: number): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.update(clusterPlans).set({ state: 'failed' }).where(and(eq(clusterPlans.id, planId), eq(clusterPlans.state, 'applying')));
    await tx
      .update(clusters)
      .set({ state: 'failed', applyingPlan: null, error: error.slice(0, 2000), timeUpdated: now })
      .where(and(eq(clusters.name, cluster), eq(clusters.applyingPlan, planId)));
  });
}

export async function liveNodes(q: Queryable, cluster: string): Promise<NodeRow[]> {
  return q.select().from(clusterNodes).where(and(eq(clusterNodes.cluster, cluster), isNull(clusterNodes.timeRemoved))).orderBy(clusterNodes.node);
}

export async function allNodes(q: Queryable, cluster: string): Promise<NodeRow[]> {
  return q.select().from(clusterNodes).where(eq(clusterNodes.cluster, cluster)).orderBy(clusterNodes.timeStarted);
}

/**
 * Records a node the cloud created, once: a live row of the same shape stays as it is (a
 * retried create), one of another shape is ended first.
 */
export async function recordNode(
  db: Db,
  n: { cluster: string; node: string; generation: number; role: 'master' | 'worker'; shape: PlannedNode; resources: QuantifiedResource[]; handle: string; jupyterUrl: string | null; timeStarted: number },
  now: number,
): Promise<void> {
  await db.transaction(async (tx) => {
    const [live] = await tx
      .select()
      .from(clusterNodes)
      .where(and(eq(clusterNodes.cluster, n.cluster), eq(clusterNodes.node, n.node), isNull(clusterNodes.timeRemoved)))
      .for('update');
    if (live && live.handle === n.handle) {
      if (live.jupyterUrl !== n.jupyterUrl) {
        await tx.update(clusterNodes).set({ jupyterUrl: n.jupyterUrl }).where(and(eq(clusterNodes.cluster, n.cluster), eq(clusterNodes.node, n.node), eq(clusterNodes.generation, live.generation)));
      }
      return;
    }
    if (live) {
      await tx
        .update(clusterNodes)
        .set({ timeRemoved: now })
        .where(and(eq(clusterNodes.cluster, n.cluster), eq(clusterNodes.node, n.node), eq(clusterNodes.generation, live.generation)));
    }
    // Billed to the cluster's project and owner as they are now, fixed on the node's row.
    const [owner] = await tx.select({ billingProject: clusters.billingProject, user: clusters.createdBy }).from(clusters).where(eq(clusters.name, n.cluster));
    if (!owner) throw new Error(`cluster ${n.cluster} has no row; a node cannot be recorded without its billing project`);
    await tx.insert(clusterNodes).values({ ...n, ...owner, timeStarted: Math.min(n.timeStarted, now) }).onConflictDoUpdate({
      target: [clusterNodes.cluster, clusterNodes.node, clusterNodes.generation],
      set: { handle: n.handle, jupyterUrl: n.jupyterUrl, timeRemoved: null },
    });
  });
}

/** The node is gone: billing stops. Idempotent (the first removal time stays). */
export async function endNode(q: Queryable, cluster: string, node: string, now: number): Promise<void> {
  await q.update(clusterNodes).set({ timeRemoved: now }).where(and(eq(clusterNodes.cluster, cluster), eq(clusterNodes.node, node), isNull(clusterNodes.timeRemoved)));
}

// Images.

export async function getImage(q: Queryable, name: string): Promise<ImageRow | null> {
  const [row] = await q.select().from(clusterImages).where(eq(clusterImages.name, name));
  return row ?? null;
}

/** A new image row in `building`; false when the name is taken. */
export async function insertImage(db: Db, i: { name: string; billingProject: string; createdBy: string }, now: number): Promise<boolean> {
  const rows = await db.insert(clusterImages).values({ ...i, ref: '', state: 'building', timeCreated: now }).onConflictDoNothing().returning();
  return rows.length > 0;
}

export async function finishImage(db: Db, name: string, r: { ref: string; buildMs: number } | { error: string }): Promise<void> {
  const set = 'ref' in r ? { state: 'built' as const, ref: r.ref, buildMs: r.buildMs, error: null } : { state: 'failed' as const, error: r.error.slice(0, 2000) };
  await db.update(clusterImages).set(set).where(and(eq(clusterImages.name, name), eq(clusterImages.state, 'building')));
}

/** A failed build may be tried again under the same name. */
export async function restartImage(db: Db, name: string): Promise<boolean> {
  const rows = await db.update(clusterImages).set({ state: 'building', error: null }).where(and(eq(clusterImages.name, name), eq(clusterImages.state, 'failed'))).returning();
  return rows.length > 0;
}

export async function shareImage(db: Db, name: string, projects: readonly string[], now: number): Promise<void> {
  if (projects.length === 0) return;
  await db
    .insert(clusterImageShares)
    .values(projects.map((p) => ({ image: name, billingProject: p, timeShared: now })))
    .onConflictDoNothing();
}

export async function acceptImage(db: Db, name: string, project: string, now: number): Promise<boolean> {
  const rows = await db
    .update(clusterImageShares)
    .set({ timeAccepted: sql`COALESCE(${clusterImageShares.timeAccepted}, ${now}::bigint)` })
    .where(and(eq(clusterImageShares.image, name), eq(clusterImageShares.billingProject, project)))
    .returning();
  return rows.length > 0;
}

export async function imageShares(q: Queryable, name: string) {
  return q.select().from(clusterImageShares).where(eq(clusterImageShares.image, name)).orderBy(clusterImageShares.billingProject);
}

/** Images a project may deploy: those it built and those it accepted. */
export async function deployableImage(q: Queryable, name: string, project: string): Promise<ImageRow | null> {
  const image = await getImage(q, name);
  if (!image || image.state !== 'built') return null;
  if (image.billingProject === project) return image;
  const [share] = await q
    .select()
    .from(clusterImageShares)
    .where(and(eq(clusterImageShares.image, name), eq(clusterImageShares.billingProject, project)));
  return share?.timeAccepted != null ? image : null;
}

export async function listImages(q: Queryable): Promise<ImageRow[]> {
  return q.select().from(clusterImages).orderBy(clusterImages.name);
}
