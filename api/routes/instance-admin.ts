/**
 * Admin routes over worker instances: list them, and preempt one (as a cloud reclaiming a spot
 * VM would). The API cannot reach the cloud, so a preemption is recorded in the database (the
 * instance goes inactive with reason `preempted`); the driver's autoscaler kills the machine
 * on its next loop, ends the open attempts as preempted, and their jobs run again.
 */
import { Hono } from 'hono';
import type { AppEnv } from '../context';
import { requireAdmin } from '../auth';
import { ApiError } from '../errors';
import { deactivateInstance, getInstance, listInstances, type InstanceRow } from '../../db/queries/instances';
import { isoTime } from '../../domain/time';


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

export function instanceAdminRoutes() {
  const r = new Hono<AppEnv>();

  r.get('/instances', requireAdmin, async (c) => {
    return c.json((await listInstances(c.var.services.db)).map(instanceJson));
  });

  r.post('/instances/:name/preempt', requireAdmin, async (c) => {
    const s = c.var.services;
    const name = c.req.param('name');
    const inst = await getInstance(s.db, name);
    if (!inst) throw new ApiError('not_found', `instance ${name} not found`, 'name');
    const changed = await deactivateInstance(s.db, name, 'preempted', Date.now());
    if (!changed && inst.reason !== 'preempted') {
      throw new ApiError('conflict', `instance ${name} is ${inst.state} and cannot be preempted`, 'name');
    }
    s.log.info('instance preemption requested', { instance: name });
    void s.workflows.pokeAutoscaler();
    return c.json(instanceJson((await getInstance(s.db, name))!));
  });

  return r;
}
