/**
 * The real Hail Python client (`hailtop.batch_client` from PyPI `hail`, installed by
 * scripts/setup.sh into .tools/hail-venv) against the running service, unchanged: it submits a
 * DAG of containers, a failing batch and a cancelled one, and reads statuses, logs, attempts
 * and listings through its own API (test/hail-client/client_dag.py prints what it saw).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestService, type TestService } from '../support/service';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PYTHON = path.join(ROOT, '.tools', 'hail-venv', 'bin', 'python');
const SCRIPT = path.join(ROOT, 'test', 'hail-client', 'client_dag.py');

type JobOut = {
  job_id: number;
  name: string | null;
  state: string;
  exit_code: number | null;
  client_exit_code: number | null;
  main_exit_code: number | null;
  start_time: string | null;
  end_time: string | null;
  containers: string[];
  attributes: Record<string, string>;
  image: string | null;
};
type BatchOut = Record<string, unknown> & { id: number; state: string; attributes: Record<string, string> };
type Attempt = { attempt_id: string; instance_name: string; start_time: string; end_time: string };

let s: TestService;
let home: string;

beforeAll(async () => {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run bash scripts/setup.sh --test`);
  s = await startTestService({ name: 'e2e_hail', executor: 'docker', pools: 'standard:2' });
  // A HOME of its own, so no ~/.hail or ~/.config/hail on this machine steers the client.
  home = await mkdtemp(path.join(os.tmpdir(), 'hb-hail-home-'));
});
afterAll(async () => {
  await s?.stop();
  if (home) await rm(home, { recursive: true, force: true });
});

/** Runs client_dag.py; returns its JSON summary (the last stdout line), or fails with its stderr. */
function runClient(env: Record<string, string>): Promise<Record<string, any>> {
  const base: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    PYTHONUNBUFFERED: '1',
    HB_BILLING_PROJECT: s.billingProject,
    HB_SCRIPT_TIMEOUT: '150',
  };
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [SCRIPT], { env: { ...base, ...env }, timeout: 170_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`client_dag.py failed (${err.code ?? err.signal}):\n${stderr}\n--- stdout ---\n${stdout}`));
        return;
      }
      const last = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last) as Record<string, any>);
      } catch {
        reject(new Error(`client_dag.py printed no JSON summary:\n${stdout}\n--- stderr ---\n${stderr}`));
      }
    });
  });
}

const ms = (iso: string | null): number => {
  expect(iso, 'a timestamp').toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  return Date.parse(iso!);
};

describe('the Hail Python client, unchanged', () => {
  let out: Record<string, any>;

  beforeAll(async () => {
    out = await runClient({ HB_CLIENT_MODE: 'explicit', HB_URL: s.url, HB_TOKEN: s.token });
  }, 180_000);

  it('reads the service metadata', () => {
    expect(out.meta.supported_regions).toContain(out.meta.default_region);
    expect(typeof out.meta.cloud).toBe('string');
  });

  it('runs a diamond DAG to success, parents before children, with logs and attempts', async () => {
    const dag = out.dag as {
      batch_id: number;
      job_ids: number[];
      submission_used_fast_path: boolean;
      status: BatchOut;
      get_batch: BatchOut;
      jobs: JobOut[];
      listed_jobs: { job_id: number; state: string; exit_code: number | null; name: string | null }[];
      main_log_d: string;
      log_d: Record<string, string | null>;
      client_log_a: Record<string, string | null>;
      attempts_d: Attempt[];
      client_attempts_a: Attempt[];
      is_complete_d: boolean;
    };
    expect(dag.job_ids).toEqual([1, 2, 3, 4]);
    expect(dag.submission_used_fast_path).toBe(true);
    expect(dag.status).toMatchObject({
      id: dag.batch_id,
      state: 'success',
      complete: true,
      closed: true,
      n_jobs: 4,
      n_completed: 4,
      n_succeeded: 4,
      n_failed: 0,
      n_cancelled: 0,
    });
    expect(dag.status.attributes).toMatchObject({ name: 'hail-client-dag', run: out.run });
    expect(dag.get_batch).toEqual(dag.status);

    // The service itself holds the batch the client submitted.
    const direct = (await (await s.api(`/api/v1alpha/batches/${dag.batch_id}`)).json()) as Record<string, unknown>;
    expect(direct).toMatchObject({ id: dag.batch_id, state: 'success', n_jobs: 4, user: s.user, billing_project: s.billingProject });

    const byName = Object.fromEntries(dag.jobs.map((j) => [j.name, j]));
    expect(Object.keys(byName)).toEqual(['a', 'b', 'c', 'd']);
    for (const j of dag.jobs) {
      expect(j, `job ${j.name}`).toMatchObject({ state: 'Success', exit_code: 0, client_exit_code: 0, main_exit_code: 0 });
      expect(j.attributes).toEqual({ name: j.name });
      expect(j.image).toBe('hail-batch-busybox:latest');
      expect(j.containers).toEqual(['main']);
      expect(ms(j.end_time)).toBeGreaterThanOrEqual(ms(j.start_time));
    }
    const { a, b, c, d } = byName as Record<'a' | 'b' | 'c' | 'd', JobOut>;
    expect(ms(b.start_time)).toBeGreaterThanOrEqual(ms(a.end_time));
    expect(ms(c.start_time)).toBeGreaterThanOrEqual(ms(a.end_time));
    expect(ms(d.start_time)).toBeGreaterThanOrEqual(Math.max(ms(b.end_time), ms(c.end_time)));

    expect(dag.listed_jobs).toEqual([
      { job_id: 1, state: 'Success', exit_code: 0, name: 'a' },
      { job_id: 2, state: 'Success', exit_code: 0, name: 'b' },
      { job_id: 3, state: 'Success', exit_code: 0, name: 'c' },
      { job_id: 4, state: 'Success', exit_code: 0, name: 'd' },
    ]);

    expect(dag.main_log_d).toContain('hello-d\n');
    expect(dag.main_log_d).toContain('hello-env-d\n'); // the job's env reached the container
    expect(dag.main_log_d).toContain('to-stderr\n');
    expect(dag.log_d.main).toBe(dag.main_log_d);
    expect(dag.client_log_a.main).toBe('hello-a\n');
    expect(dag.is_complete_d).toBe(true);

    for (const [attempts, job] of [[dag.attempts_d, d], [dag.client_attempts_a, a]] as const) {
      expect(attempts).toHaveLength(1);
      expect(attempts[0]!.attempt_id).toMatch(/^.{6}$/);
      expect(attempts[0]!.instance_name).toContain('standard');
      expect(attempts[0]!.start_time).toBe(job.start_time);
      expect(attempts[0]!.end_time).toBe(job.end_time);
    }
  });

  it('fails a batch on exit 1, cancels the child, still runs always_run', () => {
    const f = out.failure as { batch_id: number; status: BatchOut; jobs: JobOut[]; main_log_failing: string; attempts_child: unknown };
    expect(f.status).toMatchObject({
      id: f.batch_id,
      state: 'failure',
      complete: true,
      n_jobs: 3,
      n_completed: 3,
      n_succeeded: 1,
      n_failed: 1,
      n_cancelled: 1,
    });
    expect(f.jobs.map((j) => [j.name, j.state, j.exit_code, j.client_exit_code])).toEqual([
      ['fails', 'Failed', 1, 1],
      ['child', 'Cancelled', null, null],
      ['cleanup', 'Success', 0, 0],
    ]);
    expect(f.jobs[1]!.start_time).toBeNull();
    expect(f.jobs[1]!.containers).toEqual([]);
    expect(f.main_log_failing).toBe('failing\n');
    expect(f.attempts_child).toBeNull();
  });

  it('cancels a running batch with Batch.cancel() and deletes it', () => {
    const c = out.cancel as { batch_id: number; status: BatchOut; jobs: JobOut[]; cancel_to_complete_secs: number; get_after_delete_status: number };
    expect(c.status).toMatchObject({ id: c.batch_id, state: 'cancelled', complete: true, n_jobs: 2, n_cancelled: 2, n_succeeded: 0, n_failed: 0 });
    expect(c.jobs.map((j) => [j.name, j.state])).toEqual([
      ['sleeper', 'Cancelled'],
      ['after', 'Cancelled'],
    ]);
    expect(c.jobs[0]!.start_time).not.toBeNull(); // it was running when cancelled
    expect(c.jobs[1]!.start_time).toBeNull();
    expect(c.cancel_to_complete_secs).toBeLessThan(30);
    expect(c.get_after_delete_status).toBe(404);
  });

  it('runs nested job groups made with create_job_group, cancels one group, adds a group in a later update', () => {
    const g = out.groups as Record<string, any>;
    expect(g.ids).toEqual({ outer: 1, inner: 2, other: 3, later: 4 });
    expect(g.first).toMatchObject({ id: g.batch_id, n_jobs: 3, n_succeeded: 1, n_failed: 1, n_cancelled: 1, state: 'failure' });
    expect(g.final).toMatchObject({ n_jobs: 4, n_succeeded: 2, complete: true });
    expect(g.groups.outer).toMatchObject({ state: 'failure', complete: true, n_jobs: 3, n_succeeded: 2, n_failed: 1, attributes: { name: 'outer' } });
    expect(g.groups.inner).toMatchObject({ state: 'failure', n_jobs: 1, n_failed: 1 });
    expect(g.groups.other).toMatchObject({ state: 'cancelled', n_jobs: 1, n_cancelled: 1 });
    expect(g.groups.later).toMatchObject({ state: 'success', n_jobs: 1, n_succeeded: 1 });
    expect(g.top_level).toEqual([1, 3]);
    expect(g.under_outer).toEqual([2, 4]);
    expect(g.outer_jobs).toEqual([1, 2, 4]);
    expect(g.outer_own_jobs).toEqual([1]);
    expect(g.debug_groups).toBe(2);
  });

  it('lists batches with the query language, newest first, without the deleted one', () => {
    const { dag, failure } = out as { dag: { batch_id: number }; failure: { batch_id: number } };
    expect(out.list.run).toEqual([failure.batch_id, dag.batch_id]);
    expect(out.list.dag_by_name).toEqual([dag.batch_id]);
    expect(out.list.failed).toEqual([failure.batch_id]);
    expect(out.list.default_first).toEqual([failure.batch_id]);
  });
});

describe("the Hail client configured only through Hail's own settings", () => {
  it('reaches the service from HAIL_TERRA, HAIL_LOCATION, HAIL_DOMAIN and a tokens file', async () => {
    const tokens = path.join(home, 'tokens.json');
    await writeFile(tokens, JSON.stringify({ default: s.token }));
    const host = new URL(s.url).host;
    const out = await runClient({
      HB_CLIENT_MODE: 'env',
      HAIL_TERRA: '1',
      HAIL_LOCATION: 'gce',
      HAIL_DOMAIN: host,
      HAIL_TOKENS_FILE: tokens,
    });
    expect(out.env.url).toBe(`http://${host}`);
    expect(out.env.status).toMatchObject({ state: 'success', n_jobs: 1, n_succeeded: 1 });
    expect(out.env.jobs[0]).toMatchObject({ state: 'Success', exit_code: 0 });
    expect(out.env.main_log).toBe('hello-from-env-config\n');
    expect(out.env.listed_ids).toEqual([out.env.batch_id]);
  }, 180_000);
});
