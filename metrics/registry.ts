/**
 * Prometheus metrics (prom-client). Each role (the API, the driver) has a registry of its own,
 * so when both run in one process (`npm start`, the tests) each `/metrics` still shows only
 * its own requests, statements and rounds; process CPU and memory appear on both.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Seconds; from 1 ms (a cached SQL read) to 10 s (a round that hit TMPRL1104). */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export type SqlMetrics = {
  duration: Histogram<'query'>;
  errors: Counter<'query'>;
};

function sqlMetrics(registry: Registry): SqlMetrics {
  return {
    duration: new Histogram({
      name: 'hb_sql_query_duration_seconds',
      help: 'SQL statements by query function (module.function), with their latency',
      labelNames: ['query'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    errors: new Counter({ name: 'hb_sql_query_errors_total', help: 'SQL statements that failed, by query function', labelNames: ['query'], registers: [registry] }),
  };
}

export type ApiMetrics = {
  role: 'api';
  registry: Registry;
  http: Histogram<'method' | 'route' | 'status'>;
  sql: SqlMetrics;
};

export function createApiMetrics(): ApiMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service: 'api' });
  collectDefaultMetrics({ register: registry });
  return {
    role: 'api',
    registry,
    http: new Histogram({
      name: 'hb_http_request_duration_seconds',
      help: 'API requests by route template, method and status, with their latency',
      labelNames: ['method', 'route', 'status'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    sql: sqlMetrics(registry),
  };
}

export type DriverMetrics = {
  role: 'driver';
  registry: Registry;
  sql: SqlMetrics;
  schedulerRound: Histogram<string>;
  jobsScheduled: Counter<'pool'>;
  rateLimit: Gauge<'pool'>;
  autoscalerDecisions: Counter<'pool' | 'action'>;
  jobTransitions: Counter<'from' | 'to'>;
  activity: Histogram<'activity' | 'local' | 'outcome'>;
  jobsByState: Gauge<'state'>;
};

/**
 * The driver's registry. `countJobs` is read at scrape time for the jobs-by-state gauge (one
 * grouped count, so a scrape costs one statement whatever happened since the last).
 */
export function createDriverMetrics(countJobs?: () => Promise<{ state: string; n: number }[]>): DriverMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service: 'driver' });
  collectDefaultMetrics({ register: registry });
  return {
    role: 'driver',
    registry,
    sql: sqlMetrics(registry),
    schedulerRound: new Histogram({
      name: 'hb_scheduler_round_duration_seconds',
      help: 'Scheduling rounds and how long each took (placement and dispatch)',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    jobsScheduled: new Counter({ name: 'hb_scheduler_jobs_scheduled_total', help: 'Jobs given an attempt by the scheduler, by pool', labelNames: ['pool'], registers: [registry] }),
    rateLimit: new Gauge({
      name: 'hb_scheduler_rate_limit_jobs_per_second',
      help: "The driver's rate limit per pool (task queue of the scheduler); pools without one are not listed",
      labelNames: ['pool'],
      registers: [registry],
    }),
    autoscalerDecisions: new Counter({
      name: 'hb_autoscaler_decisions_total',
      help: 'Instances the autoscaler created or deleted, by pool',
      labelNames: ['pool', 'action'],
      registers: [registry],
    }),
    jobTransitions: new Counter({
      name: 'hb_job_state_transitions_total',
      help: 'Job state changes the driver made, by from and to state',
      labelNames: ['from', 'to'],
      registers: [registry],
    }),
    activity: new Histogram({
      name: 'hb_temporal_activity_duration_seconds',
      help: 'Temporal activity executions in this worker (local ones included), by activity and outcome',
      labelNames: ['activity', 'local', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    jobsByState: new Gauge({
      name: 'hb_jobs',
      help: 'Jobs by state, counted in the database at scrape time',
      labelNames: ['state'],
      registers: [registry],
      async collect() {
        if (!countJobs) return;
        this.reset();
        for (const r of await countJobs()) this.set({ state: r.state }, r.n);
      },
    }),
  };
}

/** The text exposition of a registry, with its content type. */
export async function exposition(registry: Registry): Promise<{ body: string; contentType: string }> {
  return { body: await registry.metrics(), contentType: registry.contentType };
}
