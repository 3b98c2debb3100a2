/**
 * `npm run bench`: first one pure scheduling round at scale (bench/scheduler.ts, no service),
 * then N trivial jobs through the whole service (HTTP submit, Temporal workflows,
 * scheduler, local agents) as independent jobs and as chains, on the process executor and on
 * Docker, beside a bare baseline on the same machine at the same parallelism.
 *
 *   npm run bench -- --jobs 1000 --executor process|docker|both --shape independent|chain|both
 *                    --chain-length 10 --agents 2 --cores 4 --only scheduler|service
 *
 * Prints a table, per scenario the Temporal cost per job read from the batch's real histories
 * (events and workflow tasks of the job workflows and of the batch workflow's chain, apart;
 * bench/histories.ts) and, last, one `BENCH_JSON {...}` line for machines.
 */
import os from 'node:os';
import path from 'node:path';
import { rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { parseBenchArgs, UsageError, wholeNumber } from './options';
import { cleanupAll, installSignalHandlers, isStopping, note, onCleanup } from './cleanup';
import { diagnose, freeTemporalPort, startInfra, startService, type Executor, type Infra } from './service';
import { ApiClient, JOB_CPU, jobSpecs, jobTimes, submitBatch, waitForBatch, type Shape } from './submit';
import { runBaseline, type BaselineResult } from './baseline';
import { printSchedulerBench, runSchedulerBench, type SchedulerBenchSummary } from './scheduler';
import { runLoadTest } from './load-test';
import { runUiPagesBench } from './ui-pages';
import { runWorkerTuning } from './worker-tuning';
import { historyCost, type HistoryCost } from './histories';
import { runModel, type ModelResult } from './model';
import { loadConfig } from '../config';
import { temporalCliPath } from '../cli/temporal-server';
import { batchWorkflowId } from '../workflows/definitions';

const USAGE = `usage: npm run bench -- [options]

  --jobs N               jobs per scenario (default 1000)
  --executor E           process | docker | both (default both)
  --shape S              independent | chain | both (default both)
  --chain-length L       jobs per chain in the chain shape (default 10; N jobs = N/L chains)
  --agents A             local agents in the standard pool (default 2)
  --cores C              cores per agent (default 4; jobs ask ${JOB_CPU} cpu)
  --concurrency K        baseline parallelism (default: the service's job slots, agents*cores/${JOB_CPU})
  --poll-ms MS           GET batch polling interval (default 250)
  --stall-timeout S      give up on a batch when no job completes for S seconds (default 300)
  --temporal-port P      first Temporal gRPC port to try (default 7833; UI on P+1000)
  --only P               scheduler | service: run only that part (default both; the
                         scheduler part is one pure round, 100,000 jobs, 1,000 instances)
  --model-jobs M         jobs of the ceiling model, run on a stock and on a tuned dev server after
                         the service (default 1000; 0 skips it); the service's rates are printed
                         as ratios to the model's
  --keep                 keep the bench data directory (.tmp/bench-<ts>) even on success
  --scenario load-test   Hail's load test instead (rate-limit sweep; --help after it for its options)
  --scenario ui-pages    web UI page times for one 100,000-job batch (--help after it for its options)
  --scenario worker-tuning  the driver's Temporal worker settings, one batch per variant (--help after it)
`;

type Options = {
  jobs: number;
  executors: Executor[];
  shapes: Shape[];
  chainLength: number;
  agents: number;
  cores: number;
  concurrency: number | null;
  pollMs: number;
  stallMs: number;
  temporalPort: number;
  keep: boolean;
  only: 'scheduler' | 'service' | null;
  modelJobs: number;
};

function parseOptions(argv: string[]): Options {
  const values = parseBenchArgs(
    argv,
    {
      jobs: { type: 'string', default: '1000' },
      executor: { type: 'string', default: 'both' },
      shape: { type: 'string', default: 'both' },
      'chain-length': { type: 'string', default: '10' },
      agents: { type: 'string', default: '2' },
      cores: { type: 'string', default: '4' },
      concurrency: { type: 'string' },
      'poll-ms': { type: 'string', default: '250' },
      'stall-timeout': { type: 'string', default: '300' },
      only: { type: 'string' },
      'model-jobs': { type: 'string', default: '1000' },
    },
    USAGE,
  );
  const int = wholeNumber;
  const pick = <T extends string>(name: string, v: string, allowed: readonly T[]): T[] => {
    if (v === 'both') return [...allowed];
    if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`--${name} must be ${allowed.join(', ')} or both, got ${v}`);
    return [v as T];
  };
  return {
    jobs: int('jobs', values.jobs),
    executors: pick('executor', values.executor, ['process', 'docker'] as const),
    shapes: pick('shape', values.shape, ['independent', 'chain'] as const),
    chainLength: int('chain-length', values['chain-length']),
    agents: int('agents', values.agents),
    cores: int('cores', values.cores),
    concurrency: values.concurrency === undefined ? null : int('concurrency', values.concurrency),
    pollMs: int('poll-ms', values['poll-ms'], 10),
    stallMs: int('stall-timeout', values['stall-timeout']) * 1000,
    temporalPort: int('temporal-port', values['temporal-port'], 1024),
    keep: values.keep,
    only: onlyPart(values.only),
    modelJobs: int('model-jobs', values['model-jobs'], 0),
  };
}

function onlyPart(v: string | undefined): Options['only'] {
  if (v === undefined) return null;
  if (v === 'scheduler' || v === 'service') return v;
  throw new UsageError(`--only must be scheduler or service, got ${v}`);
}

/** One pure scheduling round at scale, printed before anything else starts. */
function schedulerPart(): SchedulerBenchSummary {
  note('scheduler: one pure round, 100,000 Ready jobs of 100 users on 1,000 instances');
  const summary = runSchedulerBench();
  printSchedulerBench(summary);
  process.stdout.write(
    `scheduler round: ${summary.round.medianMs.toFixed(1)} ms median (min ${summary.round.minMs.toFixed(1)} ms) over ` +
      `${summary.jobs.toLocaleString('en')} ready jobs of ${summary.users} users on ${summary.instances.toLocaleString('en')} instances; ` +
      `${summary.round.placed} placed of ${summary.round.attempted} tried\n\n`,
  );
  return summary;
}

type ServiceResult = {
  batchId: number;
  submitMs: number;
  submitJobsPerSec: number;
  bunches: number;
  firstStartMs: number | null;
  firstStartAfterCommitMs: number | null;
  /** When GET batch first answered complete: true (what a waiting client sees). */
  e2eMs: number;
  /** The latest job end_time. */
  lastEndMs: number | null;
  /** The batch's own time_completed. */
  timeCompletedMs: number | null;
  jobsPerSec: number;
  /** Jobs per second between the first start and the last end. */
  runJobsPerSec: number | null;
  succeeded: number;
  failed: number;
  cancelled: number;
  retries: number;
  states: Record<string, number>;
  /** CPU used by this process (API, Temporal worker, activities, bench client) over the scenario, % of one core. */
  benchProcessCpuPct: number;
  /** Peak resident set of this process (API, driver, Temporal worker, bench client) over the scenario, MiB. */
  peakRssMiB: number;
  /** Busy share of all CPUs of the machine over the scenario. */
  hostCpuBusyPct: number;
  /** The machine's 1-minute load average when the batch completed. */
  loadAvg1: number;
  /** Events and workflow tasks per job, read from the batch's Temporal histories. */
  temporal: HistoryCost | { error: string };
};

type ScenarioResult = {
  executor: Executor;
  shape: Shape;
  jobs: number;
  chains: number | null;
  service: ServiceResult | { error: string };
  baseline: BaselineResult | { error: string };
};

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

async function runServiceScenario(
  api: ApiClient,
  infra: Infra,
  opts: Options,
  executor: Executor,
  shape: Shape,
): Promise<ServiceResult> {
  const label = `${executor}/${shape}`;
  const specs = jobSpecs(opts.jobs, shape, opts.chainLength);
  const retriesBefore = api.retries;
  note(`${label}: submitting ${opts.jobs} jobs to the service`);
  const cpuBefore = cpuMeter();
  const sub = await submitBatch(api, infra.billingProject, specs);
  const submitMs = sub.tCommitted - sub.t0;
  note(`${label}: batch ${sub.batchId} committed in ${(submitMs / 1000).toFixed(2)} s; waiting`);
  let done;
  try {
    done = await waitForBatch(api, sub.batchId, { pollMs: opts.pollMs, stallMs: opts.stallMs, label, t0: sub.t0 });
  } catch (e) {
    if (isStopping()) throw e;
    const state = await diagnose(infra, sub.batchId);
    note(`${label}: state of the service: ${JSON.stringify(state)}`);
    await api.request('PATCH', `/batches/${sub.batchId}/cancel`).catch(() => undefined);
    throw new Error(`${message(e)}; service state: ${JSON.stringify(state)}`);
  }
  const times = await jobTimes(api, sub.batchId);
  const e2eMs = done.observedAt - sub.t0;
  const cpu = cpuBefore.done();
  const temporal = await batchHistoryCost(infra, sub.batchId, opts.jobs);
  return {
    batchId: sub.batchId,
    submitMs,
    submitJobsPerSec: opts.jobs / (submitMs / 1000),
    bunches: sub.bunches,
    firstStartMs: times.firstStart === null ? null : times.firstStart - sub.t0,
    firstStartAfterCommitMs: times.firstStart === null ? null : times.firstStart - sub.tCommitted,
    e2eMs,
    lastEndMs: times.lastEnd === null ? null : times.lastEnd - sub.t0,
    timeCompletedMs: done.batch.time_completed ? Date.parse(done.batch.time_completed) - sub.t0 : null,
    jobsPerSec: opts.jobs / (e2eMs / 1000),
    runJobsPerSec:
      times.firstStart !== null && times.lastEnd !== null && times.lastEnd > times.firstStart
        ? opts.jobs / ((times.lastEnd - times.firstStart) / 1000)
        : null,
    succeeded: done.batch.n_succeeded,
    failed: done.batch.n_failed,
    cancelled: done.batch.n_cancelled,
    retries: api.retries - retriesBefore,
    states: times.states,
    benchProcessCpuPct: cpu.processPct,
    peakRssMiB: cpu.peakRssMiB,
    hostCpuBusyPct: cpu.hostPct,
    loadAvg1: Number(os.loadavg()[0]!.toFixed(2)),
    temporal,
  };
}

/** Once the batch workflow has ended (it may outlive GET batch's complete by a task or two). */
async function batchHistoryCost(infra: Infra, batchId: number, jobs: number): Promise<HistoryCost | { error: string }> {
  try {
    await Promise.race([
      infra.client.workflow.getHandle(batchWorkflowId(batchId)).result().catch(() => undefined),
      new Promise((r) => setTimeout(r, 60_000)),
    ]);
    return await historyCost(infra.client, batchId, Array.from({ length: jobs }, (_, k) => k + 1));
  } catch (e) {
    return { error: message(e) };
  }
}

function hostTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const c of os.cpus()) {
    const t = c.times.user + c.times.nice + c.times.sys + c.times.irq + c.times.idle;
    total += t;
    busy += t - c.times.idle;
  }
  return { busy, total };
}

/**
 * CPU of this process and of the machine over a scenario, and this process's peak resident set
 * (sampled each second: the process's own lifetime maximum would carry one scenario's peak into
 * the next).
 */
function cpuMeter() {
  const t0 = Date.now();
  const p0 = process.cpuUsage();
  const h0 = hostTimes();
  let peakRss = process.memoryUsage.rss();
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 1000);
  sampler.unref();
  return {
    done() {
      clearInterval(sampler);
      const wallMs = Math.max(1, Date.now() - t0);
      const p = process.cpuUsage(p0);
      const h = hostTimes();
      return {
        processPct: Math.round(((p.user + p.system) / 1000 / wallMs) * 100),
        hostPct: Math.round(((h.busy - h0.busy) / Math.max(1, h.total - h0.total)) * 100),
        peakRssMiB: Math.round(Math.max(peakRss, process.memoryUsage.rss()) / 2 ** 20),
      };
    },
  };
}

// ------------------------------------------------------------------ output

/**
 * The targets' ratios: each process scenario's jobs/s over the model's on a stock and on a
 * tuned dev server, and chains over independent jobs.
 */
function ratios(results: ScenarioResult[], models: ModelResult[]): Record<string, number> {
  const out: Record<string, number> = {};
  const r2 = (x: number) => Math.round(x * 100) / 100;
  const rateOf = (shape: Shape) => {
    const r = results.find((x) => x.executor === 'process' && x.shape === shape);
    return r && !('error' in r.service) ? r.service.jobsPerSec : null;
  };
  for (const m of models) {
    if ('error' in m) continue;
    for (const shape of ['independent', 'chain'] as const) {
      const v = rateOf(shape);
      if (v !== null) out[`process_${shape}_over_model_${m.profile}`] = r2(v / m.jobsPerSec);
    }
  }
  const ind = rateOf('independent');
  const chain = rateOf('chain');
  if (ind !== null && chain !== null) out['process_chain_over_independent'] = r2(chain / ind);
  return out;
}

const secs = (ms: number | null | undefined) => (ms === null || ms === undefined ? '-' : `${(ms / 1000).toFixed(ms < 10_000 ? 3 : 1)} s`);
const rate = (r: number | null | undefined) => (r === null || r === undefined ? '-' : r >= 100 ? r.toFixed(0) : r.toFixed(1));

function table(rows: string[][], rightAligned: Set<number>): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) =>
    r.map((cell, c) => (rightAligned.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd();
  const [head, ...body] = rows;
  return [line(head!), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

function report(results: ScenarioResult[], opts: Options, slots: number, meta: Record<string, unknown> & { model: ModelResult[]; ratios: Record<string, number> }): void {
  const rows: string[][] = [
    ['scenario', 'runner', 'jobs', 'submit', 'submit jobs/s', 'first start', '(after commit)', 'last job end', 'end-to-end', 'jobs/s', 'ok/failed', 'slowdown'],
  ];
  for (const r of results) {
    const scenario = `${r.executor} ${r.shape}${r.chains !== null ? ` (${r.chains}x${opts.chainLength})` : ''}`;
    const b = r.baseline;
    const s = r.service;
    if ('error' in s) {
      rows.push([scenario, 'service', String(r.jobs), 'ERROR', '', '', '', '', '', '', '', '']);
    } else {
      const sr = s;
      const slowdown = !('error' in b) ? `${(sr.e2eMs / b.e2eMs).toFixed(1)}x` : '-';
      rows.push([
        scenario, 'service', String(r.jobs), secs(sr.submitMs), rate(sr.submitJobsPerSec), secs(sr.firstStartMs),
        secs(sr.firstStartAfterCommitMs), secs(sr.lastEndMs), secs(sr.e2eMs), rate(sr.jobsPerSec),
        `${sr.succeeded}/${sr.failed + sr.cancelled}`, slowdown,
      ]);
    }
    if ('error' in b) {
      rows.push(['', 'baseline', String(r.jobs), 'ERROR', '', '', '', '', '', '', '', '']);
    } else {
      const br = b;
      rows.push([
        '', `baseline x${br.concurrency}`, String(r.jobs), '-', '-', secs(br.firstStartMs), '', secs(br.e2eMs), secs(br.e2eMs),
        rate(br.jobsPerSec), `${r.jobs - br.failed}/${br.failed}`, '1.0x',
      ]);
    }
  }
  const out = [
    '',
    `bench: ${opts.jobs} jobs per scenario; pool standard:${opts.agents} x ${opts.cores} cores, jobs ${JOB_CPU} cpu ` +
      `-> ${slots} job slots; baseline parallelism ${opts.concurrency ?? slots}; ${os.cpus().length} CPUs on this machine`,
    `database ${meta['database']}; Temporal dev server ${meta['temporal']}; load average at start ${(meta['loadAvgAtStart'] as number[]).join(' ')}`,
    '',
    table(rows, new Set([2, 3, 4, 5, 6, 7, 8, 9, 10, 11])),
    '',
    'All times from the first submit request. submit: create + job bunches (<=1024, 6 in flight) + commit over HTTP.',
    'first start / last job end: earliest job start_time / latest end_time; end-to-end: until GET batch said complete',
    '(polled every ' + opts.pollMs + ' ms); jobs/s = jobs / end-to-end. Baseline: `true` via child_process, or',
    '`docker run --rm hail-batch-busybox:latest true`, at the same parallelism; first start = first spawn.',
    '',
  ];
  for (const r of results) {
    if ('error' in r.service) continue;
    const s = r.service;
    out.push(
      `${r.executor}/${r.shape}: CPU of this process (API + driver + client) ${s.benchProcessCpuPct}% of a core, peak RSS ${s.peakRssMiB} MiB, ` +
        `machine ${s.hostCpuBusyPct}% busy, load ${s.loadAvg1}; batch time_completed ${secs(s.timeCompletedMs)}; HTTP retries ${s.retries}`,
    );
    const t = s.temporal;
    out.push(
      'error' in t
        ? `${r.executor}/${r.shape}: Temporal histories could not be read: ${t.error}`
        : `${r.executor}/${r.shape}: Temporal per job: job workflows ${t.jobEventsPerJob} events, ${t.jobTasksPerJob} workflow tasks ` +
            `(mean of ${t.jobSample}, max ${t.jobEventsMax} events); batch workflow ${t.batchEventsPerJob} events, ` +
            `${t.batchTasksPerJob} workflow tasks (${t.batchEvents} events in ${t.batchRuns} runs); ` +
            `partitions ${t.partitionEventsPerJob} events, ${t.partitionTasksPerJob} workflow tasks (${t.partitionRuns} runs)`,
    );
    if (!('error' in t)) out.push(`${r.executor}/${r.shape}: job workflow events by type, mean per job: ${JSON.stringify(t.jobEventTypes)}`);
  }
  for (const r of results) {
    if ('error' in r.service) out.push(`ERROR ${r.executor}/${r.shape} service: ${r.service.error}`);
    if ('error' in r.baseline) out.push(`ERROR ${r.executor}/${r.shape} baseline: ${r.baseline.error}`);
    else if (r.baseline.firstError) out.push(`baseline ${r.executor}/${r.shape} first failure: ${r.baseline.firstError}`);
  }
  for (const m of meta.model) {
    out.push('error' in m ? `model (${m.profile} dev server): ERROR ${m.error}` : `model (${m.profile} dev server): ${m.jobs} jobs in ${secs(m.seconds * 1000)}, ${rate(m.jobsPerSec)} jobs/s (window ${m.window})`);
  }
  for (const [k, v] of Object.entries(meta.ratios)) out.push(`ratio ${k.replaceAll('_', ' ')}: ${v}`);
  process.stdout.write(out.join('\n') + '\n\n');
  process.stdout.write(`BENCH_JSON ${JSON.stringify({ ...meta, options: { ...opts, slots }, results })}\n`);
}

// ------------------------------------------------------------------ main

/** Something failed (not Ctrl-C): the data directory is kept for its logs. */
let failed = false;

async function main(): Promise<number> {
  // Scenarios with options of their own.
  const argv = process.argv.slice(2);
  const scenarioAt = argv.findIndex((a) => a === '--scenario' || a.startsWith('--scenario='));
  if (scenarioAt >= 0) {
    const name = argv[scenarioAt]!.includes('=') ? argv[scenarioAt]!.split('=')[1] : argv[scenarioAt + 1];
    const rest = argv.filter((_, i) => i !== scenarioAt && (argv[scenarioAt]!.includes('=') || i !== scenarioAt + 1));
    if (name === 'load-test') return runLoadTest(rest, (failure) => (failed = failure));
    if (name === 'ui-pages') return runUiPagesBench(rest, (failure) => (failed = failure));
    if (name === 'worker-tuning') return runWorkerTuning(rest, (failure) => (failed = failure));
    process.stderr.write(`unknown --scenario ${name} (known: load-test, ui-pages, worker-tuning)\n`);
    return 2;
  }
  let opts: Options;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${message(e)}\n\n${USAGE}`);
    return 2;
  }
  const scheduler = opts.only === 'service' ? null : schedulerPart();
  if (opts.only === 'scheduler') return 0;
  installSignalHandlers();
  const stamp = `${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}_${randomBytes(2).toString('hex')}`;
  const dataDir = path.resolve('.tmp', `bench-${stamp}`);
  // Kept when something failed (its logs explain what), or on request; removed after success or Ctrl-C.
  onCleanup('remove bench data directory', () => {
    if (failed || opts.keep) note(`kept ${dataDir} (logs: temporal.log, agents/*.log)`);
    else rmSync(dataDir, { recursive: true, force: true });
  });

  const slots = Math.floor((opts.agents * opts.cores) / JOB_CPU);
  const concurrency = opts.concurrency ?? slots;
  const infra = await startInfra({ dataDir, stamp, temporalPort: opts.temporalPort });
  const meta = {
    jobs: opts.jobs,
    cpus: os.cpus().length,
    host: os.hostname(),
    started: new Date().toISOString(),
    loadAvgAtStart: os.loadavg().map((l) => Number(l.toFixed(2))),
    database: infra.databaseInfo.kind === 'postgres' ? `PostgreSQL (${infra.databaseInfo.created ? 'fresh database' : 'DATABASE_URL'})` : 'PGlite',
    temporal: infra.temporalAddress,
    scheduler,
  };

  const results: ScenarioResult[] = [];
  for (const executor of opts.executors) {
    const baselines = new Map<Shape, BaselineResult | { error: string }>();
    for (const shape of opts.shapes) {
      note(`${executor}/${shape}: baseline (${opts.jobs} jobs, parallelism ${concurrency})`);
      try {
        const b = await runBaseline({ executor, shape, n: opts.jobs, chainLength: opts.chainLength, concurrency });
        note(`${executor}/${shape}: baseline ${secs(b.e2eMs)}, ${rate(b.jobsPerSec)} jobs/s`);
        baselines.set(shape, b);
      } catch (e) {
        baselines.set(shape, { error: message(e) });
      }
    }

    note(`${executor}: starting API, driver and ${opts.agents} agents`);
    const service = await startService(infra, { executor, agents: opts.agents, cores: opts.cores });
    const api = new ApiClient(service.url, infra.token);
    for (const shape of opts.shapes) {
      if (isStopping()) return 130;
      let s: ServiceResult | { error: string };
      try {
        s = await runServiceScenario(api, infra, opts, executor, shape);
        note(`${executor}/${shape}: service ${secs(s.e2eMs)}, ${rate(s.jobsPerSec)} jobs/s`);
      } catch (e) {
        if (isStopping()) return 130;
        s = { error: message(e) };
        note(`${executor}/${shape}: service FAILED: ${s.error}`);
      }
      results.push({
        executor,
        shape,
        jobs: opts.jobs,
        chains: shape === 'chain' ? Math.ceil(opts.jobs / opts.chainLength) : null,
        service: s,
        baseline: baselines.get(shape)!,
      });
    }
    note(`${executor}: stopping API, driver and agents`);
    await service.stop();
  }

  const models: ModelResult[] = [];
  if (opts.modelJobs > 0) {
    const cli = temporalCliPath(loadConfig(infra.env));
    for (const profile of ['default', 'tuned'] as const) {
      if (isStopping()) return 130;
      const port = await freeTemporalPort(opts.temporalPort + 10);
      const m = await runModel({ profile, jobs: opts.modelJobs, window: 500, dataDir, cli, port });
      note('error' in m ? `model (${profile}) FAILED: ${m.error}` : `model (${profile}): ${secs(m.seconds * 1000)}, ${rate(m.jobsPerSec)} jobs/s`);
      models.push(m);
    }
  }

  report(results, opts, slots, { ...meta, model: models, ratios: ratios(results, models) });
  if (results.some((r) => 'error' in r.service || 'error' in r.baseline)) failed = true;
  return failed ? 1 : 0;
}

main()
  .then(async (code) => {
    await cleanupAll();
    process.exit(code);
  })
  .catch(async (e: unknown) => {
    const interrupted = isStopping();
    if (!interrupted) failed = true;
    if (!interrupted) process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    await cleanupAll();
    process.exit(interrupted ? 130 : 1);
  });
