/** Batch routes: create, create-fast, get, list, cancel, delete (hail-batch-api §1). */
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../context';
import { ApiError } from '../errors';
import { batchVisibility, checkBillingProject, visibleBatch } from '../access';
import { BATCH_ID_MAX, BatchIdParam, EMPTY, SECURITY, body, enforceContract, cursorQuery, defineRoute, parsedBody, errors, json, params, query, router, urlText } from '../contract';
import { Batch, BatchPage } from '../contracts/responses';
import { CreateFastBody, CreateFastEnvelope, JobBunch, WireBatchSpec, checkJobGroups, checkStoredCounts } from '../contracts/spec';
import { batchJson, START_JOB_GROUP_ID } from '../serialize';
import { batchCosts, costOf } from '../costs';
import { submitBunch, validateBunch, validateJobGroups } from '../submission';
import { parseBatchSpec } from '../../domain/spec';
import { parseBatchQuery } from '../../domain/query';
import { createBatch, createUpdate, findBatchByToken, getBatch, listBatchPage, setBatchDeleted } from '../../db/queries/batches';
import { cancelWholeBatch } from '../cancel';
import { batchFilter } from '../../db/queries/filters';
import { and } from 'drizzle-orm';

const PAGE = 50;

const CreateResult = z
  .object({
    id: z.int(),
    update_id: z.int().nullable(),
    start_job_group_id: z.int().nullable(),
    start_job_id: z.int().nullable(),
  })
  .openapi('BatchCreated', { description: 'update_id, start_job_group_id and start_job_id are null when n_jobs is 0' });

const CreateFastResult = z
  .object({ id: z.int(), start_job_group_id: z.int(), start_job_id: z.int().nullable() })
  .openapi('BatchCreatedFast');

const ListQuery = z.object({
  q: urlText('q').optional().openapi({ description: 'v1: space-separated terms; v2: one clause per line. Default: your own batches' }),
  last_batch_id: cursorQuery('last_batch_id', BATCH_ID_MAX),
});

const SPEC_ERRORS = errors('invalid_request', 'unauthenticated', 'forbidden', 'payload_too_large');

export function batchRoutes(version: 1 | 2) {
  const r = router();
  const tag = version === 1 ? 'batches' : 'batches (v2)';

  defineRoute(
    r,
    createRoute({
      method: 'post',
      path: '/batches/create',
      tags: [tag],
      summary: 'Create a batch (and reserve its first update when n_jobs > 0); idempotent per token',
      security: SECURITY.user,
      request: { body: body(WireBatchSpec, 'the batch spec') },
      responses: { 200: json(CreateResult, 'the batch'), ...SPEC_ERRORS },
    }),
    async (c) => {
      const s = c.var.services;
      const spec = await parsedBody(c, WireBatchSpec, (raw) => {
        checkStoredCounts(raw, 'batch', '');
        return parseBatchSpec(raw);
      });
      await checkBillingProject(s, c.var.caller, spec.billing_project);
      const { batch } = await createBatch(s.db, toNewBatch(c.var.caller.username, spec), Date.now());
      if (spec.n_jobs === 0 && spec.n_job_groups === 0) return c.json({ id: batch.id, update_id: null, start_job_group_id: null, start_job_id: null });
      // Update 1 takes the batch's token, so a retried create finds the same update.
      const update = await createUpdate(s.db, batch.id, spec.token, spec.n_jobs, Date.now(), spec.n_job_groups);
      return c.json({ id: batch.id, update_id: update.updateId, start_job_group_id: update.startJobGroupId, start_job_id: update.startJobId });
    },
  );

  defineRoute(
    r,
    createRoute({
      method: 'post',
      path: '/batches/create-fast',
      tags: [tag],
      summary: 'Create a batch, insert its jobs and commit, in one request',
      security: SECURITY.user,
      request: { body: body(CreateFastBody, 'the batch spec and its jobs') },
      responses: { 200: json(CreateFastResult, 'the batch'), ...SPEC_ERRORS },
    }),
    async (c) => {
      const s = c.var.services;
      const { spec, bunch, groups } = await parsedBody(c, CreateFastEnvelope, (b) => {
        if (typeof b !== 'object' || b === null || Array.isArray(b)) {
          throw new ApiError('invalid_request', 'body must be an object with batch and bunch', 'batch');
        }
        const { batch: batchBody, bunch, job_groups: groups, ...rest } = b as Record<string, unknown>;
        const unknown = Object.keys(rest);
        if (unknown.length > 0) throw new ApiError('invalid_request', `unknown key ${unknown[0]}`, unknown[0]);
        checkJobGroups(groups);
        checkStoredCounts(batchBody, 'batch', 'batch');
        checkStoredCounts(bunch, 'bunch', 'bunch');
        return { spec: parseBatchSpec(batchBody, 'batch'), bunch, groups: groups ?? undefined };
      });
      await checkBillingProject(s, c.var.caller, spec.billing_project);
      // A new batch's first update starts at job 1: validate against that before creating anything.
      const existing = await findBatchByToken(s.db, c.var.caller.username, spec.token);
      if (!existing) {
        const reserved = { startJobGroupId: 1, nJobGroups: spec.n_job_groups };
        validateJobGroups(groups, reserved);
        await validateBunch(s, c.var.caller, bunch, 1, spec.n_jobs, spec.billing_project, reserved);
        enforceContract(JobBunch, bunch);
      }
      const batch = existing ?? (await createBatch(s.db, toNewBatch(c.var.caller.username, spec), Date.now())).batch;
      const update = { token: spec.token, n_jobs: spec.n_jobs, n_job_groups: spec.n_job_groups };
      const result = await submitBunch(s, c.var.caller, batch, update, bunch, groups, (b) => enforceContract(JobBunch, b));
      return c.json({ id: batch.id, start_job_group_id: result.startJobGroupId ?? START_JOB_GROUP_ID, start_job_id: result.startJobId });
    },
  );

  defineRoute(
    r,
    createRoute({
      method: 'get',
      path: '/batches',
      tags: [tag],
      summary: 'List batches, newest first, 50 a page',
      security: SECURITY.user,
      request: { query: ListQuery },
      responses: { 200: json(BatchPage, 'a page of batches'), ...errors('invalid_request', 'unauthenticated') },
    }),
    async (c) => {
      const s = c.var.services;
      const caller = c.var.caller;
      const { q, last_batch_id: lastBatchId } = query(c, ListQuery);
      const clauses = parseBatchQuery(q ?? (version === 1 ? `user:${caller.username}` : `user = ${caller.username}`), version);
      const rows = await listBatchPage(s.db, {
        filter: and(batchFilter(clauses), await batchVisibility(s, caller)),
        lastBatchId,
        limit: PAGE,
      });
      const costs = await batchCosts(s, rows.map((b) => b.id));
      const page: { batches: ReturnType<typeof batchJson>[]; last_batch_id?: number } = {
        batches: rows.map((b) => batchJson(b, costOf(costs, b.id))),
      };
      if (rows.length === PAGE) page.last_batch_id = rows[rows.length - 1]!.id;
      return c.json(page);
    },
  );

  const batchErrors = errors('invalid_request', 'unauthenticated', 'not_found');

  defineRoute(
    r,
    createRoute({
      method: 'get',
      path: '/batches/{batch_id}',
      tags: [tag],
      summary: 'One batch',
      security: SECURITY.user,
      request: { params: BatchIdParam },
      responses: { 200: json(Batch, 'the batch'), ...batchErrors },
    }),
    async (c) => {
      const s = c.var.services;
      const b = await visibleBatch(s, c.var.caller, params(c, BatchIdParam).batch_id);
      return c.json(batchJson(b, costOf(await batchCosts(s, [b.id]), b.id)));
    },
  );

  const cancel = async (c: Context<AppEnv>) => {
    const s = c.var.services;
    const b = await visibleBatch(s, c.var.caller, params(c, BatchIdParam).batch_id);
    await cancelWholeBatch(s, b);
    return c.body(null, 200);
  };
  defineRoute(
    r,
    createRoute({
      method: 'patch',
      path: '/batches/{batch_id}/cancel',
      tags: [tag],
      summary: 'Cancel a batch (idempotent)',
      security: SECURITY.user,
      request: { params: BatchIdParam },
      responses: { 200: EMPTY, ...batchErrors },
    }),
    cancel,
  );

  defineRoute(
    r,
    createRoute({
      method: 'delete',
      path: '/batches/{batch_id}',
      tags: [tag],
      summary: 'Cancel a batch and hide it',
      security: SECURITY.user,
      request: { params: BatchIdParam },
      responses: { 200: EMPTY, ...batchErrors },
    }),
    async (c) => {
      const s = c.var.services;
      const b = await visibleBatch(s, c.var.caller, params(c, BatchIdParam).batch_id);
      await cancelWholeBatch(s, b);
      await setBatchDeleted(s.db, b.id);
      return c.body(null, 200);
    },
  );

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

export { getBatch };
