/**
 * One job: each container's log (live while it runs, polled by ui.js), per attempt where it ran
 * and each container's timings, exit codes and short errors, CPU and memory plots from
 * resource_usage, the spec (secrets by name only) and log downloads.
 */
import type { Context, Hono } from 'hono';
import { ErrorBox, Kv, Layout, State } from '../layout';
import { requireSession, type UiEnv } from '../session';
import { batchIdOf, idOf } from '../params';
import { ApiError } from '../../errors';
import { visibleBatch } from '../../access';
import { costOf, jobCosts } from '../../costs';
import { attemptJson, jobEntryJson } from '../../serialize';
import { readLog, readResourceUsage, readStatus } from '../../logs';
import { CONTAINER_NAMES, type ContainerName } from '../../../domain/job-spec';
import { attemptCost } from '../../../domain/billing';
import { COMPLETE_JOB_STATES } from '../../../domain/states';
import { formatCost, formatDuration } from '../../../domain/ui';
import { getJob } from '../../../db/queries/jobs';
import { listAttempts, type AttemptRow } from '../../../db/queries/attempts';
import { getInstance } from '../../../db/queries/instances';
import { loadRateCard } from '../../../db/queries/resources';

/** Enough log to read on a page; the download link has all of it. */
const LOG_PAGE_BYTES = 256 * 1024;
/** Env values whose names say they are credentials are not shown on a page. */
const SECRET_NAME = /secret|token|passw|credential|api_?key|private/i;
const COMPLETE_STATES = new Set<string>(COMPLETE_JOB_STATES);

type Span = { start_time?: number | null; finish_time?: number | null; duration?: number | null };
type ContainerStatus = {
  state?: string;
  short_error?: string;
  error?: string;
  timing?: Record<string, Span | undefined>;
  container_status?: { exit_code?: number | null; out_of_memory?: boolean };
};
type Status = { container_statuses?: Partial<Record<ContainerName, ContainerStatus>>; region?: string } | null;

async function jobOf(c: Context<UiEnv>) {
  const s = c.var.services;
  const batch = await visibleBatch(s, c.var.caller, batchIdOf(c.req.param('batch_id')));
  const jobId = idOf(c.req.param('job_id'), 'job_id');
  const job = await getJob(s.db, batch.id, jobId);
  if (!job) throw new ApiError('not_found', `job ${batch.id}/${jobId} not found`);
  return { s, batch, job };
}

function containerOf(raw: string | undefined): ContainerName {
  if (!(CONTAINER_NAMES as readonly string[]).includes(raw ?? '')) throw new ApiError('not_found', `unknown container ${raw}; expected input, main or output`, 'container');
  return raw as ContainerName;
}

const mainEnd = (status: unknown): number | null =>
  ((status as Status)?.container_statuses?.main?.timing?.running?.finish_time as number | null | undefined) ?? null;

export function jobPages(r: Hono<UiEnv>): void {
  r.get('/batches/:batch_id/jobs/:job_id', requireSession, async (c) => {
    const { s, batch, job } = await jobOf(c);
    const base = `/batches/${batch.id}/jobs/${job.jobId}`;
    const entry = jobEntryJson(job, batch, costOf(await jobCosts(s, batch.id, [job.jobId]), job.jobId));
    const complete = COMPLETE_STATES.has(job.state);
    const attempts = await listAttempts(s.db, batch.id, job.jobId);
    const card = attempts.length > 0 ? await loadRateCard(s.db) : null;
    const now = Date.now();
    const attemptViews = await Promise.all(
      attempts.map(async (a: AttemptRow) => {
        const inst = await getInstance(s.db, a.instanceName);
        const status = (a.attemptId === job.attemptId ? await readStatus(s, job) : a.status) as Status;
        const cost = card ? attemptCost({ mainStart: a.startTime, mainEnd: mainEnd(status), endTime: a.endTime, resources: a.resources }, card, now) : 0;
        return { a: attemptJson(a), pool: inst?.pool ?? job.pool, region: inst?.region ?? status?.region ?? '', status, cost };
      }),
    );
    const logs = await Promise.all(
      CONTAINER_NAMES.map(async (name) => {
        const log = await readLog(s, job, name);
        const text = log ? log.subarray(Math.max(0, log.length - LOG_PAGE_BYTES)).toString('utf8') : null;
        return { name, text, truncated: !!log && log.length > LOG_PAGE_BYTES };
      }),
    );
    const spec = job.spec as unknown as Record<string, unknown>;
    const process = (spec.process ?? {}) as Record<string, unknown>;
    const env = (Array.isArray(spec.env) ? spec.env : []) as { name?: string; value?: string }[];
    const secrets = (Array.isArray(spec.secrets) ? spec.secrets : []) as { name?: string; mount_path?: string }[];
    return c.html(
      <Layout title={`Job ${batch.id}/${job.jobId}`} caller={c.var.caller} csrf={c.var.session.csrfToken} scripts={['uplot']}>
        <h1>
          <a href={`/batches/${batch.id}`}>Batch {batch.id}</a> / Job {job.jobId}
          {job.name ? ` · ${job.name}` : ''} <State state={entry.display_state} />
        </h1>
        <Kv
          rows={[
            ['State', <span id="job-state">{entry.display_state}</span>],
            ['Exit code', entry.exit_code === null ? '' : String(entry.exit_code)],
            ['Pool', job.pool],
            ['Attempts', String(job.nAttempts)],
            ['Started', entry.start_time ?? ''],
            ['Ended', entry.end_time ?? ''],
            ['Duration', formatDuration(entry.duration)],
            ['Cost', formatCost(entry.cost)],
          ]}
        />

        <h2>Logs</h2>
        {logs.map((l) => (
          <div>
            <h3 style="font-size:14px;margin:10px 0 4px">
              {l.name} {l.text !== null ? <a href={`${base}/log/${l.name}?download=1`}>download</a> : null}
              {l.truncated ? <span class="muted"> (last 256 KiB shown)</span> : null}
            </h3>
            <pre
              class="log"
              id={`log-${l.name}`}
              data-live-url={complete ? undefined : `${base}/log/${l.name}`}
            >{l.text ?? (complete ? '(no log)' : '(waiting for the container)')}</pre>
          </div>
        ))}

        <h2>Attempts</h2>
        {attemptViews.length === 0 ? <p class="muted">Not started yet.</p> : null}
        {attemptViews.map((v) => (
          <div>
            <Kv
              rows={[
                ['Attempt', v.a.attempt_id],
                ['Instance', v.a.instance_name],
                ['Pool', v.pool],
                ['Region', v.region],
                ['Started', v.a.start_time ?? ''],
                ['Ended', v.a.end_time ?? ''],
                ['Duration', formatDuration(v.a.duration)],
                ['Reason', v.a.reason ?? ''],
                ['Cost', formatCost(v.cost)],
              ]}
            />
            <table>
              <thead>
                <tr><th>Container</th><th>State</th><th class="num">Pulling</th><th class="num">Creating</th><th class="num">Running</th><th class="num">Exit code</th><th>Error</th></tr>
              </thead>
              <tbody>
                {CONTAINER_NAMES.map((name) => {
                  const cs = v.status?.container_statuses?.[name];
                  if (!cs) return null;
                  const oom = cs.container_status?.out_of_memory ? 'out of memory' : '';
                  return (
                    <tr>
                      <td>{name}</td>
                      <td>{cs.state ?? ''}</td>
                      <td class="num">{formatDuration(cs.timing?.pulling?.duration)}</td>
                      <td class="num">{formatDuration(cs.timing?.creating?.duration)}</td>
                      <td class="num">{formatDuration(cs.timing?.running?.duration)}</td>
                      <td class="num">{cs.container_status?.exit_code ?? ''}</td>
                      <td>{cs.short_error ?? oom}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
            <ErrorBox message={CONTAINER_NAMES.map((n) => v.status?.container_statuses?.[n]?.error).filter(Boolean).join('\n') || null} />
          </div>
        ))}

        <h2>Resource usage</h2>
        <noscript><p class="muted">The plots need JavaScript.</p></noscript>
        <div id="usage" data-usage-url={`${base}/resource_usage.json`} data-live={complete ? '0' : '1'}></div>

        <h2>Spec</h2>
        <Kv
          rows={[
            ['Image', String(process.image ?? '')],
            ['Command', <code>{JSON.stringify(process.command ?? [])}</code>],
            ['Resources', <code>{JSON.stringify(spec.resources ?? {})}</code>],
            ['Always run', String(job.alwaysRun)],
            ['Timeout', spec.timeout === undefined || spec.timeout === null ? '' : `${String(spec.timeout)} s`],
            ['Env', <code>{env.map((e) => `${e.name ?? ''}=${SECRET_NAME.test(e.name ?? '') ? '(hidden)' : (e.value ?? '')}`).join('\n')}</code>],
            ['Secrets', secrets.map((x) => `${x.name ?? ''} → ${x.mount_path ?? ''}`).join(', ')],
            ['Attributes', <code>{JSON.stringify(job.attributes)}</code>],
          ]}
        />
      </Layout>,
    );
  });

  // The log as text: what the live view polls (X-Job-State says when to stop) and downloads.
  r.get('/batches/:batch_id/jobs/:job_id/log/:container', requireSession, async (c) => {
    const container = containerOf(c.req.param('container'));
    const { s, job } = await jobOf(c);
    const log = await readLog(s, job, container);
    const headers: Record<string, string> = {
      'content-type': 'text/plain; charset=utf-8',
      'x-job-state': job.state,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    };
    if (c.req.query('download')) headers['content-disposition'] = `attachment; filename="job-${job.batchId}-${job.jobId}-${container}.log"`;
    return c.body(log ? new Uint8Array(log) : new Uint8Array(), 200, headers);
  });

  r.get('/batches/:batch_id/jobs/:job_id/resource_usage.json', requireSession, async (c) => {
    const { s, job } = await jobOf(c);
    c.header('x-job-state', job.state);
    c.header('cache-control', 'no-store');
    return c.json(await readResourceUsage(s, job));
  });
}
