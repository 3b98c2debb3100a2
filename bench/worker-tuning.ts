/**
 * `npm run bench -- --scenario worker-tuning`: the driver's Temporal worker settings
 * (HB_WORKER_*), measured rather than guessed. For each variant the API, driver and agents
 * are started with it and one batch of N independent `true` jobs runs through the whole
 * service; its rate, this process's CPU and peak RSS (API + driver + worker share it) are
 * printed side by side. One Temporal server serves every variant, so the defaults run first
 * and again last: the difference between the two is the drift of the run, and a variant is
 * better only by more than that.
 *
 *   npm run bench -- --scenario worker-tuning --jobs 2000 --variants default,slots-40,pollers-4,cache-200,default
 */
import os from 'node:os';
import { note, isStopping } from './cleanup';
import { beginScenario } from './scenario';
import { parseBenchArgs, UsageError, wholeNumber } from './options';
import { startInfra, startService } from './service';
import { ApiClient, jobSpecs, submitBatch, waitForBatch } from './submit';

/** Each variant is the settings it changes from the defaults (config/index.ts). */
export const VARIANTS: Record<string, Record<string, string>> = {
  default: {},
  'slots-40': { HB_WORKER_WORKFLOW_TASK_SLOTS: '40' },
  'slots-300': { HB_WORKER_WORKFLOW_TASK_SLOTS: '300', HB_WORKER_WORKFLOW_TASK_POLLERS: '20' },
  'pollers-2': { HB_WORKER_WORKFLOW_TASK_POLLERS: '2' },
  'pollers-4': { HB_WORKER_WORKFLOW_TASK_POLLERS: '4' },
  'pollers-10': { HB_WORKER_WORKFLOW_TASK_POLLERS: '10' },
  'slots-300-pollers-2': { HB_WORKER_WORKFLOW_TASK_SLOTS: '300', HB_WORKER_WORKFLOW_TASK_POLLERS: '2' },
  'pollers-50': { HB_WORKER_WORKFLOW_TASK_POLLERS: '50' },
  'activities-50': { HB_WORKER_ACTIVITY_SLOTS: '50', HB_WORKER_LOCAL_ACTIVITY_SLOTS: '50' },
  'activities-500': { HB_WORKER_ACTIVITY_SLOTS: '500', HB_WORKER_LOCAL_ACTIVITY_SLOTS: '500' },
  // Smaller than what is open at once (a 500-job window, partitions, the long-running loops):
  // evicted workflows replay their history on their next task.
  'cache-200': { HB_WORKER_CACHED_WORKFLOWS: '200' },
  'cache-10000': { HB_WORKER_CACHED_WORKFLOWS: '10000' },
};

const DEFAULT_VARIANTS = 'default,slots-40,slots-300,pollers-2,pollers-50,activities-50,cache-200,default';

const USAGE = `usage: npm run bench -- --scenario worker-tuning [options]

  --jobs N            independent jobs per variant (default 2000)
  --variants V        comma-separated, run in this order (default ${DEFAULT_VARIANTS});
                      known: ${Object.keys(VARIANTS).join(', ')}
  --agents A          local agents in the standard pool (default 2)
  --cores C           cores per agent (default 4)
  --temporal-port P   first Temporal gRPC port to try (default 7833)
  --keep              keep the bench data directory
`;

type Options = { jobs: number; variants: string[]; agents: number; cores: number; temporalPort: number; keep: boolean };

function parseOptions(argv: string[]): Options {
  const values = parseBenchArgs(
    argv,
    {
      jobs: { type: 'string', default: '2000' },
      variants: { type: 'string', default: DEFAULT_VARIANTS },
      agents: { type: 'string', default: '2' },
      cores: { type: 'string', default: '4' },
    },
    USAGE,
  );
  const variants = values.variants.split(',').map((v) => v.trim());
  for (const v of variants) if (!(v in VARIANTS)) throw new UsageError(`--variants: unknown variant ${v} (known: ${Object.keys(VARIANTS).join(', ')})`);
  return {
    jobs: wholeNumber('jobs', values.jobs),
    variants,
    agents: wholeNumber('agents', values.agents),
    cores: wholeNumber('cores', values.cores),
    temporalPort: wholeNumber('temporal-port', values['temporal-port'], 1024),
    keep: values.keep,
  };
}

export type VariantResult = { variant: string; settings: Record<string, string>; seconds: number; jobsPerSec: number; cpuPct: number; peakRssMiB: number };

export async function runWorkerTuning(argv: string[], setFailed: (failed: boolean) => void): Promise<number> {
  const scenario = beginScenario(argv, parseOptions, USAGE);
  if (!scenario) return 2;
  return scenario.run(async () => {
    const { opts } = scenario;
    const infra = await startInfra({ dataDir: scenario.dataDir, stamp: scenario.stamp, temporalPort: opts.temporalPort });
    const results: VariantResult[] = [];
    for (const [k, variant] of opts.variants.entries()) {
      if (isStopping()) return 130;
      const settings = VARIANTS[variant]!;
      note(`${variant}: starting API, driver and ${opts.agents} agents with ${JSON.stringify(settings)}`);
      // Each run its own task queue: a worker of the last variant may still hold sticky tasks.
      const service = await startService(infra, { executor: 'process', agents: opts.agents, cores: opts.cores, env: { ...settings, HB_TASK_QUEUE: `tuning-${k}` } });
      try {
        const api = new ApiClient(service.url, infra.token);
        const cpu0 = process.cpuUsage();
        let peak = process.memoryUsage.rss();
        const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 1000);
        const sub = await submitBatch(api, infra.billingProject, jobSpecs(opts.jobs, 'independent', 1));
        const done = await waitForBatch(api, sub.batchId, { pollMs: 250, stallMs: 300_000, label: variant, t0: sub.t0 });
        clearInterval(sampler);
        const seconds = (done.observedAt - sub.t0) / 1000;
        const used = process.cpuUsage(cpu0);
        const r: VariantResult = {
          variant,
          settings,
          seconds: Number(seconds.toFixed(1)),
          jobsPerSec: Number((opts.jobs / seconds).toFixed(1)),
          cpuPct: Math.round(((used.user + used.system) / 1e6 / seconds) * 100),
          peakRssMiB: Math.round(peak / 2 ** 20),
        };
        note(`${variant}: ${r.seconds} s, ${r.jobsPerSec} jobs/s, CPU ${r.cpuPct}% of a core, peak RSS ${r.peakRssMiB} MiB`);
        results.push(r);
      } catch (e) {
        setFailed(true);
        throw e;
      } finally {
        await service.stop();
      }
    }
    process.stdout.write(`\n${report(results, opts)}\n`);
    process.stdout.write(`BENCH_JSON ${JSON.stringify({ scenario: 'worker-tuning', jobs: opts.jobs, cpus: os.cpus().length, results })}\n`);
    return 0;
  });
}

function report(results: VariantResult[], opts: Options): string {
  const head = ['variant', 'settings', 'seconds', 'jobs/s', 'vs first', 'CPU %', 'peak RSS MiB'];
  const first = results[0]?.jobsPerSec ?? 1;
  const rows = results.map((r) => [
    r.variant,
    Object.entries(r.settings).map(([k, v]) => `${k.replace('HB_WORKER_', '')}=${v}`).join(' ') || '(defaults)',
    r.seconds.toFixed(1),
    r.jobsPerSec.toFixed(1),
    `${(r.jobsPerSec / first).toFixed(2)}x`,
    String(r.cpuPct),
    String(r.peakRssMiB),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [
    `worker tuning: ${opts.jobs} independent jobs per variant, process executor, standard:${opts.agents} x ${opts.cores} cores; CPU and RSS of this process (API + driver + worker + client)`,
    '',
    line(head),
    ...rows.map(line),
  ].join('\n');
}
