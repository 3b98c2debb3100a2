/**
 * `npm run bench -- --scenario ui-pages`: how fast the web UI's pages render for one big batch.
 * A batch of N jobs (default 100,000) in a two-level job-group tree is submitted over HTTP and
 * left running on the local agents for a while, so its jobs are a mix of Ready, Running,
 * Success and Failed; then scheduling is paused (the driver's rate limit at its least), so the
 * figures are the pages' own cost and not the machine's contention with 32 running jobs, and a
 * signed-in browser's requests (real HTTP, session cookie) fetch each
 * page several times: the batches list, the batch page, a filtered and a deep page of its jobs,
 * a job-group page, a job page and billing. Beside each page, the API call that reads the
 * same rows is timed in the same run, so the page's own cost shows as a ratio.
 *
 *   npm run bench -- --scenario ui-pages --jobs 100000 --run 20 --repeat 5
 */
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { note, onCleanup } from './cleanup';
import { beginScenario } from './scenario';
import { parseBenchArgs, wholeNumber } from './options';
import { startInfra, startService } from './service';
import { ApiClient, IMAGE, JOB_CPU, submitBatch, type BatchJson, type JobGroupSpec, type JobSpec } from './submit';
import { addToken, ensureUser } from '../db/queries/users';

const USAGE = `usage: npm run bench -- --scenario ui-pages [options]

  --jobs N            jobs in the batch (default 100000)
  --groups G          top-level job groups, each with G children holding the jobs (default 10)
  --run S             seconds the batch runs before the pages are read (default 20)
  --repeat K          fetches of each page; the median is reported (default 5)
  --temporal-port P   first Temporal gRPC port to try (default 7833)
  --keep              keep the bench data directory and database
`;

type Options = { jobs: number; groups: number; runMs: number; repeat: number; temporalPort: number; keep: boolean };

function parseOptions(argv: string[]): Options {
  const values = parseBenchArgs(
    argv,
    {
      jobs: { type: 'string', default: '100000' },
      groups: { type: 'string', default: '10' },
      run: { type: 'string', default: '20' },
      repeat: { type: 'string', default: '5' },
    },
    USAGE,
  );
  return {
    jobs: wholeNumber('jobs', values.jobs),
    groups: wholeNumber('groups', values.groups),
    runMs: wholeNumber('run', values.run, 0) * 1000,
    repeat: wholeNumber('repeat', values.repeat),
    temporalPort: wholeNumber('temporal-port', values['temporal-port'], 1024),
    keep: values.keep,
  };
}

/** G top-level groups (ids 1..G), each with G children; the jobs are dealt round the leaves. */
export function treeOf(jobs: number, g: number): { groups: JobGroupSpec[]; specs: JobSpec[]; leaves: number[] } {
  const groups: JobGroupSpec[] = [];
  for (let t = 1; t <= g; t++) groups.push({ job_group_id: t, in_update_parent_id: 0, attributes: { name: `top-${t}` } });
  const leaves: number[] = [];
  for (let t = 1; t <= g; t++) {
    for (let c = 1; c <= g; c++) {
      const id = groups.length + 1;
      groups.push({ job_group_id: id, in_update_parent_id: t, attributes: { name: `leaf-${t}-${c}` } });
      leaves.push(id);
    }
  }
  const specs: JobSpec[] = [];
  for (let id = 1; id <= jobs; id++) {
    specs.push({
      job_id: id,
      // Every seventh job fails, so "state = failed" has rows to find all the way through.
      process: { type: 'docker', image: IMAGE, command: id % 7 === 0 ? ['false'] : ['true'] },
      resources: { cpu: String(JOB_CPU), memory: 'standard' },
      in_update_job_group_id: leaves[(id - 1) % leaves.length]!,
      attributes: { name: `step-${id}` },
    });
  }
  return { groups, specs, leaves };
}

type Timing = { name: string; page: string; pageMs: number; pageMaxMs: number; kib: number; apiMs: number | null };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timed(url: string, headers: Record<string, string>, repeat: number): Promise<{ ms: number; maxMs: number; bytes: number }> {
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now();
    const res = await fetch(url, { headers, redirect: 'manual' });
    const body = await res.arrayBuffer();
    times.push(performance.now() - t0);
    if (res.status !== 200) throw new Error(`GET ${url}: HTTP ${res.status} ${Buffer.from(body).toString('utf8').slice(0, 300)}`);
    bytes = body.byteLength;
  }
  return { ms: median(times), maxMs: Math.max(...times), bytes };
}

async function signIn(base: string, token: string): Promise<string> {
  const page = await fetch(`${base}/login`);
  const loginCookie = page.headers.getSetCookie()[0]!.split(';')[0]!;
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? '';
  const res = await fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: loginCookie },
    body: new URLSearchParams({ token, next: '/batches', _csrf: csrf }).toString(),
  });
  const session = res.headers.getSetCookie().find((c) => c.startsWith('hb_session='));
  if (res.status !== 302 || !session) throw new Error(`sign-in failed: HTTP ${res.status}`);
  return session.split(';')[0]!;
}

export async function runUiPagesBench(argv: string[], setFailed: (failed: boolean) => void): Promise<number> {
  const scenario = beginScenario(argv, parseOptions, USAGE);
  if (!scenario) return 2;
  return scenario.run(() => readPages(scenario.opts, scenario.dataDir, scenario.stamp, setFailed));
}

async function readPages(opts: Options, dataDir: string, stamp: string, setFailed: (failed: boolean) => void): Promise<number> {
  const infra = await startInfra({ dataDir, stamp, temporalPort: opts.temporalPort, keepDatabase: opts.keep });
  note('starting API, driver and 2 agents of 4 cores');
  const service = await startService(infra, { executor: 'process', agents: 2, cores: 4 });
  const stopService = onCleanup('stop service', () => service.stop(), 90_000);
  const api = new ApiClient(service.url, infra.token);
  const adminToken = `bench-admin-${randomBytes(16).toString('hex')}`;
  await ensureUser(infra.database.db, 'bench-admin', true);
  await addToken(infra.database.db, 'bench-admin', adminToken);
  const admin = new ApiClient(service.url, adminToken);

  const tree = treeOf(opts.jobs, opts.groups);
  note(`submitting ${opts.jobs} jobs in ${tree.groups.length} job groups`);
  const sub = await submitBatch(api, infra.billingProject, tree.specs, tree.groups);
  const submitS = (sub.tCommitted - sub.t0) / 1000;
  note(`batch ${sub.batchId} committed in ${submitS.toFixed(1)} s; letting it run ${opts.runMs / 1000} s`);
  await new Promise((r) => setTimeout(r, opts.runMs));
  await admin.request('PUT', '/rate_limits/standard', { jobs_per_second: 0.001 });
  // What was already placed finishes; then the machine is quiet but for the pages.
  await new Promise((r) => setTimeout(r, 10_000));

  const cookie = await signIn(service.url, infra.token);
  const ui = { cookie };
  const bearer = { authorization: `Bearer ${infra.token}` };
  const id = sub.batchId;
  const failedQ = encodeURIComponent('state = failed');
  const nameQ = encodeURIComponent(`name = step-${opts.jobs}`);
  const deep = Math.max(0, opts.jobs - 50);
  const leaf = tree.leaves[tree.leaves.length - 1]!;
  const mid = Math.ceil(opts.jobs / 2);
  const pages: { name: string; page: string; api: string | null }[] = [
    { name: 'batches list', page: '/batches', api: '/api/v1alpha/batches' },
    { name: 'batch page (first 50 jobs, tree)', page: `/batches/${id}`, api: `/api/v1alpha/batches/${id}/jobs` },
    { name: 'jobs: state = failed', page: `/batches/${id}?q=${failedQ}`, api: `/api/v2alpha/batches/${id}/jobs?q=${failedQ}` },
    { name: `jobs: name = step-${opts.jobs} (one match)`, page: `/batches/${id}?q=${nameQ}`, api: `/api/v2alpha/batches/${id}/jobs?q=${nameQ}` },
    { name: `jobs after ${deep} (last page)`, page: `/batches/${id}?last_job_id=${deep}`, api: `/api/v1alpha/batches/${id}/jobs?last_job_id=${deep}` },
    { name: 'top-level group page', page: `/batches/${id}?job_group=1`, api: `/api/v1alpha/batches/${id}/job-groups/1/jobs?recursive=true` },
    { name: `leaf group ${leaf} page`, page: `/batches/${id}?job_group=${leaf}`, api: `/api/v1alpha/batches/${id}/job-groups/${leaf}/jobs` },
    { name: `job ${mid} page`, page: `/batches/${id}/jobs/${mid}`, api: `/api/v1alpha/batches/${id}/jobs/${mid}` },
    { name: 'billing page', page: '/billing', api: null },
  ];
  const rssBefore = process.memoryUsage().rss;
  const rows: Timing[] = [];
  for (const p of pages) {
    const page = await timed(`${service.url}${p.page}`, ui, opts.repeat);
    const apiT = p.api ? await timed(`${service.url}${p.api}`, bearer, opts.repeat) : null;
    rows.push({ name: p.name, page: p.page, pageMs: page.ms, pageMaxMs: page.maxMs, kib: page.bytes / 1024, apiMs: apiT?.ms ?? null });
    note(`${p.name}: ${page.ms.toFixed(1)} ms${apiT ? ` (API ${apiT.ms.toFixed(1)} ms)` : ''}`);
  }
  const rssAfter = process.memoryUsage().rss;
  const batch = await api.request<BatchJson>('GET', `/batches/${id}`);
  if (!batch.complete) await api.request('PATCH', `/batches/${id}/cancel`);
  await stopService();

  const head = ['page', 'median ms', 'max ms', 'KiB', 'API ms', 'page/API'];
  const body = rows.map((r) => [
    r.name,
    r.pageMs.toFixed(1),
    r.pageMaxMs.toFixed(1),
    r.kib.toFixed(0),
    r.apiMs === null ? '-' : r.apiMs.toFixed(1),
    r.apiMs === null ? '-' : `${(r.pageMs / r.apiMs).toFixed(2)}x`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  process.stdout.write(
    [
      '',
      `UI pages: batch ${id} of ${opts.jobs.toLocaleString('en')} jobs in ${tree.groups.length} job groups (${opts.groups} top-level, ${tree.leaves.length} leaves), ` +
        `submitted in ${submitS.toFixed(1)} s, read after ${opts.runMs / 1000} s of running: ` +
        `${batch.n_succeeded} succeeded, ${batch.n_failed} failed, ${batch.n_jobs - batch.n_completed} not complete; ${os.cpus().length} CPUs`,
      `each page fetched ${opts.repeat} times over HTTP with a session cookie (median and max, body read whole); API: the route reading the same rows, same run`,
      '',
      line(head),
      widths.map((w) => '-'.repeat(w)).join('  '),
      ...body.map(line),
      '',
      `RSS of the API process: ${(rssBefore / 2 ** 20).toFixed(0)} MiB before the pages, ${(rssAfter / 2 ** 20).toFixed(0)} MiB after`,
      '',
    ].join('\n'),
  );
  process.stdout.write(`BENCH_JSON ${JSON.stringify({ scenario: 'ui-pages', options: opts, batchId: id, submitSeconds: submitS, rows })}\n`);
  setFailed(false);
  return 0;
}
