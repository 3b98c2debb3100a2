/**
 * The worker-facing driver routes (hail-batch-api §5). Reports are turned into database facts
 * (each recorded exactly once) and then into signals; agents retry until they get a 2xx, so a
 * crash anywhere here only means the same report arrives again.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv, Services } from '../context';
import { ApiError } from '../errors';
import { requireInstance } from '../auth';
import { INT4_MAX, SECURITY, body, defineRoute, errors, json, readBody, router } from '../contract';
import { activateInstance, getInstance, recordHeartbeat, setInstanceState } from '../../db/queries/instances';
import { endAttempt, getAttempt, recordAttemptStarted, type AttemptKey, type AttemptRow } from '../../db/queries/attempts';
import { resourcesForAttempt } from '../../db/queries/attempt-resources';
import type { QuantifiedResource } from '../../domain/billing-resources';
import { hashToken, newToken } from '../../db/queries/tokens';
import { ATTEMPT_OUTCOMES } from '../../domain/states';

const ActivateBody = z.object({ ip_address: z.string().min(1), port: z.int().min(1).max(65535) }).openapi('Activation');
const AttemptRef = z.object({
  batch_id: z.int().min(1).max(Number.MAX_SAFE_INTEGER),
  job_id: z.int().min(1).max(INT4_MAX),
  attempt_id: z.string().min(1),
});
const StartedBody = z
  .object({ status: AttemptRef.extend({ start_time: z.int().min(0).nullable().optional() }).passthrough() })
  .openapi('JobStarted');
const CompleteBody = z.object({
  status: AttemptRef.extend({
    state: z.enum(ATTEMPT_OUTCOMES),
    start_time: z.int().min(0).nullable().optional(),
    end_time: z.int().min(0).nullable().optional(),
    exit_code: z.int().min(-2_147_483_648).max(INT4_MAX).nullable().optional(),
    status: z.unknown().optional(),
  }).passthrough(),
  marked_job_started: z.boolean().optional(),
}).openapi('JobComplete');
const Ack = z.object({}).openapi('Ack', { description: 'recorded (or nothing to record)' });

/**
 * What the attempt is billed for, worked out when main starts; null when billing has already
 * started. A failure here must not lose the report (the agent would retry forever): the attempt
 * is then recorded without resources, which bills nothing, and the error is logged loudly.
 */
async function billedResources(s: Services, attempt: AttemptRow): Promise<QuantifiedResource[] | null> {
  const key = { batchId: attempt.batchId, jobId: attempt.jobId, attemptId: attempt.attemptId };
  try {
    return await resourcesForAttempt(s.db, attempt, { fallbackWorkerCores: s.config.localPool.coresPerAgent, region: s.config.region });
  } catch (e) {
    s.log.error('cannot work out billed resources', { ...key, error: String(e) });
    return null;
  }
}

/**
 * An instance reports only on attempts placed on it. An unknown attempt is answered 2xx and
 * ignored (agents retry until they get one, and there is nothing to record); another
 * instance's attempt is refused, so one machine can neither bill nor finish another's work.
 */
async function reportedAttempt(c: Context<AppEnv>, key: AttemptKey): Promise<AttemptRow | null> {
  const attempt = await getAttempt(c.var.services.db, key);
  if (attempt && attempt.instanceName !== c.var.instance.name) {
    throw new ApiError('forbidden', `attempt ${key.attemptId} of job ${key.batchId}/${key.jobId} was not placed on ${c.var.instance.name}`);
  }
  return attempt;
}

const reportErrors = errors('invalid_request', 'unauthenticated', 'forbidden', 'payload_too_large');

export function instanceRoutes() {
  const r = router();
  const route = (config: Parameters<typeof createRoute>[0]) =>
    createRoute({ tags: ['instances (worker)'], security: SECURITY.instance, ...config });

  defineRoute(
    r,
    route({
      method: 'post',
      path: '/instances/activate',
      summary: 'A new worker activates with its activation token and gets its own token',
      request: { body: body(ActivateBody, 'where the agent listens') },
      responses: { 200: json(z.object({ token: z.string() }).openapi('InstanceToken'), "the instance's own token"), ...errors('invalid_request', 'unauthenticated', 'payload_too_large') },
    }),
    async (c) => {
      const s = c.var.services;
      const name = c.req.header('x-hail-instance-name');
      const token = c.req.header('x-hail-instance-token');
      if (!name || !token) throw new ApiError('unauthenticated', 'missing X-Hail-Instance-Name or X-Hail-Instance-Token');
      const inst = await getInstance(s.db, name);
      if (!inst || inst.activationTokenHash !== hashToken(token) || (inst.state !== 'pending' && inst.state !== 'active')) {
        throw new ApiError('unauthenticated', 'invalid activation token');
      }
      const activation = await readBody(c, ActivateBody);
      const instanceToken = newToken();
      await activateInstance(s.db, name, {
        address: `http://${activation.ip_address}:${activation.port}`,
        tokenHash: hashToken(instanceToken),
        now: Date.now(),
      });
      s.log.info('instance activated', { instance: name });
      void s.workflows.pokeScheduler();
      // A job-private VM is waited for by its job, which the autoscaler places on it.
      if (inst.batchId !== null) void s.workflows.pokeAutoscaler();
      return c.json({ token: instanceToken });
    },
  );

  defineRoute(
    r,
    route({
      method: 'post',
      path: '/instances/heartbeat',
      summary: 'The worker is alive',
      middleware: [requireInstance],
      responses: { 200: json(Ack, 'recorded'), ...errors('unauthenticated') },
    }),
    async (c) => {
      await recordHeartbeat(c.var.services.db, c.var.instance.name, Date.now());
      return c.json({});
    },
  );

  defineRoute(
    r,
    route({
      method: 'post',
      path: '/instances/job_started',
      summary: "An attempt's main container started (billing starts here)",
      middleware: [requireInstance],
      request: { body: body(StartedBody, 'the attempt and when main started') },
      responses: { 200: json(Ack, 'recorded'), ...reportErrors },
    }),
    async (c) => {
      const s = c.var.services;
      const { status } = await readBody(c, StartedBody, { nul: 'strip' });
      const key = { batchId: status.batch_id, jobId: status.job_id, attemptId: status.attempt_id };
      const attempt = await reportedAttempt(c, key);
      if (!attempt) return c.json({});
      await recordAttemptStarted(s.db, key, status.start_time ?? Date.now(), await billedResources(s, attempt));
      return c.json({});
    },
  );

  defineRoute(
    r,
    route({
      method: 'post',
      path: '/instances/job_complete',
      summary: 'An attempt ended; recorded exactly once',
      middleware: [requireInstance],
      request: { body: body(CompleteBody, 'the attempt, its outcome and status document') },
      responses: { 200: json(Ack, 'recorded'), ...reportErrors },
    }),
    async (c) => {
      const s = c.var.services;
      const { status } = await readBody(c, CompleteBody, { nul: 'strip' });
      const key = { batchId: status.batch_id, jobId: status.job_id, attemptId: status.attempt_id };
      const attempt = await reportedAttempt(c, key);
      if (!attempt) return c.json({});
      const startTime = status.start_time ?? null;
      await endAttempt(s.db, key, {
        endTime: status.end_time ?? Date.now(),
        outcome: status.state,
        exitCode: status.exit_code ?? null,
        startTime,
        status: status.status ?? null,
        // Only when main ran: a job_started that never got through still starts billing here.
        resources: startTime !== null ? await billedResources(s, attempt) : null,
      });
      // Signals after the fact is stored: a lost poke is sent again by the autoscaler's loop.
      await s.workflows.pokeJob(key.batchId, key.jobId);
      void s.workflows.pokeScheduler();
      return c.json({});
    },
  );

  defineRoute(
    r,
    route({
      method: 'post',
      path: '/instances/deactivate',
      summary: 'The worker is going away',
      middleware: [requireInstance],
      responses: { 200: json(Ack, 'recorded'), ...errors('unauthenticated') },
    }),
    async (c) => {
      const s = c.var.services;
      await setInstanceState(s.db, c.var.instance.name, 'inactive', Date.now());
      s.log.info('instance deactivated', { instance: c.var.instance.name });
      return c.json({});
    },
  );

  return r;
}
