/**
 * Job-group routes (hail-batch-api §1): create a bunch of groups in an update, read a group and
 * its child groups, cancel a group with its subtree. Group 0 is the batch itself.
 */
import { Hono, type Context } from 'hono';
import type { AppEnv } from '../context';
import { ApiError } from '../errors';
import { intParam, jsonBody, optionalIntQuery, ownBatch, visibleBatch } from '../access';
import { getUpdate, validateJobGroups } from '../submission';
import { jobGroupJson, rootJobGroupJson } from '../serialize';
import { batchCosts, costOf, jobGroupCost } from '../costs';
import { cancelBatchJobs } from '../../db/queries/jobs';
import { cancelJobGroup, getJobGroup, insertJobGroups, listChildJobGroups, type JobGroupRow } from '../../db/queries/job-groups';
import { ROOT_JOB_GROUP_ID } from '../../domain/job-group-tree';
import type { BatchRow } from '../../db/queries/batches';

const PAGE = 50;

export function jobGroupRoutes(version: 1 | 2) {
  const r = new Hono<AppEnv>();

  // Groups are created through v1 only, as Hail's client does; both versions read and cancel.
  if (version === 1) r.post('/batches/:batch_id/updates/:update_id/job-groups/create', async (c) => {
    const s = c.var.services;
    const batch = await ownBatch(s, c.var.caller, intParam(c, 'batch_id'));
    const updateId = intParam(c, 'update_id');
    const update = await getUpdate(s.db, batch.id, updateId);
    if (!update) throw new ApiError('not_found', `update ${updateId} of batch ${batch.id} not found`);
    const specs = validateJobGroups(await jsonBody(c), { startJobGroupId: update.startJobGroupId, nJobGroups: update.nJobGroups }, { oneBunchOfMany: true });
    await insertJobGroups(s.db, batch.id, update.updateId, specs, Date.now());
    return c.body(null, 200);
  });

  /** A committed group of a batch the caller may see; 404 otherwise, as Hail. */
  const groupOf = async (c: Context<AppEnv>): Promise<{ batch: BatchRow; group: JobGroupRow | null; id: number }> => {
    const s = c.var.services;
    const batch = await visibleBatch(s, c.var.caller, intParam(c, 'batch_id'));
    const id = intParam(c, 'job_group_id');
    if (id === ROOT_JOB_GROUP_ID) return { batch, group: null, id };
    const group = await getJobGroup(s.db, batch.id, id);
    if (!group || group.storedState === 'open') throw new ApiError('not_found', `job group ${id} of batch ${batch.id} not found`);
    return { batch, group, id };
  };

  r.get('/batches/:batch_id/job-groups/:job_group_id', async (c) => {
    const s = c.var.services;
    const { batch, group } = await groupOf(c);
    if (!group) return c.json(rootJobGroupJson(batch, costOf(await batchCosts(s, [batch.id]), batch.id)));
    return c.json(jobGroupJson(group, await jobGroupCost(s, batch.id, group.jobGroupId)));
  });

  r.get('/batches/:batch_id/job-groups/:job_group_id/job-groups', async (c) => {
    const s = c.var.services;
    const { batch, id } = await groupOf(c);
    const rows = await listChildJobGroups(s.db, {
      batchId: batch.id,
      parentId: id,
      lastJobGroupId: optionalIntQuery(c, 'last_job_group_id'),
      limit: PAGE,
    });
    const groups = await Promise.all(rows.map(async (g) => jobGroupJson(g, await jobGroupCost(s, batch.id, g.jobGroupId))));
    const body: { job_groups: typeof groups; last_job_group_id?: number } = { job_groups: groups };
    if (rows.length === PAGE) body.last_job_group_id = rows[rows.length - 1]!.jobGroupId;
    return c.json(body);
  });

  // Hail's client cancels a batch by cancelling its root job group (Batch.cancel()).
  r.patch('/batches/:batch_id/job-groups/:job_group_id/cancel', async (c) => {
    const s = c.var.services;
    const { batch, id } = await groupOf(c);
    if (id === ROOT_JOB_GROUP_ID) {
      await cancelBatchJobs(s.db, batch.id, Date.now());
      await s.workflows.cancelBatch(batch.id);
    } else {
      // Done here and again by the workflow, which also stops the group's running jobs.
      await cancelJobGroup(s.db, batch.id, id, Date.now());
      await s.workflows.cancelJobGroup(batch.id, id);
    }
    return c.body(null, 200);
  });

  return r;
}
