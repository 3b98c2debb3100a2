/**
 * Hail/Spark clusters: images (build, share, accept) and deployments with two-step approval.
 * A plan is stored with an id; apply carries out exactly that plan and refuses one that is
 * stale, for another action, or missing; up is plan-and-apply for create and update only, so
 * a destroy always needs its own destroy plan.
 */
import { randomBytes } from 'node:crypto';
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv, Caller, Services } from '../context';
import { ApiError } from '../errors';
import { SECURITY, body, defineRoute, errors, json, params, readBody, router, urlText } from '../contract';
import { checkBillingProject } from '../access';
import { isProjectMember, projectsOf } from '../../db/queries/users';
import { loadRateCard } from '../../db/queries/resources';
import {
  acceptImage,
  allNodes,
  beginApply,
  abandonApply,
  deployableImage,
  ensureCluster,
  factsOf,
  getCluster,
  getImage,
  getPlan,
  imageShares,
  insertImage,
  insertPlan,
  latestPlan,
  listClusters,
  listImages,
  restartImage,
  setClusterProject,
  shareImage,
  type ClusterRow,
  type ImageRow,
  type PlanRow,
} from '../../db/queries/clusters';
import { CLUSTER_NAME, IMAGE_NAME, MAX_WORKERS, masterName, nodesOf, parseClusterSpec, type ClusterSpec } from '../../domain/clusters/spec';
import { diffNodes, plannedSpec, planSummary, type PlanAction } from '../../domain/clusters/plan';
import { hourlyCost, nodesCost } from '../../domain/clusters/costs';

const ClusterName = urlText('name').regex(CLUSTER_NAME, 'expected 2-40 characters of a-z, 0-9 and -, starting with a letter').openapi({ param: { name: 'name', in: 'path' } });
const ClusterParams = z.object({ name: ClusterName });
const PlanParams = ClusterParams.extend({ plan_id: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).openapi({ param: { name: 'plan_id', in: 'path' } }) });
const ImageParams = z.object({
  family: urlText('family').regex(/^[a-z][a-z0-9-]{0,62}$/, 'expected a-z, 0-9 and -').openapi({ param: { name: 'family', in: 'path' } }),
  version: urlText('version').regex(/^(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})$/, 'expected a version such as 1.0.0').openapi({ param: { name: 'version', in: 'path' } }),
});
const ProjectName = z.string().min(1).max(100).refine((v) => !v.includes('\0'), 'may not contain NUL characters');

const Shape = z.object({ cores: z.int().min(1).max(96), memory_gib: z.int().min(1).max(624) });
/** The published form of domain/clusters/spec.ts's schema, which stays the authority. */
const Spec = z
  .object({ image: z.string().regex(IMAGE_NAME), master: Shape.optional(), worker: Shape.optional(), workers: z.int().min(0).max(MAX_WORKERS) })
  .openapi('ClusterSpec');
const PlannedNodeJson = z.object({ name: z.string(), role: z.enum(['master', 'worker']), image: z.string(), cores: z.number(), memory_gib: z.number() });
const NodeChange = z
  .object({ node: z.string(), change: z.enum(['add', 'remove', 'change', 'keep']), before: PlannedNodeJson.nullable(), after: PlannedNodeJson.nullable() })
  .openapi('ClusterNodeChange');
const Plan = z
  .object({
    id: z.number(),
    cluster: z.string(),
    to: z.enum(['create', 'update', 'destroy']),
    state: z.string(),
    base_generation: z.number(),
    spec: Spec.nullable(),
    changes: z.array(NodeChange),
    summary: z.object({ add: z.number(), remove: z.number(), change: z.number(), keep: z.number() }),
    hourly_cost: z.object({ before: z.number(), after: z.number() }),
    created_by: z.string(),
    time_created: z.string(),
    time_applied: z.string().nullable(),
  })
  .openapi('ClusterPlan');
const PlanRequest = z
  .strictObject({
    to: z.enum(['create', 'update', 'destroy']),
    spec: z.unknown().optional().openapi({ description: 'a ClusterSpec; required for create and update' }),
    billing_project: ProjectName.optional().openapi({ description: 'for a create: the project the nodes are billed to' }),
  })
  .openapi('ClusterPlanRequest');
const ApplyRequest = z.strictObject({ plan_id: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER) }).openapi('ClusterApplyRequest');
const UpRequest = z
  .strictObject({ spec: z.unknown().openapi({ description: 'a ClusterSpec' }), billing_project: ProjectName.optional() })
  .openapi('ClusterUpRequest');
const NodeJson = z.object({
  node: z.string(),
  role: z.enum(['master', 'worker']),
  cores: z.number(),
  memory_gib: z.number(),
  live: z.boolean(),
  time_started: z.string(),
  time_removed: z.string().nullable(),
});
const Cluster = z
  .object({
    name: z.string(),
    billing_project: z.string(),
    state: z.string(),
    generation: z.number(),
    spec: Spec.nullable(),
    error: z.string().nullable(),
    applying_plan: z.number().nullable(),
    nodes: z.array(NodeJson),
    hourly_cost: z.number(),
    cost: z.number(),
    jupyter_path: z.string(),
    login_command: z.array(z.string()),
    workflow_id: z.string(),
    progress: z.unknown().nullable(),
    spark: z.object({ alive_workers: z.number() }).nullable(),
    latest_plan: Plan.nullable(),
  })
  .openapi('Cluster');
const Image = z
  .object({
    name: z.string(),
    billing_project: z.string(),
    state: z.enum(['building', 'built', 'failed']),
    ref: z.string(),
    error: z.string().nullable(),
    build_ms: z.number().nullable(),
    shared_with: z.array(z.object({ billing_project: z.string(), accepted: z.boolean() })),
    time_created: z.string(),
  })
  .openapi('ClusterImage');
const ImageRequest = z.strictObject({ name: z.string().regex(IMAGE_NAME, 'expected a versioned image name such as hail-base/1.0.0'), billing_project: ProjectName }).openapi('ClusterImageBuild');
const ShareRequest = z.strictObject({ billing_projects: z.array(ProjectName).min(1).max(100) }).openapi('ClusterImageShare');
const AcceptRequest = z.strictObject({ billing_project: ProjectName }).openapi('ClusterImageAccept');

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function planJson(p: PlanRow) {
  return {
    id: p.id,
    cluster: p.cluster,
    to: p.action,
    state: p.state,
    base_generation: p.baseGeneration,
    spec: p.spec ?? null,
    changes: p.diff,
    summary: planSummary(p.diff),
    hourly_cost: p.hourlyCost,
    created_by: p.createdBy,
    time_created: iso(p.timeCreated)!,
    time_applied: iso(p.timeApplied),
  };
}

function clustersOf(s: Services) {
  if (!s.clusters) throw new ApiError('unavailable', 'this service runs no clusters');
  return s.clusters;
}

/** A cluster the caller may see and act on: one billed to a project they belong to. */
async function visibleCluster(s: Services, caller: Caller, name: string): Promise<ClusterRow> {
  const row = await getCluster(s.db, name);
  if (!row || !(caller.isAdmin || (await isProjectMember(s.db, row.billingProject, caller.username)))) {
    throw new ApiError('not_found', `cluster ${name} not found`, 'name');
  }
  return row;
}

async function makePlan(c: Context<AppEnv>, name: string, to: PlanAction, rawSpec: unknown, project: string | undefined): Promise<PlanRow> {
  const s = c.var.services;
  const caller = c.var.caller;
  const existing = await getCluster(s.db, name);
  if (existing) await visibleCluster(s, caller, name);
  const spec: ClusterSpec | null = to === 'destroy' ? null : parseClusterSpec(rawSpec, 'spec');
  const facts = factsOf(existing);
  const target = plannedSpec(to, facts, spec);
  const billingProject = (facts.spec === null ? project : undefined) ?? existing?.billingProject ?? project;
  if (!billingProject) throw new ApiError('invalid_request', 'billing_project: a create plan names the billing project to bill', 'billing_project');
  if (to !== 'destroy') await checkBillingProject(s, caller, billingProject);
  if (target !== null && !(await deployableImage(s.db, target.image, billingProject))) {
    throw new ApiError('forbidden', `spec.image: ${target.image} is not an image billing project ${billingProject} built or accepted`, 'spec.image');
  }
  const now = Date.now();
  await ensureCluster(s.db, { name, billingProject, createdBy: caller.username, jupyterToken: randomBytes(24).toString('hex') }, now);
  if (to === 'create') await setClusterProject(s.db, name, billingProject);
  const card = await loadRateCard(s.db);
  const region = s.config.region;
  return insertPlan(
    s.db,
    {
      cluster: name,
      action: to,
      baseGeneration: facts.generation,
      spec: target,
      diff: diffNodes(name, facts.spec, target),
      hourlyCost: { before: hourlyCost(nodesOf(name, facts.spec), card, region), after: hourlyCost(nodesOf(name, target), card, region) },
      createdBy: caller.username,
    },
    now,
  );
}

async function apply(c: Context<AppEnv>, name: string, planId: number, allowed: readonly PlanAction[]): Promise<PlanRow> {
  const s = c.var.services;
  const gw = clustersOf(s);
  const before = await visibleCluster(s, c.var.caller, name);
  const taken = await beginApply(s.db, name, planId, allowed, Date.now());
  if (!taken.ok) throw new ApiError('conflict', `${taken.field}: ${taken.reason}`, taken.field);
  try {
    await gw.workflows.apply(name, taken.cluster.billingProject, planId);
  } catch (e) {
    await abandonApply(s.db, name, planId, before.generation, before.state);
    throw e;
  }
  return taken.plan;
}

async function clusterJson(s: Services, row: ClusterRow) {
  const nodes = await allNodes(s.db, row.name);
  const card = await loadRateCard(s.db);
  const now = Date.now();
  const live = nodes.filter((n) => n.timeRemoved === null);
  const gw = s.clusters;
  let spark: { alive_workers: number } | null = null;
  if (gw && row.spec !== null && live.some((n) => n.role === 'master')) {
    const r = await gw.nodes
      .exec(row.name, masterName(row.name), `curl -sf http://localhost:8080/json/ | python3 -c 'import json,sys; print(json.load(sys.stdin)["aliveworkers"])'`, { timeoutMs: 5000 })
      .catch(() => null);
    if (r?.exitCode === 0) spark = { alive_workers: Number(r.stdout.trim()) };
  }
  const plan = await latestPlan(s.db, row.name);
  return {
    name: row.name,
    billing_project: row.billingProject,
    state: row.state,
    generation: row.generation,
    spec: row.spec ?? null,
    error: row.error,
    applying_plan: row.applyingPlan,
    nodes: nodes.map((n) => ({
      node: n.node,
      role: n.role,
      cores: n.shape.cores,
      memory_gib: n.shape.memory_gib,
      live: n.timeRemoved === null,
      time_started: iso(n.timeStarted)!,
      time_removed: iso(n.timeRemoved),
    })),
    hourly_cost: hourlyCost(live.map((n) => n.shape), card, s.config.region),
    cost: nodesCost(nodes, card, now),
    jupyter_path: `/clusters/${row.name}/jupyter/`,
    login_command: gw ? gw.nodes.loginCommand(row.name, masterName(row.name)) : [],
    workflow_id: gw ? gw.workflows.workflowId(row.name) : '',
    progress: gw && row.applyingPlan !== null ? await gw.workflows.progress(row.name) : null,
    spark,
    latest_plan: plan ? planJson(plan) : null,
  };
}

async function imageJson(s: Services, i: ImageRow) {
  const shares = await imageShares(s.db, i.name);
  return {
    name: i.name,
    billing_project: i.billingProject,
    state: i.state,
    ref: i.ref,
    error: i.error,
    build_ms: i.buildMs,
    shared_with: shares.map((x) => ({ billing_project: x.billingProject, accepted: x.timeAccepted !== null })),
    time_created: iso(i.timeCreated)!,
  };
}

/** An image the caller's projects own or were offered. */
async function visibleImage(s: Services, caller: Caller, name: string): Promise<ImageRow> {
  const image = await getImage(s.db, name);
  if (image) {
    if (caller.isAdmin) return image;
    const mine = await projectsOf(s.db, caller.username);
    const shares = await imageShares(s.db, name);
    if (mine.includes(image.billingProject) || shares.some((x) => mine.includes(x.billingProject))) return image;
  }
  throw new ApiError('not_found', `image ${name} not found`, 'name');
}

export function clusterRoutes() {
  const r = router();
  const route = (config: Parameters<typeof createRoute>[0]) => createRoute({ tags: ['clusters'], security: SECURITY.user, ...config });
  const common = errors('unauthenticated', 'invalid_request', 'not_found');

  defineRoute(
    r,
    route({
      method: 'post',
      path: '/clusters/{name}/plan',
      summary: 'Store a plan: the node-by-node diff between the spec and the cluster, with hourly costs',
      request: { params: ClusterParams, body: body(PlanRequest, 'the action and, for create and update, the spec') },
      responses: { 201: json(Plan, 'the stored plan'), ...common, ...errors('forbidden', 'payload_too_large') },
    }),
    async (c) => {
      const { name } = params(c, ClusterParams);
      const req = await readBody(c, PlanRequest);
      return c.json(planJson(await makePlan(c, name, req.to, req.spec, req.billing_project)), 201);
    },
  );

  defineRoute(
    r,
    route({
      method: 'get',
      path: '/clusters/{name}/plans/{plan_id}',
      summary: 'One stored plan',
      request: { params: PlanParams },
      responses: { 200: json(Plan, 'the plan'), ...common },
    }),
    async (c) => {
      const { name, plan_id } = params(c, PlanParams);
      await visibleCluster(c.var.services, c.var.caller, name);
      const plan = await getPlan(c.var.services.db, plan_id);
      if (!plan || plan.cluster !== name) throw new ApiError('not_found', `plan ${plan_id} not found`, 'plan_id');
      return c.json(planJson(plan));
    },
  );

  defineRoute(
    r,
    route({
      method: 'post',
      path: '/clusters/{name}/apply',
      summary: 'Carry out exactly this stored plan; refused (409) when it is stale, already applied, or another is applying',
      request: { params: ClusterParams, body: body(ApplyRequest, 'the plan to apply') },
      responses: { 202: json(Plan, 'the plan, now applying'), ...common, ...errors('conflict', 'unavailable', 'payload_too_large') },
    }),
    async (c) => {
      const { name } = params(c, ClusterParams);
      const req = await readBody(c, ApplyRequest);
      return c.json(planJson(await apply(c, name, req.plan_id, ['create', 'update', 'destroy'])), 202);
    },
  );

  defineRoute(
    r,
    route({
      method: 'post',
      path: '/clusters/{name}/up',
      summary: 'Plan and apply at once: a create, or an update when the cluster runs (never a destroy)',
      request: { params: ClusterParams, body: body(UpRequest, 'the spec') },
      responses: { 202: json(Plan, 'the plan, now applying'), ...common, ...errors('forbidden', 'conflict', 'unavailable', 'payload_too_large') },
    }),
    async (c) => {
      const { name } = params(c, ClusterParams);
      const req = await readBody(c, UpRequest);
      const facts = factsOf(await getCluster(c.var.services.db, name));
      const to: PlanAction = facts.spec === null ? 'create' : 'update';
      const plan = await makePlan(c, name, to, req.spec, req.billing_project);
      return c.json(planJson(await apply(c, name, plan.id, ['create', 'update'])), 202);
    },
  );

  defineRoute(
    r,
    route({ method: 'get', path: '/clusters/{name}', summary: "A cluster's state, nodes, cost and an apply's progress", request: { params: ClusterParams }, responses: { 200: json(Cluster, 'the cluster'), ...common } }),
    async (c) => {
      const { name } = params(c, ClusterParams);
      const row = await visibleCluster(c.var.services, c.var.caller, name);
      return c.json(await clusterJson(c.var.services, row));
    },
  );

  defineRoute(
    r,
    route({ method: 'get', path: '/clusters', summary: "The clusters of the caller's billing projects", responses: { 200: json(z.array(Cluster), 'the clusters'), ...errors('unauthenticated') } }),
    async (c) => {
      const s = c.var.services;
      const rows = await listClusters(s.db, c.var.caller.isAdmin ? null : await projectsOf(s.db, c.var.caller.username));
      return c.json(await Promise.all(rows.map((row) => clusterJson(s, row))));
    },
  );

  // Images.

  defineRoute(
    r,
    route({
      method: 'post',
      path: '/cluster-images',
      summary: 'Build a cluster image under a versioned name, owned by a billing project',
      request: { body: body(ImageRequest, 'the name and the owning project') },
      responses: { 202: json(Image, 'the image, building'), ...common, ...errors('forbidden', 'conflict', 'unavailable', 'payload_too_large') },
    }),
    async (c) => {
      const s = c.var.services;
      const gw = clustersOf(s);
      const req = await readBody(c, ImageRequest);
      await checkBillingProject(s, c.var.caller, req.billing_project);
      if (!(await insertImage(s.db, { name: req.name, billingProject: req.billing_project, createdBy: c.var.caller.username }, Date.now()))) {
        const existing = await getImage(s.db, req.name);
        if (existing?.state !== 'failed' || existing.billingProject !== req.billing_project || !(await restartImage(s.db, req.name))) {
          throw new ApiError('conflict', `name: image ${req.name} exists; versions are immutable, build a new version`, 'name');
        }
      }
      await gw.workflows.buildImage(req.name);
      return c.json(await imageJson(s, (await getImage(s.db, req.name))!), 202);
    },
  );

  defineRoute(
    r,
    route({ method: 'get', path: '/cluster-images', summary: "Images the caller's projects own or were offered", responses: { 200: json(z.array(Image), 'the images'), ...errors('unauthenticated') } }),
    async (c) => {
      const s = c.var.services;
      const out = [];
      for (const i of await listImages(s.db)) {
        const ok = await visibleImage(s, c.var.caller, i.name).then(() => true, () => false);
        if (ok) out.push(await imageJson(s, i));
      }
      return c.json(out);
    },
  );

  defineRoute(
    r,
    route({ method: 'get', path: '/cluster-images/{family}/{version}', summary: 'One image', request: { params: ImageParams }, responses: { 200: json(Image, 'the image'), ...common } }),
    async (c) => {
      const p = params(c, ImageParams);
      return c.json(await imageJson(c.var.services, await visibleImage(c.var.services, c.var.caller, `${p.family}/${p.version}`)));
    },
  );

  defineRoute(
    r,
    route({
      method: 'post',
      path: '/cluster-images/{family}/{version}/share',
      summary: 'Offer the image to other billing projects (by a member of the owning project)',
      request: { params: ImageParams, body: body(ShareRequest, 'the projects') },
      responses: { 200: json(Image, 'the image'), ...common, ...errors('forbidden', 'payload_too_large') },
    }),
    async (c) => {
      const s = c.var.services;
      const p = params(c, ImageParams);
      const image = await visibleImage(s, c.var.caller, `${p.family}/${p.version}`);
      const req = await readBody(c, ShareRequest);
      if (!c.var.caller.isAdmin && !(await isProjectMember(s.db, image.billingProject, c.var.caller.username))) {
        throw new ApiError('forbidden', `only members of ${image.billingProject} may share ${image.name}`, 'name');
      }
      await shareImage(s.db, image.name, [...new Set(req.billing_projects)].filter((x) => x !== image.billingProject), Date.now());
      return c.json(await imageJson(s, image));
    },
  );

  defineRoute(
    r,
    route({
      method: 'post',
      path: '/cluster-images/{family}/{version}/accept',
      summary: 'Accept an image shared with one of your billing projects, so that project may deploy it',
      request: { params: ImageParams, body: body(AcceptRequest, 'the accepting project') },
      responses: { 200: json(Image, 'the image'), ...common, ...errors('forbidden', 'payload_too_large') },
    }),
    async (c) => {
      const s = c.var.services;
      const p = params(c, ImageParams);
      const image = await visibleImage(s, c.var.caller, `${p.family}/${p.version}`);
      const req = await readBody(c, AcceptRequest);
      if (!c.var.caller.isAdmin && !(await isProjectMember(s.db, req.billing_project, c.var.caller.username))) {
        throw new ApiError('forbidden', `unknown billing project ${req.billing_project}`, 'billing_project');
      }
      if (!(await acceptImage(s.db, image.name, req.billing_project, Date.now()))) {
        throw new ApiError('forbidden', `${image.name} was not shared with ${req.billing_project}`, 'billing_project');
      }
      return c.json(await imageJson(s, image));
    },
  );

  return r;
}

