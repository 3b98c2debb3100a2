/** Update routes: reserve job ids, insert bunches, commit (hail-batch-api §1). */
import { Hono, type Context } from 'hono';
import type { AppEnv } from '../context';
import { ApiError } from '../errors';
import { checkBillingLimit, intParam, jsonBody, ownBatch } from '../access';
import { commitAndWake, getUpdate, submitBunch, validateBunch } from '../submission';
import { START_JOB_GROUP_ID } from '../serialize';
import { parseUpdateSpec } from '../../domain/spec';
import { createUpdate } from '../../db/queries/batches';
import { insertJobs } from '../../db/queries/jobs';

export function updateRoutes() {
  const r = new Hono<AppEnv>();

  r.post('/batches/:batch_id/updates/create', async (c) => {
    const s = c.var.services;
    const batch = await ownBatch(s, c.var.caller, intParam(c, 'batch_id'));
    const spec = parseUpdateSpec(await jsonBody(c));
    if (batch.cancelled) throw new ApiError('invalid_request', 'Cannot submit new jobs or job groups to a cancelled batch');
    await checkBillingLimit(s, batch.billingProject);
    const u = await createUpdate(s.db, batch.id, spec.token, spec.n_jobs, Date.now(), spec.n_job_groups);
    return c.json({ update_id: u.updateId, start_job_id: u.startJobId, start_job_group_id: u.startJobGroupId });
  });

  r.post('/batches/:batch_id/update-fast', async (c) => {
    const s = c.var.services;
    const batch = await ownBatch(s, c.var.caller, intParam(c, 'batch_id'));
    const body = await jsonBody(c);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new ApiError('invalid_request', 'body must be an object with update and bunch', 'update');
    }
    const { update, bunch, job_groups: jobGroups, ...rest } = body as Record<string, unknown>;
    const unknown = Object.keys(rest);
    if (unknown.length > 0) throw new ApiError('invalid_request', `unknown key ${unknown[0]}`, unknown[0]);
    const spec = parseUpdateSpec(update, 'update');
    if (batch.cancelled) throw new ApiError('invalid_request', 'Cannot submit new jobs or job groups to a cancelled batch');
    await checkBillingLimit(s, batch.billingProject);
    const result = await submitBunch(s, c.var.caller, batch, spec, bunch, jobGroups);
    return c.json({ update_id: result.updateId, start_job_id: result.startJobId, start_job_group_id: result.startJobGroupId ?? START_JOB_GROUP_ID });
  });

  const insertBunch = async (c: Context<AppEnv>, updateId: number) => {
    const s = c.var.services;
    const batch = await ownBatch(s, c.var.caller, intParam(c, 'batch_id'));
    const update = await getUpdate(s.db, batch.id, updateId);
    if (!update) throw new ApiError('not_found', `update ${updateId} of batch ${batch.id} not found`);
    const groups = { startJobGroupId: update.startJobGroupId, nJobGroups: update.nJobGroups };
    const specs = await validateBunch(s, c.var.caller, await jsonBody(c), update.startJobId, update.nJobs, undefined, groups);
    await insertJobs(s.db, batch.id, update.updateId, specs);
    return c.body(null, 200);
  };
  r.post('/batches/:batch_id/updates/:update_id/jobs/create', (c) => insertBunch(c, intParam(c, 'update_id')));
  r.post('/batches/:batch_id/jobs/create', (c) => {
    c.header('X-Hail-Deprecated', '1');
    return insertBunch(c, 1);
  });

  const commit = async (c: Context<AppEnv>, updateId: number) => {
    const s = c.var.services;
    const batch = await ownBatch(s, c.var.caller, intParam(c, 'batch_id'));
    const update = await getUpdate(s.db, batch.id, updateId);
    if (!update) throw new ApiError('not_found', `update ${updateId} of batch ${batch.id} not found`);
    const result = await commitAndWake(s, batch, updateId);
    return c.json({ start_job_id: result.startJobId, start_job_group_id: update.startJobGroupId });
  };
  r.patch('/batches/:batch_id/updates/:update_id/commit', (c) => commit(c, intParam(c, 'update_id')));
  r.patch('/batches/:batch_id/close', (c) => {
    c.header('X-Hail-Deprecated', '1');
    return commit(c, 1);
  });

  return r;
}
