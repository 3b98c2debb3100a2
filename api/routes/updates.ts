/** Update routes: reserve job ids, insert bunches, commit (hail-batch-api §1). */
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../context';
import { ApiError } from '../errors';
import { checkBillingLimit, ownBatch } from '../access';
import { BatchIdParam, EMPTY, INT4_MAX, SECURITY, body, enforceContract, defineRoute, parsedBody, errors, idParam, json, params, router } from '../contract';
import { JobBunch, UpdateFastBody, UpdateFastEnvelope, WireUpdateSpec, checkJobGroups, checkStoredCounts } from '../contracts/spec';
import { commitAndWake, getUpdate, submitBunch, validateBunch } from '../submission';
import { START_JOB_GROUP_ID } from '../serialize';
import { parseUpdateSpec } from '../../domain/spec';
import { createUpdate } from '../../db/queries/batches';
import { insertJobs } from '../../db/queries/jobs';

const UpdateParams = BatchIdParam.extend({ update_id: idParam('update_id') });

const UpdateResult = z
  .object({ update_id: z.int().nullable(), start_job_id: z.int().nullable(), start_job_group_id: z.int() })
  .openapi('UpdateCreated', { description: 'update_id and start_job_id are null for an update-fast with no jobs' });

const CommitResult = z.object({ start_job_id: z.int().nullable(), start_job_group_id: z.int() }).openapi('UpdateCommitted');

const writeErrors = errors('invalid_request', 'unauthenticated', 'not_found', 'payload_too_large');
const specErrors = errors('invalid_request', 'unauthenticated', 'forbidden', 'not_found', 'payload_too_large');

/** Job ids are int4: an update may not reserve ids past the largest one. */
function checkRoomForJobs(reserved: number, nJobs: number, field: string): void {
  if (nJobs > INT4_MAX - reserved) {
    throw new ApiError('invalid_request', `${field}: this batch has room for ${INT4_MAX - reserved} more jobs, found ${nJobs}`, field);
  }
}

export function updateRoutes() {
  const r = router();
  const tag = 'updates';

  defineRoute(
    r,
    createRoute({
      method: 'post',
      path: '/batches/{batch_id}/updates/create',
      tags: [tag],
      summary: 'Reserve the next block of job ids for an update; idempotent per token',
      security: SECURITY.user,
      request: { params: BatchIdParam, body: body(WireUpdateSpec, 'the update spec') },
      responses: { 200: json(UpdateResult, 'the update'), ...specErrors },
    }),
    async (c) => {
      const s = c.var.services;
      const batch = await ownBatch(s, c.var.caller, params(c, BatchIdParam).batch_id);
      const spec = await parsedBody(c, WireUpdateSpec, (raw) => {
        checkStoredCounts(raw, 'update', '');
        return parseUpdateSpec(raw);
      });
      if (batch.cancelled) throw new ApiError('invalid_request', 'Cannot submit new jobs or job groups to a cancelled batch');
      checkRoomForJobs(batch.nReservedJobs, spec.n_jobs, 'n_jobs');
      await checkBillingLimit(s, batch.billingProject);
      const u = await createUpdate(s.db, batch.id, spec.token, spec.n_jobs, Date.now(), spec.n_job_groups);
      return c.json({ update_id: u.updateId, start_job_id: u.startJobId, start_job_group_id: u.startJobGroupId });
    },
  );

  defineRoute(
    r,
    createRoute({
      method: 'post',
      path: '/batches/{batch_id}/update-fast',
      tags: [tag],
      summary: 'Create an update, insert its jobs and commit, in one request',
      security: SECURITY.user,
      request: { params: BatchIdParam, body: body(UpdateFastBody, 'the update spec and its jobs') },
      responses: { 200: json(UpdateResult, 'the update'), ...specErrors },
    }),
    async (c) => {
      const s = c.var.services;
      const batch = await ownBatch(s, c.var.caller, params(c, BatchIdParam).batch_id);
      const { spec, bunch, groups } = await parsedBody(c, UpdateFastEnvelope, (b) => {
        if (typeof b !== 'object' || b === null || Array.isArray(b)) {
          throw new ApiError('invalid_request', 'body must be an object with update and bunch', 'update');
        }
        const { update, bunch, job_groups: groups, ...rest } = b as Record<string, unknown>;
        const unknown = Object.keys(rest);
        if (unknown.length > 0) throw new ApiError('invalid_request', `unknown key ${unknown[0]}`, unknown[0]);
        checkJobGroups(groups);
        checkStoredCounts(update, 'update', 'update');
        checkStoredCounts(bunch, 'bunch', 'bunch');
        return { spec: parseUpdateSpec(update, 'update'), bunch, groups: groups ?? undefined };
      });
      if (batch.cancelled) throw new ApiError('invalid_request', 'Cannot submit new jobs or job groups to a cancelled batch');
      checkRoomForJobs(batch.nReservedJobs, spec.n_jobs, 'update.n_jobs');
      await checkBillingLimit(s, batch.billingProject);
      const result = await submitBunch(s, c.var.caller, batch, spec, bunch, groups, (b) => enforceContract(JobBunch, b));
      return c.json({ update_id: result.updateId, start_job_id: result.startJobId, start_job_group_id: result.startJobGroupId ?? START_JOB_GROUP_ID });
    },
  );

  const insertBunch = async (c: Context<AppEnv>, updateId: number) => {
    const s = c.var.services;
    const batch = await ownBatch(s, c.var.caller, params(c, BatchIdParam).batch_id);
    const update = await getUpdate(s.db, batch.id, updateId);
    if (!update) throw new ApiError('not_found', `update ${updateId} of batch ${batch.id} not found`);
    const specs = await parsedBody(c, JobBunch, (bunch) => {
      checkStoredCounts(bunch, 'bunch', 'bunch');
      const reserved = { startJobGroupId: update.startJobGroupId, nJobGroups: update.nJobGroups };
      return validateBunch(s, c.var.caller, bunch, update.startJobId, update.nJobs, batch.billingProject, reserved);
    });
    await insertJobs(s.db, batch.id, update.updateId, specs);
    return c.body(null, 200);
  };
  defineRoute(
    r,
    createRoute({
      method: 'post',
      path: '/batches/{batch_id}/updates/{update_id}/jobs/create',
      tags: [tag],
      summary: "Insert a bunch of an update's jobs; resending an inserted bunch is also 200",
      security: SECURITY.user,
      request: { params: UpdateParams, body: body(JobBunch, 'job specs with contiguous in-update ids') },
      responses: { 200: EMPTY, ...writeErrors },
    }),
    (c) => insertBunch(c, params(c, UpdateParams).update_id),
  );
  defineRoute(
    r,
    createRoute({
      method: 'post',
      path: '/batches/{batch_id}/jobs/create',
      tags: [tag],
      summary: 'Insert a bunch of update 1 (deprecated)',
      deprecated: true,
      security: SECURITY.user,
      request: { params: BatchIdParam, body: body(JobBunch, 'job specs with contiguous in-update ids') },
      responses: { 200: EMPTY, ...writeErrors },
    }),
    (c) => {
      c.header('X-Hail-Deprecated', '1');
      return insertBunch(c, 1);
    },
  );

  const commit = async (c: Context<AppEnv>, updateId: number) => {
    const s = c.var.services;
    const batch = await ownBatch(s, c.var.caller, params(c, BatchIdParam).batch_id);
    const update = await getUpdate(s.db, batch.id, updateId);
    if (!update) throw new ApiError('not_found', `update ${updateId} of batch ${batch.id} not found`);
    const result = await commitAndWake(s, batch, updateId);
    return c.json({ start_job_id: result.startJobId, start_job_group_id: update.startJobGroupId });
  };
  const commitErrors = errors('invalid_request', 'unauthenticated', 'forbidden', 'not_found', 'conflict');
  defineRoute(
    r,
    createRoute({
      method: 'patch',
      path: '/batches/{batch_id}/updates/{update_id}/commit',
      tags: [tag],
      summary: 'Commit an update once all its jobs are inserted',
      security: SECURITY.user,
      request: { params: UpdateParams },
      responses: { 200: json(CommitResult, 'the committed update'), ...commitErrors },
    }),
    (c) => commit(c, params(c, UpdateParams).update_id),
  );
  defineRoute(
    r,
    createRoute({
      method: 'patch',
      path: '/batches/{batch_id}/close',
      tags: [tag],
      summary: 'Commit update 1 (deprecated)',
      deprecated: true,
      security: SECURITY.user,
      request: { params: BatchIdParam },
      responses: { 200: json(CommitResult, 'the committed update'), ...commitErrors },
    }),
    (c) => {
      c.header('X-Hail-Deprecated', '1');
      return commit(c, 1);
    },
  );

  return r;
}
