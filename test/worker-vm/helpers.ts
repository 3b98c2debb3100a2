/** Shared set-up of the worker-vm tests: a Docker engine and image, agents, job requests. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../config/index';
import type { JobSpec } from '../../domain/job-spec';
import { startAgent, type RunningAgent } from '../../worker-vm/agent';
import { FakeApi } from './fake-api';

export const TEST_IMAGE = 'hail-batch-busybox:latest';
const root = path.resolve(import.meta.dirname, '../..');

/** Starts the engine and builds the image if needed; both scripts are idempotent. */
export function ensureDocker(): void {
  for (const script of ['docker-engine.sh', 'build-test-image.sh']) {
    execFileSync('bash', [path.join(root, 'scripts', script)], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  }
}

export type TestAgent = { agent: RunningAgent; api: FakeApi; dataDir: string; name: string };

let counter = 0;

export async function startTestAgent(opts: {
  executor: 'docker' | 'process';
  cores?: number;
  failFirst?: Record<string, number[]>;
}): Promise<TestAgent> {
  const name = `test-${opts.executor}-${process.pid}-${++counter}`;
  const activationToken = `activate-${name}`;
  const api = await new FakeApi({ activationToken, failFirst: opts.failFirst }).start();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'hb-agent-'));
  const config = loadConfig({
    HB_DATA_DIR: dataDir,
    HB_LOG_LEVEL: 'error',
    HB_REGION: 'test-region',
    HB_API_URL: api.url,
    HB_AGENT_NAME: name,
    HB_AGENT_PORT: '0',
    HB_AGENT_HOST: '127.0.0.1',
    HB_AGENT_ACTIVATION_TOKEN: activationToken,
    HB_AGENT_CORES: String(opts.cores ?? 2),
    HB_EXECUTOR: opts.executor,
    HB_AGENT_HEARTBEAT_MS: '200',
  });
  const agent = await startAgent(config);
  return { agent, api, dataDir, name };
}

export async function stopTestAgent(t: TestAgent | undefined): Promise<void> {
  if (!t) return;
  await t.agent.stop();
  await t.api.stop();
  rmSync(t.dataDir, { recursive: true, force: true });
}

export function jobSpec(over: Partial<JobSpec> & { command: string[]; image?: string }): JobSpec {
  const { command, image, ...rest } = over;
  return {
    job_id: 1,
    parent_ids: [],
    process: { type: 'docker', image: image ?? TEST_IMAGE, command },
    resources: { cores_mcpu: 250, memory_bytes: 256 * 1024 * 1024, storage_gib: 0, preemptible: true, machine_type: null },
    pool: 'standard',
    env: [],
    attributes: {},
    always_run: false,
    n_max_attempts: 20,
    always_copy_output: false,
    timeout: null,
    input_files: [],
    output_files: [],
    regions: null,
    job_group_id: 0,
    port: null,
    ...rest,
  };
}

let nextBatch = 1000;

/** A create request for a fresh (batch, job, attempt). */
export function createRequest(spec: JobSpec, ids: { batch_id?: number; job_id?: number; attempt_id?: string } = {}) {
  return {
    batch_id: ids.batch_id ?? ++nextBatch,
    job_id: ids.job_id ?? 1,
    attempt_id: ids.attempt_id ?? 'a1b2c3',
    job_group_id: 0,
    user: 'test',
    billing_project: 'test',
    job_spec: spec,
  };
}

export async function post(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

export async function createJob(t: TestAgent, body: ReturnType<typeof createRequest>): Promise<number> {
  const res = await post(`${t.agent.url}/api/v1alpha/batches/jobs/create`, body);
  await res.arrayBuffer();
  return res.status;
}

export async function getLog(t: TestAgent, batchId: number, jobId: number, container: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${t.agent.url}/api/v1alpha/batches/${batchId}/jobs/${jobId}/log/${container}`);
  return { status: res.status, text: await res.text() };
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Polls an async check until it returns something other than undefined/false. */
export async function pollUntil<T>(check: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(50);
  }
}
