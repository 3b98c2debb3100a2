/**
 * Storage requests are enforced with real scratch volumes under a real Docker engine: /io and
 * the root file system share Hail's quota (requested storage plus 5 GiB per core, at most
 * 5 GiB of that), and no mount outlives its attempt, not even an agent killed with -9.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index';
import { startAgent } from '../../worker-vm/agent';
import { LABEL_INSTANCE } from '../../worker-vm/executors/docker';
import { storageQuotaBytes } from '../../worker-vm/storage-quota';
import { FakeApi } from './fake-api';
import { createJob, createRequest, ensureDocker, getLog, jobSpec, startTestAgent, stopTestAgent, TEST_IMAGE, type TestAgent } from './helpers';
import { execFileSync } from 'node:child_process';

const sh = (script: string) => ['/bin/sh', '-c', script];
const GIB = 1024 ** 3;
const docker = new Docker();

/** Mount points of this machine that lie under `dir` or are backed by a file under it. */
function mountsOf(dir: string): string[] {
  const loops = new Set<string>();
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean)) {
    const source = line.split(' - ')[1]?.split(' ')[1] ?? '';
    const m = /^\/dev\/(loop\d+)$/.exec(source);
    if (!m) continue;
    let backing = '';
    try {
      backing = readFileSync(`/sys/block/${m[1]}/loop/backing_file`, 'utf8');
    } catch {
      continue;
    }
    if (backing.startsWith(dir)) loops.add(line.split(' ')[4]!);
  }
  return [...loops];
}

describe('storage quota rule', () => {
  it("is Hail's: requested storage plus min(5, int(cores × 5)) GiB", () => {
    expect(storageQuotaBytes({ cores_mcpu: 250, storage_gib: 0 })).toBe(1 * GIB);
    expect(storageQuotaBytes({ cores_mcpu: 250, storage_gib: 10 })).toBe(11 * GIB);
    expect(storageQuotaBytes({ cores_mcpu: 1000, storage_gib: 0 })).toBe(5 * GIB);
    expect(storageQuotaBytes({ cores_mcpu: 16000, storage_gib: 20 })).toBe(25 * GIB);
    expect(storageQuotaBytes({ cores_mcpu: 100, storage_gib: 0 })).toBe(0);
  });
});

describe('storage quota (docker executor)', () => {
  let t: TestAgent;
  beforeAll(async () => {
    ensureDocker();
    t = await startTestAgent({ executor: 'docker' });
    expect(await t.agent.activated).toBe(true);
  });
  afterAll(() => stopTestAgent(t));

  const run = async (command: string, storageGib: number, image?: string) => {
    const spec = jobSpec({ command: sh(command), ...(image ? { image } : {}) });
    spec.resources.storage_gib = storageGib;
    const body = createRequest(spec);
    expect(await createJob(t, body)).toBe(200);
    const done = await t.api.waitFor(() => t.api.completionOf(body.batch_id, 1), 60_000);
    return { done, log: (await getLog(t, body.batch_id, 1, 'main')).text };
  };

  it('lets a 0.25-core job write 700 MiB to its root file system, or to /io', async () => {
    expect((await run('fallocate -l 700M /foo', 0)).done.status.state).toBe('succeeded');
    expect((await run('fallocate -l 700M /io/foo', 0)).done.status.state).toBe('succeeded');
  });

  it('fails a job whose root file system and /io together pass its 1 GiB, with no space left', async () => {
    const { done, log } = await run('fallocate -l 700M /foo && fallocate -l 700M /io/foo', 0);
    expect(done.status).toMatchObject({ state: 'failed', exit_code: 1 });
    expect(log).toMatch(/No space left on device/);
    const alone = await run('fallocate -l 1200M /io/foo', 0);
    expect(alone.done.status.state).toBe('failed');
    expect(alone.log).toMatch(/No space left on device/);
  });

  it("holds the image's own VOLUMEs to the same quota, relative ones at the root", async () => {
    // Left to Docker, an image's VOLUME is an anonymous volume on the host's disk, outside any quota.
    const image = 'hb-test-volume:latest';
    execFileSync('docker', ['build', '-q', '-t', image, '-'], { input: `FROM ${TEST_IMAGE}\nVOLUME /data\nWORKDIR /tmp\nVOLUME relative_volume\n` });
    const full = await run('fallocate -l 1200M /data/foo', 0, image);
    expect(full.done.status.state).toBe('failed');
    expect(full.log).toMatch(/No space left on device/);
    const fits = await run('fallocate -l 300M /data/foo && ls -d /relative_volume && ! ls relative_volume', 0, image);
    expect(fits.done.status.state, fits.log).toBe('succeeded');
  });

  it('provisions requested storage on top: 1 GiB more holds both writes', async () => {
    const { done, log } = await run('fallocate -l 700M /foo && fallocate -l 700M /io/foo && df -k /io', 1);
    expect(done.status.state, log).toBe('succeeded');
    const [, size] = /\s(\d+)\s+\d+\s+\d+\s+\d+%\s+\/io/.exec(log) ?? [];
    // At least what was asked for (2 GiB), and not much more.
    expect(Number(size) * 1024).toBeGreaterThanOrEqual(2 * GIB * 0.99);
    expect(Number(size) * 1024).toBeLessThan(2 * GIB * 1.05);
  });

  it('leaves no mount and no volume file behind, whatever way main ended', async () => {
    const notRunnable = createRequest(jobSpec({ command: ['sleep 5'] }));
    const timedOut = createRequest(jobSpec({ command: sh('echo x > /y; sleep 30'), timeout: 1 }));
    const deleted = createRequest(jobSpec({ command: sh('echo x > /io/y; sleep 30') }));
    for (const body of [notRunnable, timedOut, deleted]) expect(await createJob(t, body)).toBe(200);
    await t.api.waitFor(() => t.api.of('job_started').find((c) => c.body.status.batch_id === deleted.batch_id));
    await fetch(`${t.agent.url}/api/v1alpha/batches/${deleted.batch_id}/jobs/1/delete`, { method: 'DELETE' });
    expect((await t.api.waitFor(() => t.api.completionOf(notRunnable.batch_id, 1))).status).toMatchObject({ state: 'failed', exit_code: 127 });
    expect((await t.api.waitFor(() => t.api.completionOf(timedOut.batch_id, 1))).status.state).toBe('error');
    await t.agent.attempts.idle();
    expect(readdirSync(path.join(t.dataDir, 'agents', t.name))).toEqual([]);
    expect(mountsOf(t.dataDir)).toEqual([]);
  });
});

it('a restarted agent undoes the mounts an agent killed with -9 left behind', async () => {
  ensureDocker();
  const name = `test-quota-kill9-${process.pid}`;
  const api = await new FakeApi({ activationToken: 'tok' }).start();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'hb-agent-'));
  const env = {
    HB_DATA_DIR: dataDir,
    HB_LOG_LEVEL: 'error',
    HB_API_URL: api.url,
    HB_AGENT_NAME: name,
    HB_AGENT_PORT: '0',
    HB_AGENT_HOST: '127.0.0.1',
    HB_AGENT_ACTIVATION_TOKEN: 'tok',
    HB_EXECUTOR: 'docker',
  };
  const root = path.resolve(import.meta.dirname, '../..');
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', "import('./worker-vm/main.ts').then((m) => m.runAgent())"], {
    cwd: root,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let second: Awaited<ReturnType<typeof startAgent>> | undefined;
  try {
    const activation = await api.waitFor(() => api.of('activate')[0], 60_000);
    const t = { agent: { url: `http://127.0.0.1:${activation.body.port}` } } as TestAgent;
    const body = createRequest(jobSpec({ command: sh('echo x > /io/x; echo y > /y; sleep 120') }));
    expect(await createJob(t, body)).toBe(200);
    await api.waitFor(() => api.of('job_started')[0], 60_000);
    // The volume and the bind of main's writable layer.
    expect(mountsOf(dataDir)).toHaveLength(2);
    child.kill('SIGKILL');
    await exited;
    expect(mountsOf(dataDir)).toHaveLength(2);

    second = await startAgent(loadConfig(env));
    expect(mountsOf(dataDir)).toEqual([]);
    const left = await docker.listContainers({ all: true, filters: { label: [`${LABEL_INSTANCE}=${name}`] } });
    expect(left.filter((c) => c.Labels['hail-batch.container'] !== 'network')).toEqual([]);
    // The killed agent's network holders went with its orphans: only the new agent's, one per slot.
    expect(left).toHaveLength(Math.floor(loadConfig(env).agent.cores * 4));
  } finally {
    child.kill('SIGKILL');
    await second?.stop();
    await api.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
