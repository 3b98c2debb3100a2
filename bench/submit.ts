/**
 * Submits a batch over HTTP the way the Hail client does (create, job bunches of at most 1024
 * specs a few at a time, commit; Bearer token; 30 s timeout; retries with back-off on
 * 408/429/5xx and connection errors), waits for it, and reads the job times back.
 */
import { randomBytes } from 'node:crypto';
import { isStopping, note } from './cleanup';

export type Shape = 'independent' | 'chain';

export type JobSpec = {
  job_id: number;
  process: { type: 'docker'; image: string; command: string[] };
  resources: { cpu: string; memory: string };
  in_update_parent_ids?: number[];
  in_update_job_group_id?: number;
  attributes?: Record<string, string>;
};

/** A job group of the update (Hail's JobGroupSpec), sent before the jobs that name it. */
export type JobGroupSpec = { job_group_id: number; in_update_parent_id: number; attributes?: Record<string, string> };

export const IMAGE = 'hail-batch-busybox:latest';
export const COMMAND = ['true'];
export const JOB_CPU = 0.25;

const BUNCH_SIZE = 1024;
const BUNCHES_IN_FLIGHT = 6;
const TIMEOUT_MS = 30_000;
const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** N trivial jobs; a chain shape is ceil(N / chainLength) chains, each job waiting on the one before. */
export function jobSpecs(n: number, shape: Shape, chainLength: number): JobSpec[] {
  const specs: JobSpec[] = [];
  for (let id = 1; id <= n; id++) {
    const spec: JobSpec = {
      job_id: id,
      process: { type: 'docker', image: IMAGE, command: COMMAND },
      resources: { cpu: String(JOB_CPU), memory: 'standard' },
    };
    if (shape === 'chain' && (id - 1) % chainLength !== 0) spec.in_update_parent_ids = [id - 1];
    specs.push(spec);
  }
  return specs;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class ApiClient {
  retries = 0;
  errors: string[] = [];

  constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  async request<T>(method: string, pathname: string, body?: unknown): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(`${this.baseUrl}/api/v1alpha${pathname}`, {
          method,
          headers: {
            authorization: `Bearer ${this.token}`,
            ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          },
          body: body !== undefined ? JSON.stringify(body) : undefined,
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
      } catch (e) {
        await this.backoff(attempt, `${method} ${pathname}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
        continue;
      }
      const text = await res.text();
      if (res.ok) return (text ? JSON.parse(text) : null) as T;
      const msg = `${method} ${pathname}: HTTP ${res.status} ${text.slice(0, 300)}`;
      if (!RETRY_STATUS.has(res.status)) throw new HttpError(res.status, msg);
      await this.backoff(attempt, msg);
    }
  }

  private async backoff(attempt: number, why: string): Promise<void> {
    // Stopping (Ctrl-C): the API is going away on purpose.
    if (isStopping()) throw new Error(`stopping: ${why}`);
    if (attempt >= 10) throw new Error(`giving up after ${attempt + 1} tries: ${why}`);
    this.retries++;
    if (this.errors.length < 20) this.errors.push(why);
    note(`retrying (${attempt + 1}): ${why}`);
    // Hail's back-off: 1 s base, doubling, capped at 60 s, with jitter.
    await sleep(Math.min(60_000, 1000 * 2 ** attempt) * (0.5 + Math.random() / 2));
  }
}

export type Submission = { batchId: number; t0: number; tCreated: number; tCommitted: number; bunches: number };

export async function submitBatch(api: ApiClient, billingProject: string, specs: JobSpec[], groups: JobGroupSpec[] = []): Promise<Submission> {
  const t0 = Date.now();
  const created = await api.request<{ id: number; update_id: number | null }>('POST', '/batches/create', {
    billing_project: billingProject,
    n_jobs: specs.length,
    n_job_groups: groups.length,
    token: randomBytes(16).toString('hex'),
    attributes: { name: 'bench' },
  });
  const tCreated = Date.now();
  const batchId = created.id;
  const updateId = created.update_id ?? 1;
  for (let i = 0; i < groups.length; i += BUNCH_SIZE) {
    await api.request('POST', `/batches/${batchId}/updates/${updateId}/job-groups/create`, groups.slice(i, i + BUNCH_SIZE));
  }

  const bunches: JobSpec[][] = [];
  for (let i = 0; i < specs.length; i += BUNCH_SIZE) bunches.push(specs.slice(i, i + BUNCH_SIZE));
  let next = 0;
  const worker = async () => {
    while (next < bunches.length) {
      const bunch = bunches[next++]!;
      await api.request('POST', `/batches/${batchId}/updates/${updateId}/jobs/create`, bunch);
    }
  };
  await Promise.all(Array.from({ length: Math.min(BUNCHES_IN_FLIGHT, bunches.length) }, worker));
  await api.request('PATCH', `/batches/${batchId}/updates/${updateId}/commit`);
  return { batchId, t0, tCreated, tCommitted: Date.now(), bunches: bunches.length };
}

export type BatchJson = {
  id: number;
  state: string;
  complete: boolean;
  n_jobs: number;
  n_completed: number;
  n_succeeded: number;
  n_failed: number;
  n_cancelled: number;
  time_completed: string | null;
};

/**
 * Polls GET batch until complete. Gives up when nothing completes for `stallMs`.
 * Returns the batch and when this client saw it complete.
 */
export async function waitForBatch(
  api: ApiClient,
  batchId: number,
  opts: { pollMs: number; stallMs: number; label: string; t0: number },
): Promise<{ batch: BatchJson; observedAt: number; polls: number }> {
  let lastCompleted = -1;
  let lastChange = Date.now();
  let lastReport = Date.now();
  for (let polls = 1; ; polls++) {
    const batch = await api.request<BatchJson>('GET', `/batches/${batchId}`);
    const now = Date.now();
    if (batch.complete) return { batch, observedAt: now, polls };
    if (batch.n_completed !== lastCompleted) {
      lastCompleted = batch.n_completed;
      lastChange = now;
    } else if (now - lastChange > opts.stallMs) {
      throw new Error(
        `${opts.label}: no job completed for ${Math.round(opts.stallMs / 1000)} s ` +
          `(${batch.n_completed}/${batch.n_jobs} complete, state ${batch.state})`,
      );
    }
    if (now - lastReport >= 10_000) {
      lastReport = now;
      note(`${opts.label}: ${batch.n_completed}/${batch.n_jobs} complete after ${((now - opts.t0) / 1000).toFixed(1)} s`);
    }
    await sleep(opts.pollMs);
  }
}

export type JobTimes = { firstStart: number | null; lastEnd: number | null; started: number; states: Record<string, number>; pages: number };

/** Every job of the batch, 50 a page: the earliest start, the latest end, the state counts. */
export async function jobTimes(api: ApiClient, batchId: number): Promise<JobTimes> {
  const out: JobTimes = { firstStart: null, lastEnd: null, started: 0, states: {}, pages: 0 };
  let last: number | undefined;
  for (;;) {
    const q = last === undefined ? '' : `?last_job_id=${last}`;
    const page = await api.request<{
      jobs: { job_id: number; state: string; start_time: string | null; end_time: string | null }[];
      last_job_id?: number;
    }>('GET', `/batches/${batchId}/jobs${q}`);
    out.pages++;
    for (const j of page.jobs) {
      out.states[j.state] = (out.states[j.state] ?? 0) + 1;
      if (j.start_time) {
        out.started++;
        const s = Date.parse(j.start_time);
        if (out.firstStart === null || s < out.firstStart) out.firstStart = s;
      }
      if (j.end_time) {
        const e = Date.parse(j.end_time);
        if (out.lastEnd === null || e > out.lastEnd) out.lastEnd = e;
      }
    }
    if (page.last_job_id === undefined || page.jobs.length === 0) return out;
    last = page.last_job_id;
  }
}
