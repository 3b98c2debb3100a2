/**
 * Billing projects (hail-batch-api §1). Anyone may read the projects they belong to (admins
 * read all); an unknown project and one the caller is not in are the same 403, so names do not
 * leak. The lifecycle, membership and limit routes are admin only. Answers follow Hail's: the
 * project name for status changes, `{billing_project, user}` for members, `{billing_project,
 * limit}` for limits.
 */
import { Hono, type Context } from 'hono';
import type { AppEnv } from '../context';
import { ApiError } from '../errors';
import { requireAdmin } from '../auth';
import { jsonBody } from '../access';
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
async function limitBody(c: Context<AppEnv>): Promise<unknown> {
  try {
    return await jsonBody(c);
  } catch (e) {
    if (e instanceof ApiError) throw new ApiError(e.code, `limit: ${e.message}`, 'limit');
    throw e;
  }
}

export function billingProjectRoutes() {
  const r = new Hono<AppEnv>();

  r.get('/billing_projects', async (c) => {
    const caller = c.var.caller;
    const projects = await listProjects(c.var.services.db, caller.isAdmin ? {} : { member: caller.username });
    return c.json(await projectsJson(c, projects));
  });

  r.get('/billing_projects/:billing_project', async (c) => {
    const caller = c.var.caller;
    const name = c.req.param('billing_project');
    const projects = await listProjects(c.var.services.db, caller.isAdmin ? { name } : { name, member: caller.username });
    const [project] = await projectsJson(c, projects);
    if (!project) throw new ApiError('forbidden', `unknown billing project ${name}`, 'billing_project');
    return c.json(project);
  });

  r.post('/billing_projects/:billing_project/create', requireAdmin, async (c) => {
    const name = parseProjectName(c.req.param('billing_project'));
    await createProject(c.var.services.db, name);
    return c.json(name);
  });

  const statusChange = (action: ProjectAction) => async (c: Context<AppEnv>) => {
    const name = c.req.param('billing_project') ?? '';
    await changeProjectStatus(c.var.services.db, name, action);
    return c.json(name);
  };
  r.post('/billing_projects/:billing_project/close', requireAdmin, statusChange('close'));
  r.post('/billing_projects/:billing_project/reopen', requireAdmin, statusChange('reopen'));
  r.post('/billing_projects/:billing_project/delete', requireAdmin, statusChange('delete'));

  r.post('/billing_projects/:billing_project/users/:user/add', requireAdmin, async (c) => {
    const name = c.req.param('billing_project');
    const user = c.req.param('user');
    await addMember(c.var.services.db, name, user);
    return c.json({ billing_project: name, user });
  });

  r.post('/billing_projects/:billing_project/users/:user/remove', requireAdmin, async (c) => {
    const name = c.req.param('billing_project');
    const user = c.req.param('user');
    await removeMember(c.var.services.db, name, user);
    return c.json({ billing_project: name, user });
  });

  r.post('/billing_limits/:billing_project/edit', requireAdmin, async (c) => {
    const name = c.req.param('billing_project');
    const limit = parseLimit(await limitBody(c));
    await setProjectLimit(c.var.services.db, name, limit);
    return c.json({ billing_project: name, limit });
  });

  return r;
}
