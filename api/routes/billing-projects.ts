/**
 * Billing projects (hail-batch-api §1). Anyone may read the projects they belong to (admins
 * read all); an unknown project and one the caller is not in are the same 403, so names do not
 * leak. The lifecycle, membership and limit routes are admin only. Answers follow Hail's: the
 * project name for status changes, `{billing_project, user}` for members, `{billing_project,
 * limit}` for limits.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../context';
import { ApiError } from '../errors';
import { requireAdmin } from '../auth';
import { SECURITY, body, defineRoute, errors, json, nameParam, params, parsedBody, router } from '../contract';
import { parseLimit, parseProjectName, type ProjectAction } from '../../domain/accounts';
import { accruedCosts } from '../../db/queries/billing';
import {
  addMember,
  changeProjectStatus,
  createProject,
  listProjects,
  removeMember,
  setProjectLimit,
  type ProjectListing,
} from '../../db/queries/billing-projects';

const BillingProject = z
  .object({
    billing_project: z.string(),
    status: z.enum(['open', 'closed', 'deleted']),
    users: z.array(z.string()),
    limit: z.number().nullable(),
    accrued_cost: z.number(),
  })
  .openapi('BillingProject');
const Member = z.object({ billing_project: z.string(), user: z.string() }).openapi('BillingProjectMember');
const Limit = z
  .looseObject({ limit: z.number().min(0).nullable().openapi({ description: 'dollars; null for no limit' }) })
  .openapi('BillingLimit');
const LimitSet = z.object({ billing_project: z.string(), limit: z.number().nullable() }).openapi('BillingLimitSet');

const ProjectParams = z.object({ billing_project: nameParam('billing_project') });
const MemberParams = ProjectParams.extend({ user: nameParam('user') });

async function projectsJson(c: Context<AppEnv>, projects: ProjectListing[]) {
  const costs = await accruedCosts(c.var.services.db, projects.map((p) => p.name), Date.now());
  return projects.map((p) => ({
    billing_project: p.name,
    status: p.status,
    users: p.users,
    limit: p.limit,
    accrued_cost: costs.get(p.name) ?? 0,
  }));
}

/** The limit is the body's only field, so an unreadable body is reported against it. */
async function limitOf(c: Context<AppEnv>): Promise<number | null> {
  try {
    return await parsedBody(c, Limit, parseLimit);
  } catch (e) {
    if (e instanceof ApiError && e.field === undefined) throw new ApiError(e.code, `limit: ${e.message}`, 'limit');
    throw e;
  }
}

export function billingProjectRoutes() {
  const r = router();
  const route = (config: Parameters<typeof createRoute>[0]) =>
    createRoute({ tags: ['billing projects'], security: SECURITY.user, ...config });
  const adminErrors = errors('invalid_request', 'unauthenticated', 'forbidden', 'not_found', 'conflict');

  defineRoute(
    r,
    route({
      method: 'get',
      path: '/billing_projects',
      summary: "The caller's billing projects (every project, for admins)",
      responses: { 200: json(z.array(BillingProject), 'the projects'), ...errors('unauthenticated') },
    }),
    async (c) => {
      const caller = c.var.caller;
      const projects = await listProjects(c.var.services.db, caller.isAdmin ? {} : { member: caller.username });
      return c.json(await projectsJson(c, projects));
    },
  );

  defineRoute(
    r,
    route({
      method: 'get',
      path: '/billing_projects/{billing_project}',
      summary: 'One billing project; 403 when unknown or not the caller’s',
      request: { params: ProjectParams },
      responses: { 200: json(BillingProject, 'the project'), ...errors('invalid_request', 'unauthenticated', 'forbidden') },
    }),
    async (c) => {
      const caller = c.var.caller;
      const name = params(c, ProjectParams).billing_project;
      const projects = await listProjects(c.var.services.db, caller.isAdmin ? { name } : { name, member: caller.username });
      const [project] = await projectsJson(c, projects);
      if (!project) throw new ApiError('forbidden', `unknown billing project ${name}`, 'billing_project');
      return c.json(project);
    },
  );

  defineRoute(
    r,
    route({
      method: 'post',
      path: '/billing_projects/{billing_project}/create',
      summary: 'Create a billing project (admin)',
      middleware: [requireAdmin],
      request: { params: ProjectParams },
      responses: { 200: json(z.string(), 'the project name'), ...adminErrors },
    }),
    async (c) => {
      const name = parseProjectName(params(c, ProjectParams).billing_project);
      await createProject(c.var.services.db, name);
      return c.json(name);
    },
  );

  const statusChange = (action: ProjectAction, summary: string) =>
    defineRoute(
      r,
      route({
        method: 'post',
        path: `/billing_projects/{billing_project}/${action}`,
        summary,
        middleware: [requireAdmin],
        request: { params: ProjectParams },
        responses: { 200: json(z.string(), 'the project name'), ...adminErrors },
      }),
      async (c) => {
        const name = params(c, ProjectParams).billing_project;
        await changeProjectStatus(c.var.services.db, name, action);
        return c.json(name);
      },
    );
  statusChange('close', 'Close a billing project (admin); refused while it has unfinished batches');
  statusChange('reopen', 'Reopen a closed billing project (admin)');
  statusChange('delete', 'Delete a closed billing project (admin)');

  const membership = (verb: 'add' | 'remove', change: typeof addMember) =>
    defineRoute(
      r,
      route({
        method: 'post',
        path: `/billing_projects/{billing_project}/users/{user}/${verb}`,
        summary: `${verb === 'add' ? 'Add a user to' : 'Remove a user from'} a billing project (admin)`,
        middleware: [requireAdmin],
        request: { params: MemberParams },
        responses: { 200: json(Member, 'the membership'), ...adminErrors },
      }),
      async (c) => {
        const { billing_project: name, user } = params(c, MemberParams);
        await change(c.var.services.db, name, user);
        return c.json({ billing_project: name, user });
      },
    );
  membership('add', addMember);
  membership('remove', removeMember);

  defineRoute(
    r,
    route({
      method: 'post',
      path: '/billing_limits/{billing_project}/edit',
      summary: "Set or clear a billing project's spending limit (admin)",
      middleware: [requireAdmin],
      request: { params: ProjectParams, body: body(Limit, 'the limit') },
      responses: { 200: json(LimitSet, 'the limit now'), ...adminErrors, ...errors('payload_too_large') },
    }),
    async (c) => {
      const name = params(c, ProjectParams).billing_project;
      const limit = await limitOf(c);
      await setProjectLimit(c.var.services.db, name, limit);
      return c.json({ billing_project: name, limit });
    },
  );

  return r;
}
