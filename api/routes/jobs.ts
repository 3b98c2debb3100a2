/** Job routes: list, get, logs, attempts (hail-batch-api §1). */
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../context';
import { ApiError } from '../errors';
import { visibleBatch } from '../access';
import { and, type SQL } from 'drizzle-orm';
import { getJobGroup, jobsOfGroup } from '../../db/queries/job-groups';
import { ROOT_JOB_GROUP_ID } from '../../domain/job-group-tree';
import { BatchIdParam, JobGroupParams, JobParams, SECURITY, cursorQuery, defineRoute, errors, json, params, query, router, urlText } from '../contract';
import { Attempts, JobDetail, JobLogs, JobPage, ResourceUsage } from '../contracts/responses';
import { attemptJson, jobDetailJson, jobEntryJson } from '../serialize';
import { costOf, jobCosts } from '../costs';
import { readLog, readResourceUsage, readStatus } from '../logs';
import { parseJobQuery } from '../../domain/query';
import { CONTAINER_NAMES } from '../../domain/job-spec';
import { getJob, listJobPage } from '../../db/queries/jobs';
import { listAttempts } from '../../db/queries/attempts';
import { jobFilter } from '../../db/queries/filters';

const PAGE = 50;

const ListQuery = z.object({
  q: urlText('q').optional().openapi({ description: 'v1: space-separated terms; v2: one clause per line' }),
  last_job_id: cursorQuery('last_job_id'),
  recursive: urlText('recursive').optional().openapi({ description: "True: the jobs of the group and of every group below it (Hail's client sends True or False)" }),
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

  const listJobs = async (c: Context<AppEnv>, group?: (batchId: number) => Promise<SQL | undefined>) => {
    const s = c.var.services;
    const batch = await visibleBatch(s, c.var.caller, params(c, BatchIdParam).batch_id);
    const { q, last_job_id: lastJobId } = query(c, ListQuery);
    const rows = await listJobPage(s.db, {
      batchId: batch.id,
      filter: and(jobFilter(parseJobQuery(q ?? '', version)), group ? await group(batch.id) : undefined),
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
    (c) => listJobs(c),
  );
  // Hail's client lists a batch's jobs through its root job group (Batch.jobs(), recursive).
  defineRoute(
    r,
    createRoute({
      method: 'get',
      path: '/batches/{batch_id}/job-groups/{job_group_id}/jobs',
      tags: [tag],
      summary: "A job group's jobs (with recursive, those of its subgroups too); group 0 is the batch",
      security: SECURITY.user,
      request: { params: JobGroupParams, query: ListQuery },
      responses: { 200: json(JobPage, 'a page of jobs'), ...readErrors },
    }),
    (c) => {
      const jobGroupId = params(c, JobGroupParams).job_group_id;
      const recursive = parseRecursive(query(c, ListQuery).recursive);
      return listJobs(c, async (batchId) => {
        if (jobGroupId !== ROOT_JOB_GROUP_ID && !(await getJobGroup(c.var.services.db, batchId, jobGroupId))) {
          throw new ApiError('not_found', `job group ${jobGroupId} of batch ${batchId} not found`);
        }
        return jobsOfGroup(batchId, jobGroupId, recursive);
      });
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
      path: '/batches/{batch_id}/jobs/{job_id}/resource_usage',
      tags: [tag],
      summary: "Each container's CPU, memory and storage samples of the job's current attempt",
      security: SECURITY.user,
      request: { params: JobParams },
      responses: { 200: json(ResourceUsage, 'a pandas "split" frame per container; empty before the first attempt'), ...readErrors },
    }),
    async (c) => {
      const { s, job } = await jobOf(c);
      return c.json(await readResourceUsage(s, job));
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

/** Hail's client sends `recursive` as `True` or `False`; absent means only the group's own jobs. */
function parseRecursive(raw: string | undefined): boolean {
  if (raw === undefined || raw === '' || raw === 'false' || raw === 'False' || raw === '0') return false;
  if (raw === 'true' || raw === 'True' || raw === '1') return true;
  throw new ApiError('invalid_request', 'recursive must be true or false', 'recursive');
}
