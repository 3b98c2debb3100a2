/**
 * The worker-facing driver routes (hail-batch-api §5). Reports are turned into database facts
 * (each recorded exactly once) and then into signals; agents retry until they get a 2xx, so a
 * crash anywhere here only means the same report arrives again.
 */
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { AppEnv, Services } from '../context';
import { ApiError } from '../errors';
import { jsonBody } from '../access';
import { requireInstance } from '../auth';
import { activateInstance, getInstance, recordHeartbeat, setInstanceState } from '../../db/queries/instances';
import { endAttempt, getAttempt, recordAttemptStarted, type AttemptKey, type AttemptRow } from '../../db/queries/attempts';
import { resourcesForAttempt } from '../../db/queries/attempt-resources';
import type { QuantifiedResource } from '../../domain/billing-resources';
import { hashToken, newToken } from '../../db/queries/tokens';
import { ATTEMPT_OUTCOMES } from '../../domain/states';

const ActivateBody = z.object({ ip_address: z.string().min(1), port: z.number().int().min(1).max(65535) });
const AttemptRef = z.object({
  batch_id: z.number().int().positive(),
  job_id: z.number().int().positive(),
  attempt_id: z.string().min(1),
});
const StartedBody = z.object({ status: AttemptRef.extend({ start_time: z.number().nullable().optional() }).passthrough() });
const CompleteBody = z.object({
  status: AttemptRef.extend({
    state: z.enum(ATTEMPT_OUTCOMES),
    start_time: z.number().nullable().optional(),
    end_time: z.number().nullable().optional(),
    exit_code: z.number().int().nullable().optional(),
    status: z.unknown().optional(),
  }).passthrough(),
  marked_job_started: z.boolean().optional(),
});

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

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const field = issue.path.join('.');
    throw new ApiError('invalid_request', `${field || 'body'}: ${issue.message}`, field || undefined);
  }
  return r.data;
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

export function instanceRoutes() {
  const r = new Hono<AppEnv>();

  r.post('/instances/activate', async (c) => {
    const s = c.var.services;
    const name = c.req.header('x-hail-instance-name');
    const token = c.req.header('x-hail-instance-token');
    if (!name || !token) throw new ApiError('unauthenticated', 'missing X-Hail-Instance-Name or X-Hail-Instance-Token');
    const inst = await getInstance(s.db, name);
    if (!inst || inst.activationTokenHash !== hashToken(token) || (inst.state !== 'pending' && inst.state !== 'active')) {
      throw new ApiError('unauthenticated', 'invalid activation token');
    }
    const body = parse(ActivateBody, await jsonBody(c));
    const instanceToken = newToken();
    await activateInstance(s.db, name, {
      address: `http://${body.ip_address}:${body.port}`,
      tokenHash: hashToken(instanceToken),
      now: Date.now(),
    });
    s.log.info('instance activated', { instance: name });
    void s.workflows.pokeScheduler();
    // A job-private VM is waited for by its job, which the autoscaler places on it.
    if (inst.batchId !== null) void s.workflows.pokeAutoscaler();
    return c.json({ token: instanceToken });
  });

  const driver = new Hono<AppEnv>();
  // Per route, not '*': admin routes live under /instances too (api/routes/instance-admin.ts).
  for (const route of ['/heartbeat', '/job_started', '/job_complete', '/deactivate']) driver.use(route, requireInstance);

  driver.post('/heartbeat', async (c) => {
    await recordHeartbeat(c.var.services.db, c.var.instance.name, Date.now());
    return c.json({});
  });

  driver.post('/job_started', async (c) => {
    const s = c.var.services;
    const { status } = parse(StartedBody, await jsonBody(c));
    const key = { batchId: status.batch_id, jobId: status.job_id, attemptId: status.attempt_id };
    const attempt = await reportedAttempt(c, key);
    if (!attempt) return c.json({});
    await recordAttemptStarted(s.db, key, status.start_time ?? Date.now(), await billedResources(s, attempt));
    return c.json({});
  });

  driver.post('/job_complete', async (c) => {
    const s = c.var.services;
    const { status } = parse(CompleteBody, await jsonBody(c));
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
    // Signals after the fact is stored: a lost signal is recovered by the job's periodic look.
    await s.workflows.pokeJob(key.batchId, key.jobId);
    void s.workflows.pokeScheduler();
    return c.json({});
  });

  driver.post('/deactivate', async (c) => {
    const s = c.var.services;
    await setInstanceState(s.db, c.var.instance.name, 'inactive', Date.now());
    s.log.info('instance deactivated', { instance: c.var.instance.name });
    return c.json({});
  });

  r.route('/instances', driver);
  return r;
}
