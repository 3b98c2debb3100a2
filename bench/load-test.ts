/**
 * `npm run bench -- --scenario load-test`: Hail's load test on the local service. The standard
 * pool gets max instances 5; one batch of N `true` jobs of 0.25 cores is submitted; then the
 * driver's rate limit is swept over a few values, each held for a step, while /metrics of
 * the API and the driver are scraped at the start and end of the step: jobs scheduled per
 * second, API requests per second, SQL statements per second and driver CPU. Prints the
 * table, writes an SVG and a PNG plot (throughput and driver CPU against the limit) under
 * .tmp/bench/, and a `BENCH_JSON` line.
 *
 *   npm run bench -- --scenario load-test --jobs 10000 --limits 5,10,20,40,none --step 30
 */
import os from 'node:os';
import path from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { parseBenchArgs, UsageError, wholeNumber } from './options';
import { Resvg } from '@resvg/resvg-js';
import { isStopping, note, onCleanup } from './cleanup';
import { beginScenario } from './scenario';
import { startInfra, startService, type Executor } from './service';
import { ApiClient, JOB_CPU, jobSpecs, submitBatch, type BatchJson } from './submit';
import { parseExposition, total, type Sample } from './prom-text';
import { lineChartSvg } from './plot';
import { addToken, ensureUser } from '../db/queries/users';
import { liveInstances } from '../db/queries/instances';

const USAGE = `usage: npm run bench -- --scenario load-test [options]

  --jobs N            jobs in the batch (default 10000; e.g. 2000 for a quick run)
  --limits L          rate limits to sweep, jobs/s, comma-separated; "none" for no limit
                      (default 5,10,20,40,none)
  --step S            seconds each limit is held and measured (default 30)
  --min-instances A   standard agents from the start (default 2)
  --max-instances M   the standard pool's max instances (default 5)
  --cores C           cores per agent (default 4)
  --executor E        process | docker (default process)
  --temporal-port P   first Temporal gRPC port to try (default 7833)
  --keep              keep the bench data directory
`;

type Options = {
  jobs: number;
  limits: (number | null)[];
  stepMs: number;
  minInstances: number;
  maxInstances: number;
  cores: number;
  executor: Executor;
  temporalPort: number;
  keep: boolean;
};

function parseOptions(argv: string[]): Options {
  const values = parseBenchArgs(
    argv,
    {
      jobs: { type: 'string', default: '10000' },
      limits: { type: 'string', default: '5,10,20,40,none' },
      step: { type: 'string', default: '30' },
      'min-instances': { type: 'string', default: '2' },
      'max-instances': { type: 'string', default: '5' },
      cores: { type: 'string', default: '4' },
      executor: { type: 'string', default: 'process' },
    },
    USAGE,
  );
  const int = wholeNumber;
  const limits = values.limits.split(',').map((v) => {
    if (v.trim() === 'none') return null;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--limits: ${v} is not a positive number or "none"`);
    return n;
  });
  if (values.executor !== 'process' && values.executor !== 'docker') throw new UsageError(`--executor must be process or docker, got ${values.executor}`);
  const minInstances = int('min-instances', values['min-instances'], 1);
  const maxInstances = int('max-instances', values['max-instances'], 1);
  if (maxInstances < minInstances) throw new UsageError('--max-instances must be at least --min-instances');
  return {
    jobs: int('jobs', values.jobs, 1),
    limits,
    stepMs: int('step', values.step, 2) * 1000,
    minInstances,
    maxInstances,
    cores: int('cores', values.cores, 1),
    executor: values.executor,
    temporalPort: int('temporal-port', values['temporal-port'], 1024),
    keep: values.keep,
  };
}

type Scrape = { at: number; api: Sample[]; driver: Sample[] };

export type StepResult = {
  limit: number | null;
  seconds: number;
  scheduledPerSec: number;
  completedPerSec: number;
  apiRequestsPerSec: number;
  sqlPerSec: number;
  /** Percent of one core; API and driver share this bench process, so it is both of theirs. */
  driverCpuPct: number;
  driverRssMiB: number;
  liveInstances: number;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function stepFigures(limit: number | null, a: Scrape, b: Scrape, instances: number): StepResult {
  const dt = (b.at - a.at) / 1000;
  const d = (pick: (s: Scrape) => number) => (pick(b) - pick(a)) / dt;
  return {
    limit,
    seconds: Number(dt.toFixed(1)),
    scheduledPerSec: d((s) => total(s.driver, 'hb_scheduler_jobs_scheduled_total', { pool: 'standard' })),
    completedPerSec: d((s) => total(s.driver, 'hb_job_state_transitions_total', { from: 'Running', to: 'Success' })),
    apiRequestsPerSec: d((s) => total(s.api, 'hb_http_request_duration_seconds_count')),
    sqlPerSec: d((s) => total(s.api, 'hb_sql_query_duration_seconds_count') + total(s.driver, 'hb_sql_query_duration_seconds_count')),
    driverCpuPct: d((s) => total(s.driver, 'process_cpu_seconds_total')) * 100,
    driverRssMiB: total(b.driver, 'process_resident_memory_bytes') / 2 ** 20,
    liveInstances: instances,
  };
}

const label = (l: number | null) => (l === null ? 'none' : String(l));

function table(rows: StepResult[]): string {
  const head = ['limit/s', 'step s', 'scheduled/s', 'completed/s', 'API req/s', 'SQL/s', 'CPU %', 'RSS MiB', 'instances'];
  const body = rows.map((r) => [
    label(r.limit),
    r.seconds.toFixed(1),
    r.scheduledPerSec.toFixed(1),
    r.completedPerSec.toFixed(1),
    r.apiRequestsPerSec.toFixed(1),
    r.sqlPerSec.toFixed(0),
    r.driverCpuPct.toFixed(0),
    r.driverRssMiB.toFixed(0),
    String(r.liveInstances),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return [line(head), ...body.map(line)].join('\n');
}

/** Plot: "none" is drawn one step past the highest limit. */
export function loadTestChart(rows: StepResult[], jobs: number) {
  const finite = rows.map((r) => r.limit).filter((l): l is number => l !== null);
  const noneX = finite.length > 0 ? Math.max(...finite) * 1.25 : 1;
  const x = (r: StepResult) => r.limit ?? noneX;
  return lineChartSvg({
    title: `Load test: ${jobs.toLocaleString('en')} jobs of ${JOB_CPU} cores, standard pool`,
    xLabel: 'driver rate limit (jobs/s)',
    leftLabel: 'jobs/s',
    rightLabel: 'driver CPU (% of a core)',
    xTickLabels: rows.some((r) => r.limit === null) ? new Map([[noneX, 'none']]) : undefined,
    series: [
      { name: 'scheduled/s', axis: 'left', color: '#1f77b4', points: rows.map((r) => ({ x: x(r), y: r.scheduledPerSec })) },
      { name: 'completed/s', axis: 'left', color: '#2ca02c', points: rows.map((r) => ({ x: x(r), y: r.completedPerSec })) },
      { name: 'driver CPU', axis: 'right', color: '#d62728', points: rows.map((r) => ({ x: x(r), y: r.driverCpuPct })) },
    ],
  });
}

export async function runLoadTest(argv: string[], setFailed: (failed: boolean) => void): Promise<number> {
  const scenario = beginScenario(argv, parseOptions, USAGE);
  if (!scenario) return 2;
  return scenario.run(() => sweep(scenario.opts, scenario.dataDir, scenario.stamp, setFailed));
}

async function sweep(opts: Options, dataDir: string, stamp: string, setFailed: (failed: boolean) => void): Promise<number> {
  const infra = await startInfra({ dataDir, stamp, temporalPort: opts.temporalPort });
  const adminToken = `bench-admin-${randomBytes(16).toString('hex')}`;
  await ensureUser(infra.database.db, 'bench-admin', true);
  await addToken(infra.database.db, 'bench-admin', adminToken);

  note(`starting API, driver and ${opts.minInstances} agents (standard pool ${opts.minInstances}-${opts.maxInstances})`);
  const service = await startService(infra, {
    executor: opts.executor,
    agents: opts.minInstances,
    cores: opts.cores,
    pools: `standard:${opts.minInstances}-${opts.maxInstances}`,
  });
  const stopService = onCleanup('stop service', () => service.stop(), 90_000);
  const api = new ApiClient(service.url, infra.token);
  const admin = new ApiClient(service.url, adminToken);
  await admin.request('PATCH', '/pools/standard', { max_instances: opts.maxInstances, max_live_instances: opts.maxInstances });

  const metricsText = async (url: string) => {
    const res = await fetch(url, { headers: { authorization: `Bearer ${adminToken}` } });
    if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
    return parseExposition(await res.text());
  };
  const scrape = async (): Promise<Scrape> => {
    const [a, d] = await Promise.all([metricsText(`${service.url}/metrics`), metricsText(service.driverMetricsUrl)]);
    return { at: Date.now(), api: a, driver: d };
  };

  // The first limit is in force before any job exists, so the batch never runs unlimited first.
  await admin.request('PUT', '/rate_limits/standard', { jobs_per_second: opts.limits[0] ?? null });
  note(`submitting ${opts.jobs} jobs`);
  const submission = await submitBatch(api, infra.billingProject, jobSpecs(opts.jobs, 'independent', 1));
  const submitSeconds = (submission.tCommitted - submission.t0) / 1000;
  note(`submitted in ${submitSeconds.toFixed(1)} s; sweeping ${opts.limits.map(label).join(', ')}`);

  const rows: StepResult[] = [];
  let complete = false;
  for (const limit of opts.limits) {
    if (isStopping() || complete) break;
    await admin.request('PUT', '/rate_limits/standard', { jobs_per_second: limit });
    const a = await scrape();
    const deadline = a.at + opts.stepMs;
    while (Date.now() < deadline && !complete) {
      await sleep(Math.min(1000, deadline - Date.now()));
      complete = (await api.request<BatchJson>('GET', `/batches/${submission.batchId}`)).complete;
    }
    const b = await scrape();
    const instances = (await liveInstances(infra.database.db)).filter((i) => i.state === 'active' && i.pool === 'standard').length;
    const row = stepFigures(limit, a, b, instances);
    rows.push(row);
    note(`limit ${label(limit)}: ${row.scheduledPerSec.toFixed(1)} scheduled/s, CPU ${row.driverCpuPct.toFixed(0)}%${complete ? ' (batch complete)' : ''}`);
  }
  if (complete) note('the batch completed before the sweep ended: the last step is partial; use more --jobs for a full sweep');
  const batch = await api.request<BatchJson>('GET', `/batches/${submission.batchId}`);
  if (!batch.complete) await api.request('PATCH', `/batches/${submission.batchId}/cancel`);
  await admin.request('PUT', '/rate_limits/standard', { jobs_per_second: null });
  await stopService();

  const outDir = path.resolve('.tmp', 'bench');
  mkdirSync(outDir, { recursive: true });
  const svg = loadTestChart(rows, opts.jobs);
  const svgPath = path.join(outDir, `load-test-${stamp}.svg`);
  const pngPath = path.join(outDir, `load-test-${stamp}.png`);
  writeFileSync(svgPath, svg);
  writeFileSync(pngPath, new Resvg(svg, { fitTo: { mode: 'original' } }).render().asPng());

  process.stdout.write(
    [
      '',
      `Load test: ${opts.jobs} jobs of ${JOB_CPU} cores (\`true\`, ${opts.executor} executor), standard pool ${opts.minInstances}-${opts.maxInstances} instances of ${opts.cores} cores, ${os.cpus().length} CPUs`,
      `submitted in ${submitSeconds.toFixed(1)} s; each limit held ${opts.stepMs / 1000} s; rates from /metrics at the start and end of each step`,
      '(CPU: this process, which runs both the API and the driver here; SQL: API and driver statements)',
      '',
      table(rows),
      '',
      `batch ${batch.n_completed}/${batch.n_jobs} complete at the end (${batch.complete ? batch.state : 'cancelled the rest'})`,
      `plot: ${pngPath}`,
      '',
    ].join('\n'),
  );
  process.stdout.write(`BENCH_JSON ${JSON.stringify({ scenario: 'load-test', options: opts, submitSeconds, steps: rows, plot: pngPath })}\n`);
  setFailed(false);
  return 0;
}
