/**
 * The agent's HTTP API, called by the driver over the local network (so no token): create,
 * delete, log and status of jobs, and a health check.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { CONTAINER_NAMES, type ContainerName } from '../domain/job-spec';
import type { Attempts } from './attempts';
import { parseJobCreateRequest } from './create-request';
import type { Logger } from './logger';

export type AgentAppDeps = {
  name: string;
  attempts: Attempts;
  /** True once the agent is shutting down: new jobs get 503. */
  isStopping: () => boolean;
  /** Largest create body taken; the API's own request limit is a good bound. */
  maxBodyBytes: number;
  log: Logger;
};

export function createAgentApp(deps: AgentAppDeps): Hono {
  const app = new Hono();
  const { attempts } = deps;

  app.onError((err, c) => {
    deps.log.error('request failed', { path: c.req.path, error: String(err) });
    return c.json({ error: 'internal error' }, 500);
  });

  app.get('/healthcheck', (c) => c.json({ name: deps.name }));

  const limit = bodyLimit({ maxSize: deps.maxBodyBytes, onError: (c) => c.json({ error: 'request body too large' }, 413) });
  app.post('/api/v1alpha/batches/jobs/create', limit, async (c) => {
    if (deps.isStopping()) return c.json({ error: 'shutting down' }, 503);
    const body: unknown = await c.req.json().catch(() => undefined);
    const parsed = parseJobCreateRequest(body);
    if (!parsed.ok) return c.json({ error: parsed.error }, 400);
    // 403 on a resend lets the driver retry a create whose reply it never saw.
    if (!attempts.submit(parsed.value)) return c.json({ error: 'job already exists' }, 403);
    return c.json({});
  });

  app.delete('/api/v1alpha/batches/:batch_id/jobs/:job_id/delete', async (c) => {
    const ids = jobIds(c.req.param('batch_id'), c.req.param('job_id'));
    if (!ids) return c.json({ error: 'bad batch or job id' }, 400);
    await attempts.kill(ids.batchId, ids.jobId);
    return c.json({});
  });

  app.get('/api/v1alpha/batches/:batch_id/jobs/:job_id/log/:container', async (c) => {
    const ids = jobIds(c.req.param('batch_id'), c.req.param('job_id'));
    const container = c.req.param('container');
    if (!ids) return c.json({ error: 'bad batch or job id' }, 400);
    if (!isContainerName(container)) return c.json({ error: 'container must be input, main or output', field: 'container' }, 400);
    const attempt = attempts.find(ids.batchId, ids.jobId);
    const log = attempt ? await attempts.readLog(attempt, container) : null;
    if (log === null) return c.json({ error: 'not found' }, 404);
    return c.body(new Uint8Array(log), 200, { 'content-type': 'application/octet-stream' });
  });

  // Hail's shape: {container: base64 of its resource usage file}; the API decodes it.
  app.get('/api/v1alpha/batches/:batch_id/jobs/:job_id/resource_usage', async (c) => {
    const ids = jobIds(c.req.param('batch_id'), c.req.param('job_id'));
    if (!ids) return c.json({ error: 'bad batch or job id' }, 400);
    const attempt = attempts.find(ids.batchId, ids.jobId);
    if (!attempt) return c.json({ error: 'not found' }, 404);
    const usage = await attempts.readResourceUsage(attempt);
    return c.json(Object.fromEntries(Object.entries(usage).map(([name, bytes]) => [name, bytes.toString('base64')])));
  });

  app.get('/api/v1alpha/batches/:batch_id/jobs/:job_id/status', (c) => {
    const ids = jobIds(c.req.param('batch_id'), c.req.param('job_id'));
    if (!ids) return c.json({ error: 'bad batch or job id' }, 400);
    const attempt = attempts.find(ids.batchId, ids.jobId);
    if (!attempt) return c.json({ error: 'not found' }, 404);
    return c.json(attempt.statusDocument());
  });

  return app;
}

function jobIds(batch: string, job: string): { batchId: number; jobId: number } | null {
  if (!/^\d{1,15}$/.test(batch) || !/^\d{1,15}$/.test(job)) return null;
  return { batchId: Number(batch), jobId: Number(job) };
}

function isContainerName(s: string): s is ContainerName {
  return (CONTAINER_NAMES as readonly string[]).includes(s);
}
