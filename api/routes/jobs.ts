/** Job routes: list, get, logs, attempts (hail-batch-api §1). */
import { Hono, type Context } from 'hono';
import type { AppEnv } from '../context';
import { ApiError } from '../errors';
import { intParam, optionalIntQuery, visibleBatch } from '../access';
import { and, type SQL } from 'drizzle-orm';
import { getJobGroup, jobsOfGroup } from '../../db/queries/job-groups';
import { ROOT_JOB_GROUP_ID } from '../../domain/job-group-tree';
import { attemptJson, jobDetailJson, jobEntryJson } from '../serialize';
import { costOf, jobCosts } from '../costs';
import { readLog, readStatus } from '../logs';
import { parseJobQuery } from '../../domain/query';
import { CONTAINER_NAMES } from '../../domain/job-spec';
import { getJob, listJobPage } from '../../db/queries/jobs';
import { listAttempts } from '../../db/queries/attempts';
import { jobFilter } from '../../db/queries/filters';

const PAGE = 50;

export function jobRoutes(version: 1 | 2) {
  const r = new Hono<AppEnv>();

  const listJobs = async (c: Context<AppEnv>, group?: (batchId: number) => Promise<SQL | undefined>) => {
    const s = c.var.services;
    const batch = await visibleBatch(s, c.var.caller, intParam(c, 'batch_id'));
    const q = c.req.query('q') ?? '';
    const rows = await listJobPage(s.db, {
      batchId: batch.id,
      filter: and(jobFilter(parseJobQuery(q, version)), group ? await group(batch.id) : undefined),
      lastJobId: optionalIntQuery(c, 'last_job_id'),
      limit: PAGE,
    });
    const costs = await jobCosts(s, batch.id, rows.map((j) => j.jobId));
    const body: { jobs: ReturnType<typeof jobEntryJson>[]; last_job_id?: number } = {
      jobs: rows.map((j) => jobEntryJson(j, batch, costOf(costs, j.jobId))),
    };
    if (rows.length === PAGE) body.last_job_id = rows[rows.length - 1]!.jobId;
    return c.json(body);
  };
  r.get('/batches/:batch_id/jobs', (c) => listJobs(c));
  // Hail's client lists a batch's jobs through its root job group (Batch.jobs(), recursive).
  r.get('/batches/:batch_id/job-groups/:job_group_id/jobs', (c) => {
    const jobGroupId = intParam(c, 'job_group_id');
    const recursive = parseRecursive(c.req.query('recursive'));
    return listJobs(c, async (batchId) => {
      if (jobGroupId !== ROOT_JOB_GROUP_ID && !(await getJobGroup(c.var.services.db, batchId, jobGroupId))) {
        throw new ApiError('not_found', `job group ${jobGroupId} of batch ${batchId} not found`);
      }
      return jobsOfGroup(batchId, jobGroupId, recursive);
    });
  });

  const jobOf = async (c: Context<AppEnv>) => {
    const s = c.var.services;
    const batch = await visibleBatch(s, c.var.caller, intParam(c, 'batch_id'));
    const jobId = intParam(c, 'job_id');
    const job = await getJob(s.db, batch.id, jobId);
    if (!job) throw new ApiError('not_found', `job ${batch.id}/${jobId} not found`);
    return { s, batch, job };
  };

  r.get('/batches/:batch_id/jobs/:job_id', async (c) => {
    const { s, batch, job } = await jobOf(c);
    const costs = await jobCosts(s, batch.id, [job.jobId]);
    return c.json(jobDetailJson(job, batch, await readStatus(s, job), costOf(costs, job.jobId)));
  });

  r.get('/batches/:batch_id/jobs/:job_id/log', async (c) => {
    const { s, job } = await jobOf(c);
    c.header('X-Hail-Deprecated', '1');
    const out: Record<string, string | null> = {};
    for (const name of CONTAINER_NAMES) out[name] = (await readLog(s, job, name))?.toString('utf8') ?? null;
    return c.json(out);
  });

  r.get('/batches/:batch_id/jobs/:job_id/log/:container', async (c) => {
    const container = c.req.param('container');
    if (!(CONTAINER_NAMES as readonly string[]).includes(container)) {
      throw new ApiError('invalid_request', `unknown container ${container}; expected input, main or output`, 'container');
    }
    const { s, job } = await jobOf(c);
    const log = await readLog(s, job, container);
    if (log === null) throw new ApiError('not_found', `no ${container} log for job ${job.batchId}/${job.jobId}`);
    return c.body(new Uint8Array(log), 200, { 'content-type': 'application/octet-stream' });
  });

  r.get('/batches/:batch_id/jobs/:job_id/attempts', async (c) => {
    const { s, job } = await jobOf(c);
    const attempts = await listAttempts(s.db, job.batchId, job.jobId);
    return c.json(attempts.length === 0 ? null : attempts.map(attemptJson));
  });

  return r;
}

/** Hail's client sends `recursive` as `true` or `false`; absent means only the group's own jobs. */
function parseRecursive(raw: string | undefined): boolean {
  if (raw === undefined || raw === '' || raw === 'false' || raw === 'False' || raw === '0') return false;
  if (raw === 'true' || raw === 'True' || raw === '1') return true;
  throw new ApiError('invalid_request', 'recursive must be true or false', 'recursive');
}
