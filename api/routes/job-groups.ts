/**
 * Job-group routes (hail-batch-api §1): create a bunch of groups in an update, read a group and
 * its child groups, cancel a group with its subtree. Group 0 is the batch itself.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../context';
import { ApiError } from '../errors';
import { ownBatch, visibleBatch } from '../access';
import { BatchIdParam, EMPTY, JobGroupParams, SECURITY, body, cursorQuery, defineRoute, errors, idParam, json, params, parsedBody, query, router } from '../contract';
import { CostBreakdown } from '../contracts/responses';
import { getUpdate, validateJobGroups } from '../submission';
import { jobGroupJson, rootJobGroupJson } from '../serialize';
import { batchCosts, costOf, jobGroupCost, jobGroupCosts } from '../costs';
import { cancelWholeBatch } from '../cancel';
import { cancelJobGroup, getJobGroup, insertJobGroups, listChildJobGroups, type JobGroupRow } from '../../db/queries/job-groups';
import { ROOT_JOB_GROUP_ID } from '../../domain/job-group-tree';
import type { BatchRow } from '../../db/queries/batches';

const PAGE = 50;

const UpdateParams = BatchIdParam.extend({ update_id: idParam('update_id') });

const JobGroupBunch = z.array(z.unknown()).openapi('JobGroupBunch', {
  description: "Hail's JobGroupSpec: job_group_id (in-update, without gaps), absolute_parent_id or in_update_parent_id, attributes, callback, cancel_after_n_failures",
});

const JobGroup = z
  .object({
    batch_id: z.int(),
    job_group_id: z.int(),
    state: z.enum(['open', 'failure', 'cancelled', 'success', 'running']),
    complete: z.boolean(),
    n_jobs: z.int(),
    n_completed: z.int(),
    n_succeeded: z.int(),
    n_failed: z.int(),
    n_cancelled: z.int(),
    time_created: z.string().nullable(),
    time_completed: z.string().nullable(),
    duration: z.number().nullable(),
    cost: z.number(),
    cost_breakdown: CostBreakdown,
    attributes: z.record(z.string(), z.string()).optional().openapi({ description: 'absent when the group has none' }),
  })
  .openapi('JobGroup');

const JobGroupPage = z
  .object({ job_groups: z.array(JobGroup), last_job_group_id: z.int().optional() })
  .openapi('JobGroupPage');

const ChildQuery = z.object({ last_job_group_id: cursorQuery('last_job_group_id') });

const readErrors = errors('invalid_request', 'unauthenticated', 'not_found');

export function jobGroupRoutes(version: 1 | 2) {
  const r = router();
  const tag = version === 1 ? 'job groups' : 'job groups (v2)';

  // Groups are created through v1 only, as Hail's client does; both versions read and cancel.
  if (version === 1) {
    defineRoute(
      r,
      createRoute({
        method: 'post',
        path: '/batches/{batch_id}/updates/{update_id}/job-groups/create',
        tags: [tag],
        summary: "Insert a bunch of an update's job groups; resent or out of order is fine",
        security: SECURITY.user,
        request: { params: UpdateParams, body: body(JobGroupBunch, 'job group specs') },
        responses: { 200: EMPTY, ...errors('invalid_request', 'unauthenticated', 'not_found', 'payload_too_large') },
      }),
      async (c) => {
        const s = c.var.services;
        const { batch_id: batchId, update_id: updateId } = params(c, UpdateParams);
        const batch = await ownBatch(s, c.var.caller, batchId);
        const update = await getUpdate(s.db, batch.id, updateId);
        if (!update) throw new ApiError('not_found', `update ${updateId} of batch ${batch.id} not found`);
        const reserved = { startJobGroupId: update.startJobGroupId, nJobGroups: update.nJobGroups };
        const specs = await parsedBody(c, JobGroupBunch, (raw) => validateJobGroups(raw, reserved, { oneBunchOfMany: true }));
        await insertJobGroups(s.db, batch.id, update.updateId, specs, Date.now());
        return c.body(null, 200);
      },
    );
  }

  /** A committed group of a batch the caller may see; 404 otherwise, as Hail. */
  const groupOf = async (c: Context<AppEnv>): Promise<{ batch: BatchRow; group: JobGroupRow | null; id: number }> => {
    const s = c.var.services;
    const { batch_id: batchId, job_group_id: id } = params(c, JobGroupParams);
    const batch = await visibleBatch(s, c.var.caller, batchId);
    if (id === ROOT_JOB_GROUP_ID) return { batch, group: null, id };
    const group = await getJobGroup(s.db, batch.id, id);
    if (!group || group.storedState === 'open') throw new ApiError('not_found', `job group ${id} of batch ${batch.id} not found`);
    return { batch, group, id };
  };

  defineRoute(
    r,
    createRoute({
      method: 'get',
      path: '/batches/{batch_id}/job-groups/{job_group_id}',
      tags: [tag],
      summary: 'One job group: counts over its subtree, state, cost, duration, attributes',
      security: SECURITY.user,
      request: { params: JobGroupParams },
      responses: { 200: json(JobGroup, 'the job group'), ...readErrors },
    }),
    async (c) => {
      const s = c.var.services;
      const { batch, group } = await groupOf(c);
      if (!group) return c.json(rootJobGroupJson(batch, costOf(await batchCosts(s, [batch.id]), batch.id)));
      return c.json(jobGroupJson(group, await jobGroupCost(s, batch.id, group.jobGroupId)));
    },
  );

  defineRoute(
    r,
    createRoute({
      method: 'get',
      path: '/batches/{batch_id}/job-groups/{job_group_id}/job-groups',
      tags: [tag],
      summary: "A job group's child groups, by id, 50 a page",
      security: SECURITY.user,
      request: { params: JobGroupParams, query: ChildQuery },
      responses: { 200: json(JobGroupPage, 'a page of job groups'), ...readErrors },
    }),
    async (c) => {
      const s = c.var.services;
      const { batch, id } = await groupOf(c);
      const rows = await listChildJobGroups(s.db, {
        batchId: batch.id,
        parentId: id,
        lastJobGroupId: query(c, ChildQuery).last_job_group_id,
        limit: PAGE,
      });
      const costs = await jobGroupCosts(s, batch.id, rows.map((g) => g.jobGroupId));
      const groups = rows.map((g) => jobGroupJson(g, costOf(costs, g.jobGroupId)));
      const page: { job_groups: typeof groups; last_job_group_id?: number } = { job_groups: groups };
      if (rows.length === PAGE) page.last_job_group_id = rows[rows.length - 1]!.jobGroupId;
      return c.json(page);
    },
  );

  // Hail's client cancels a batch by cancelling its root job group (Batch.cancel()).
  defineRoute(
    r,
    createRoute({
      method: 'patch',
      path: '/batches/{batch_id}/job-groups/{job_group_id}/cancel',
      tags: [tag],
      summary: 'Cancel a job group and its subgroups (0: the batch); never its parent or siblings',
      security: SECURITY.user,
      request: { params: JobGroupParams },
      responses: { 200: EMPTY, ...readErrors },
    }),
    async (c) => {
      const s = c.var.services;
      const { batch, id } = await groupOf(c);
      if (id === ROOT_JOB_GROUP_ID) {
        await cancelWholeBatch(s, batch);
      } else {
        // Done here and again by the workflow, which also stops the group's running jobs.
        await cancelJobGroup(s.db, batch.id, id, Date.now());
        await s.workflows.cancelJobGroup(batch.id, id);
      }
      return c.body(null, 200);
    },
  );

  return r;
}
