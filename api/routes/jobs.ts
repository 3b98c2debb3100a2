/** Job routes: list, get, logs, attempts (hail-batch-api §1). */
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../context';
import { ApiError } from '../errors';
import { rootJobGroupOnly, visibleBatch } from '../access';
import { BatchIdParam, JobGroupParams, JobParams, SECURITY, cursorQuery, defineRoute, errors, json, params, query, router, urlText } from '../contract';
import { Attempts, JobDetail, JobLogs, JobPage } from '../contracts/responses';
import { attemptJson, jobDetailJson, jobEntryJson } from '../serialize';
import { costOf, jobCosts } from '../costs';
import { readLog, readStatus } from '../logs';
import { parseJobQuery } from '../../domain/query';
import { CONTAINER_NAMES } from '../../domain/job-spec';
import { getJob, listJobPage } from '../../db/queries/jobs';
import { listAttempts } from '../../db/queries/attempts';
import { jobFilter } from '../../db/queries/filters';

const PAGE = 50;

const ListQuery = z.object({
  q: urlText('q').optional().openapi({ description: 'v1: space-separated terms; v2: one clause per line' }),
  last_job_id: cursorQuery('last_job_id'),
  recursive: urlText('recursive').optional().openapi({ description: 'accepted and ignored: the root group holds every job' }),
});

const LogParams = JobParams.extend({
  container: z
    .enum(CONTAINER_NAMES, { error: (iss) => `unknown container ${String(iss.input)}; expected input, main or output` })
    .openapi({ param: { name: 'container', in: 'path' } }),
});

const readErrors = errors('invalid_request', 'unauthenticated', 'not_found');

export function jobRoutes(version: 1 | 2) {
  const r = router();
  const tag = version === 1 ? 'jobs' : 'jobs (v2)';

  const listJobs = async (c: Context<AppEnv>) => {
    const s = c.var.services;
    const batch = await visibleBatch(s, c.var.caller, params(c, BatchIdParam).batch_id);
    const { q, last_job_id: lastJobId } = query(c, ListQuery);
    const rows = await listJobPage(s.db, {
      batchId: batch.id,
      filter: jobFilter(parseJobQuery(q ?? '', version)),
      lastJobId,
      limit: PAGE,
    });
    const costs = await jobCosts(s, batch.id, rows.map((j) => j.jobId));
    const page: { jobs: ReturnType<typeof jobEntryJson>[]; last_job_id?: number } = {
      jobs: rows.map((j) => jobEntryJson(j, batch, costOf(costs, j.jobId))),
    };
    if (rows.length === PAGE) page.last_job_id = rows[rows.length - 1]!.jobId;
    return c.json(page);
  };
  defineRoute(
    r,
    createRoute({
      method: 'get',
      path: '/batches/{batch_id}/jobs',
      tags: [tag],
      summary: "A batch's jobs, by id, 50 a page",
      security: SECURITY.user,
      request: { params: BatchIdParam, query: ListQuery },
      responses: { 200: json(JobPage, 'a page of jobs'), ...readErrors },
    }),
    listJobs,
  );
  // Hail's client lists a batch's jobs through its root job group (Batch.jobs()). The service
  // has no other groups, so the root group's jobs, recursive or not, are the batch's jobs.
  defineRoute(
    r,
    createRoute({
      method: 'get',
      path: '/batches/{batch_id}/job-groups/{job_group_id}/jobs',
      tags: [tag],
      summary: "A batch's jobs through its root job group (0), as Hail's client lists them",
      security: SECURITY.user,
      request: { params: JobGroupParams, query: ListQuery },
      responses: { 200: json(JobPage, 'a page of jobs'), ...readErrors },
    }),
    (c) => {
      rootJobGroupOnly(c, params(c, JobGroupParams).job_group_id);
      return listJobs(c);
    },
  );

  const jobOf = async (c: Context<AppEnv>) => {
    const s = c.var.services;
    const { batch_id: batchId, job_id: jobId } = params(c, JobParams);
    const batch = await visibleBatch(s, c.var.caller, batchId);
    const job = await getJob(s.db, batch.id, jobId);
    if (!job) throw new ApiError('not_found', `job ${batch.id}/${jobId} not found`);
    return { s, batch, job };
  };

  defineRoute(
    r,
    createRoute({
      method: 'get',
      path: '/batches/{batch_id}/jobs/{job_id}',
      tags: [tag],
      summary: 'One job, with its spec and current status document',
      security: SECURITY.user,
      request: { params: JobParams },
      responses: { 200: json(JobDetail, 'the job'), ...readErrors },
    }),
    async (c) => {
      const { s, batch, job } = await jobOf(c);
      const costs = await jobCosts(s, batch.id, [job.jobId]);
      return c.json(jobDetailJson(job, batch, await readStatus(s, job), costOf(costs, job.jobId)));
    },
  );

  defineRoute(
    r,
    createRoute({
      method: 'get',
      path: '/batches/{batch_id}/jobs/{job_id}/log',
      tags: [tag],
      summary: "Every container's log (deprecated)",
      security: SECURITY.user,
      request: { params: JobParams },
      responses: { 200: json(JobLogs, 'input, main and output: each log, or null'), ...readErrors },
    }),
    async (c) => {
      const { s, job } = await jobOf(c);
      c.header('X-Hail-Deprecated', '1');
      const out: Record<string, string | null> = {};
      for (const name of CONTAINER_NAMES) out[name] = (await readLog(s, job, name))?.toString('utf8') ?? null;
      return c.json(out);
    },
  );

  defineRoute(
    r,
    createRoute({
      method: 'get',
      path: '/batches/{batch_id}/jobs/{job_id}/log/{container}',
      tags: [tag],
      summary: "One container's log, as raw bytes",
      security: SECURITY.user,
      request: { params: LogParams },
      responses: {
        200: { description: 'the log', content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } } },
        ...readErrors,
      },
    }),
    async (c) => {
      const { container } = params(c, LogParams);
      const { s, job } = await jobOf(c);
      const log = await readLog(s, job, container);
      if (log === null) throw new ApiError('not_found', `no ${container} log for job ${job.batchId}/${job.jobId}`);
      return c.body(new Uint8Array(log), 200, { 'content-type': 'application/octet-stream' });
    },
  );

  defineRoute(
    r,
    createRoute({
      method: 'get',
      path: '/batches/{batch_id}/jobs/{job_id}/attempts',
      tags: [tag],
      summary: "A job's attempts",
      security: SECURITY.user,
      request: { params: JobParams },
      responses: { 200: json(Attempts, 'the attempts, or null before the first'), ...readErrors },
    }),
    async (c) => {
      const { s, job } = await jobOf(c);
      const attempts = await listAttempts(s.db, job.batchId, job.jobId);
      return c.json(attempts.length === 0 ? null : attempts.map(attemptJson));
    },
  );

  return r;
}
