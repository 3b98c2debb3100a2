/** Batch routes: create, create-fast, get, list, cancel, delete (hail-batch-api §1). */
import { Hono, type Context } from 'hono';
import type { AppEnv } from '../context';
import { ApiError } from '../errors';
import { checkBillingProject, intParam, jsonBody, optionalIntQuery, visibleBatch } from '../access';
import { batchJson, START_JOB_GROUP_ID } from '../serialize';
import { batchCosts, costOf } from '../costs';
import { submitBunch, validateBunch, validateJobGroups } from '../submission';
import { parseBatchSpec } from '../../domain/spec';
import { parseBatchQuery } from '../../domain/query';
import { createBatch, createUpdate, findBatchByToken, getBatch, listBatchPage, setBatchDeleted } from '../../db/queries/batches';
import { cancelBatchJobs } from '../../db/queries/jobs';
import { batchFilter } from '../../db/queries/filters';
import { projectsOf } from '../../db/queries/users';
import { and, inArray, sql, type SQL } from 'drizzle-orm';
import { batches } from '../../db/schema';

const PAGE = 50;

export function batchRoutes(version: 1 | 2) {
  const r = new Hono<AppEnv>();

  r.post('/batches/create', async (c) => {
    const s = c.var.services;
    const spec = parseBatchSpec(await jsonBody(c));
    await checkBillingProject(s, c.var.caller, spec.billing_project);
    const { batch } = await createBatch(s.db, toNewBatch(c.var.caller.username, spec), Date.now());
    if (spec.n_jobs === 0 && spec.n_job_groups === 0) return c.json({ id: batch.id, update_id: null, start_job_group_id: null, start_job_id: null });
    // Update 1 takes the batch's token, so a retried create finds the same update.
    const update = await createUpdate(s.db, batch.id, spec.token, spec.n_jobs, Date.now(), spec.n_job_groups);
    return c.json({ id: batch.id, update_id: update.updateId, start_job_group_id: update.startJobGroupId, start_job_id: update.startJobId });
  });

  r.post('/batches/create-fast', async (c) => {
    const s = c.var.services;
    const body = await jsonBody(c);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new ApiError('invalid_request', 'body must be an object with batch and bunch', 'batch');
    }
    const { batch: batchBody, bunch, job_groups: jobGroups, ...rest } = body as Record<string, unknown>;
    const unknown = Object.keys(rest);
    if (unknown.length > 0) throw new ApiError('invalid_request', `unknown key ${unknown[0]}`, unknown[0]);
    const spec = parseBatchSpec(batchBody, 'batch');
    await checkBillingProject(s, c.var.caller, spec.billing_project);
    // A new batch's first update starts at job 1: validate against that before creating anything.
    const existing = await findBatchByToken(s.db, c.var.caller.username, spec.token);
    if (!existing) {
      const groups = { startJobGroupId: 1, nJobGroups: spec.n_job_groups };
      validateJobGroups(jobGroups, groups);
      await validateBunch(s, c.var.caller, bunch, 1, spec.n_jobs, undefined, groups);
    }
    const batch = existing ?? (await createBatch(s.db, toNewBatch(c.var.caller.username, spec), Date.now())).batch;
    const update = { token: spec.token, n_jobs: spec.n_jobs, n_job_groups: spec.n_job_groups };
    const result = await submitBunch(s, c.var.caller, batch, update, bunch, jobGroups);
    return c.json({ id: batch.id, start_job_group_id: result.startJobGroupId ?? START_JOB_GROUP_ID, start_job_id: result.startJobId });
  });

  r.get('/batches', async (c) => {
    const s = c.var.services;
    const caller = c.var.caller;
    const q = c.req.query('q');
    const clauses = parseBatchQuery(q ?? (version === 1 ? `user:${caller.username}` : `user = ${caller.username}`), version);
    const lastBatchId = optionalIntQuery(c, 'last_batch_id');
    const rows = await listBatchPage(s.db, {
      filter: and(batchFilter(clauses), await visibility(s, caller)),
      lastBatchId,
      limit: PAGE,
    });
    const costs = await batchCosts(s, rows.map((b) => b.id));
    const body: { batches: ReturnType<typeof batchJson>[]; last_batch_id?: number } = {
      batches: rows.map((b) => batchJson(b, costOf(costs, b.id))),
    };
    if (rows.length === PAGE) body.last_batch_id = rows[rows.length - 1]!.id;
    return c.json(body);
  });

  r.get('/batches/:batch_id', async (c) => {
    const s = c.var.services;
    const b = await visibleBatch(s, c.var.caller, intParam(c, 'batch_id'));
    return c.json(batchJson(b, costOf(await batchCosts(s, [b.id]), b.id)));
  });

  const cancel = async (c: Context<AppEnv>) => {
    const s = c.var.services;
    const b = await visibleBatch(s, c.var.caller, intParam(c, 'batch_id'));
    await cancelBatchJobs(s.db, b.id, Date.now());
    await s.workflows.cancelBatch(b.id);
    return c.body(null, 200);
  };
  r.patch('/batches/:batch_id/cancel', cancel);

  r.delete('/batches/:batch_id', async (c) => {
    const s = c.var.services;
    const b = await visibleBatch(s, c.var.caller, intParam(c, 'batch_id'));
    await cancelBatchJobs(s.db, b.id, Date.now());
    await s.workflows.cancelBatch(b.id);
    await setBatchDeleted(s.db, b.id);
    return c.body(null, 200);
  });

  return r;
}

function toNewBatch(user: string, spec: ReturnType<typeof parseBatchSpec>) {
  return {
    user,
    billingProject: spec.billing_project,
    token: spec.token,
    attributes: spec.attributes ?? {},
    callback: spec.callback ?? null,
    cancelAfterNFailures: spec.cancel_after_n_failures ?? null,
  };
}

/** Batches a caller may list: those of their billing projects (as visibleBatch); admins see all. */
async function visibility(s: AppEnv['Variables']['services'], caller: AppEnv['Variables']['caller']): Promise<SQL | undefined> {
  if (caller.isAdmin) return undefined;
  const projects = await projectsOf(s.db, caller.username);
  return projects.length > 0 ? inArray(batches.billingProject, projects) : sql`false`;
}

export { getBatch };
