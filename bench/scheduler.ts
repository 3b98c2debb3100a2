/**
 * Micro-benchmark of the pure scheduling algorithms, no database or Temporal:
 * `npx tsx bench/scheduler.ts`, or first thing in `npm run bench` (`--only scheduler` for it alone). 100,000 Ready jobs of 100 users on 1,000 16-core instances with
 * random free cores, from a fixed seed so every run sees the same input. Times, 5 runs each:
 *  - round: what the live round computes for a pool: fair share and budgets (planPool), then
 *    each user's budget of candidates placed best fit (selectCandidates);
 *  - fullPlacement: best fit of all 100,000 jobs in one pass, the worst case for the index;
 *  - autoscaler: free/ready sums plus the estimate.
 * Prints a table and a `SCHEDULER_BENCH_JSON {...}` line.
 */
import { pathToFileURL } from 'node:url';
import { estimateInstancesToCreate, DEFAULT_POOL_CONFIG } from '../domain/autoscaler';
import { planPool } from '../domain/scheduling-round';
import {
  placeRound,
  seededRandom,
  selectCandidates,
  type SchedulableInstance,
  type SchedulableJob,
} from '../domain/fair-share';

const SEED = 20_240_601;
const USERS = 100;
const JOBS = 100_000;
const INSTANCES = 1_000;
const WORKER_CORES = 16;
const REGIONS = ['us-central1', 'us-east1', 'us-west1'];
const RUNS = 5;

export type SchedulerBenchSummary = ReturnType<typeof runSchedulerBench>;

/** Builds the fixed input and times each step; pure computation, no service needed. */
export function runSchedulerBench() {
  const random = seededRandom(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;

  const instances: SchedulableInstance[] = Array.from({ length: INSTANCES }, (_, k) => ({
    name: `batch-worker-bench-standard-${k}`,
    pool: 'standard',
    region: pick(REGIONS),
    // A few unhealthy instances, as after failed requests.
    healthy: random() >= 0.02,
    freeCoresMcpu: Math.floor(random() * (WORKER_CORES * 1000 + 1)),
  }));

  // 0.25–4 cores, in Hail's power-of-two slots; one job in ten pinned to one region.
  const queues = new Map<string, SchedulableJob[]>();
  for (let k = 0; k < JOBS; k++) {
    const user = `user${k % USERS}`;
    const job: SchedulableJob = {
      batchId: 1 + (k % USERS),
      jobId: 1 + Math.floor(k / USERS),
      coresMcpu: pick([250, 500, 1000, 2000, 4000]),
      pool: 'standard',
      regions: random() < 0.1 ? [pick(REGIONS)] : null,
    };
    let queue = queues.get(user);
    if (!queue) queues.set(user, (queue = []));
    queue.push(job);
  }
  const demands = [...queues].map(([user, jobs]) => ({
    user,
    runningCoresMcpu: Math.floor(random() * 200) * 1000,
    readyCoresMcpu: jobs.reduce((s, j) => s + j.coresMcpu, 0),
  }));
  const allJobs = [...queues.values()].flat();

  function time<T>(run: () => T): { minMs: number; medianMs: number; result: T } {
    const samples: number[] = [];
    let result!: T;
    for (let k = 0; k < RUNS; k++) {
      const start = performance.now();
      result = run();
      samples.push(performance.now() - start);
    }
    samples.sort((a, b) => a - b);
    const round3 = (x: number) => Math.round(x * 1000) / 1000;
    return { minMs: round3(samples[0]!), medianMs: round3(samples[Math.floor(RUNS / 2)]!), result };
  }

  const healthyFree = () => instances.reduce((s, i) => s + (i.healthy ? i.freeCoresMcpu : 0), 0);

  const round = time(() => {
    const plan = planPool(demands, instances);
    // The database hands each user at most its budget of candidates.
    const candidates = new Map([...plan.budgets].map(([user, budget]) => [user, (queues.get(user) ?? []).slice(0, budget)]));
    return selectCandidates({
      queues: candidates,
      allocation: plan.allocation,
      instances,
      bypass: { random: seededRandom(SEED), recentStops: [] },
    });
  });
  const fullPlacement = time(() => placeRound(allJobs, instances));
  const autoscaler = time(() =>
    estimateInstancesToCreate({
      pool: DEFAULT_POOL_CONFIG,
      counts: { pending: 0, active: INSTANCES, inactive: 0 },
      freeCoresMcpu: healthyFree(),
      readyCoresMcpu: allJobs.reduce((s, j) => s + j.coresMcpu, 0),
    }),
  );

  const summary = {
    seed: SEED,
    users: USERS,
    jobs: JOBS,
    instances: INSTANCES,
    workerCores: WORKER_CORES,
    runs: RUNS,
    round: {
      minMs: round.minMs,
      medianMs: round.medianMs,
      attempted: round.result.attempted,
      placed: round.result.placements.length,
    },
    fullPlacement: { minMs: fullPlacement.minMs, medianMs: fullPlacement.medianMs, placed: fullPlacement.result.length },
    autoscaler: { minMs: autoscaler.minMs, medianMs: autoscaler.medianMs, ...autoscaler.result },
  };
  return summary;
}

const row = (name: string, t: { minMs: number; medianMs: number }, note: string) =>
  `${name.padEnd(16)} ${t.minMs.toFixed(3).padStart(10)} ${t.medianMs.toFixed(3).padStart(10)}  ${note}`;

/** The table, and one machine-readable line. */
export function printSchedulerBench(summary: SchedulerBenchSummary): void {
  console.log(`${'step'.padEnd(16)} ${'min ms'.padStart(10)} ${'median ms'.padStart(10)}`);
  console.log(row('round', summary.round, `${summary.round.attempted} attempted, ${summary.round.placed} placed`));
  console.log(row('full placement', summary.fullPlacement, `${summary.fullPlacement.placed} of ${JOBS} placed`));
  console.log(row('autoscaler', summary.autoscaler, `${summary.autoscaler.forQueue} to create for the queue`));
  console.log(`SCHEDULER_BENCH_JSON ${JSON.stringify(summary)}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  printSchedulerBench(runSchedulerBench());
}
