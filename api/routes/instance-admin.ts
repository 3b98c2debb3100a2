/**
 * Admin routes over worker instances: list them, and preempt one (as a cloud reclaiming a spot
 * VM would). The API cannot reach the cloud, so a preemption is recorded in the database (the
 * instance goes inactive with reason `preempted`); the driver's autoscaler kills the machine
 * on its next loop, ends the open attempts as preempted, and their jobs run again.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { requireAdmin } from '../auth';
import { ApiError } from '../errors';
import { SECURITY, defineRoute, errors, json, nameParam, params, router } from '../contract';
import { deactivateInstance, getInstance, listInstances, type InstanceRow } from '../../db/queries/instances';
import { isoTime } from '../../domain/time';
import { INSTANCE_STATES } from '../../domain/instances';


function instanceJson(i: InstanceRow) {
  return {
    name: i.name,
    pool: i.pool,
    state: i.state,
    cores_mcpu: i.coresMcpu,
    free_cores_mcpu: i.freeCoresMcpu,
    region: i.region,
    preemptible: i.preemptible,
    machine_type: i.machineType,
    batch_id: i.batchId,
    job_id: i.jobId,
    last_updated: isoTime(i.lastHeartbeat),
    last_updated_ms: i.lastHeartbeat,
    failed_requests: i.failedRequests,
    time_created: isoTime(i.timeCreated),
    time_created_ms: i.timeCreated,
    time_deactivated: isoTime(i.timeDeactivated),
    time_deleted: isoTime(i.timeDeleted),
    time_deleted_ms: i.timeDeleted,
    reason: i.reason,
  };
}

const time = z.string().nullable();
const ms = z.int().nullable();
const Instance = z
  .object({
    name: z.string(),
    pool: z.string(),
    state: z.enum(INSTANCE_STATES),
    cores_mcpu: z.int(),
    free_cores_mcpu: z.int(),
    region: z.string(),
    preemptible: z.boolean(),
    machine_type: z.string().nullable(),
    batch_id: z.int().nullable(),
    job_id: z.int().nullable(),
    last_updated: time,
    last_updated_ms: ms,
    failed_requests: z.int(),
    time_created: time,
    time_created_ms: z.int(),
    time_deactivated: time,
    time_deleted: time,
    time_deleted_ms: ms,
    reason: z.string().nullable(),
  })
  .openapi('Instance');
const InstanceParams = z.object({ name: nameParam('name') });

export function instanceAdminRoutes() {
  const r = router();
  const route = (config: Parameters<typeof createRoute>[0]) =>
    createRoute({ tags: ['instances'], security: SECURITY.user, middleware: [requireAdmin], ...config });

  defineRoute(
    r,
    route({
      method: 'get',
      path: '/instances',
      summary: 'Every worker instance (admin)',
      responses: { 200: json(z.array(Instance), 'the instances'), ...errors('unauthenticated', 'forbidden') },
    }),
    async (c) => c.json((await listInstances(c.var.services.db)).map(instanceJson)),
  );

  defineRoute(
    r,
    route({
      method: 'post',
      path: '/instances/{name}/preempt',
      summary: 'Preempt an instance as a cloud reclaiming a spot VM would (admin)',
      request: { params: InstanceParams },
      responses: { 200: json(Instance, 'the instance, now inactive'), ...errors('invalid_request', 'unauthenticated', 'forbidden', 'not_found', 'conflict') },
    }),
    async (c) => {
      const s = c.var.services;
      const name = params(c, InstanceParams).name;
      const inst = await getInstance(s.db, name);
      if (!inst) throw new ApiError('not_found', `instance ${name} not found`, 'name');
      const changed = await deactivateInstance(s.db, name, 'preempted', Date.now());
      if (!changed && inst.reason !== 'preempted') {
        throw new ApiError('conflict', `instance ${name} is ${inst.state} and cannot be preempted`, 'name');
      }
      s.log.info('instance preemption requested', { instance: name });
      void s.workflows.pokeAutoscaler();
      return c.json(instanceJson((await getInstance(s.db, name))!));
    },
  );

  return r;
}
