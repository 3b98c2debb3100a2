import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import { PassThrough } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { expect, it } from 'vitest';
import { LABEL_INSTANCE } from '../../worker-vm/executors/docker';
import { executorConformance } from './conformance';
import { FakeApi } from './fake-api';
import { createJob, createRequest, ensureDocker, getLog, jobSpec, pollUntil, type TestAgent } from './helpers';

const docker = new Docker();
const containersOf = (instance: string, role?: string) =>
  docker.listContainers({
    all: true,
    filters: { label: [`${LABEL_INSTANCE}=${instance}`, ...(role ? [`hail-batch.container=${role}`] : [])] },
  });
const sh = (script: string) => ['/bin/sh', '-c', script];

executorConformance('docker', {
  before: ensureDocker,
  more: (agent) => {
    it('reports an image found neither locally nor in a reachable registry as not found, quickly', async () => {
      const t = agent();
      const body = createRequest(jobSpec({ image: 'no-such-image-anywhere:1.0', command: ['true'] }));
      const t0 = Date.now();
      expect(await createJob(t, body)).toBe(200);
      const done = await t.api.waitFor(() => t.api.completionOf(body.batch_id, 1));
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(done.status).toMatchObject({ state: 'error', exit_code: null });
      expect(done.status.status.container_statuses.main).toMatchObject({ state: 'error', short_error: 'image not found' });
      expect(done.status.status.container_statuses.main.error).toMatch(/^ImageNotFound: /);
      expect(done.marked_job_started).toBe(false);
    });

    it('copies out what main left unreadable, owned by the storage owner', async () => {
      const t = agent();
      const outDir = path.join(t.dataDir, 'storage', 'test', 'private');
      const spec = jobSpec({
        command: sh('mkdir /io/d; echo secret > /io/d/f; chmod 000 /io/d/f; chmod 000 /io/d'),
        output_files: [{ from: '/io/d', to: `${outDir}/d` }],
      });
      const body = createRequest(spec);
      expect(await createJob(t, body)).toBe(200);
      const done = await t.api.waitFor(() => t.api.completionOf(body.batch_id, 1));
      expect(done.status.state).toBe('succeeded');
      const copied = path.join(outDir, 'd', 'f');
      expect(readFileSync(copied, 'utf8')).toBe('secret\n');
      const owner = process.getuid?.() === 0 ? 10_000 : process.getuid?.();
      expect(statSync(copied).uid).toBe(owner);
    });

    it('kills a job over its memory limit: exit 137, out of memory', async () => {
      const t = agent();
      const spec = jobSpec({ command: sh('head -c 200m /dev/zero | tail') });
      spec.resources.memory_bytes = 16 * 1024 * 1024;
      const body = createRequest(spec);
      expect(await createJob(t, body)).toBe(200);
      const done = await t.api.waitFor(() => t.api.completionOf(body.batch_id, 1));
      expect(done.status).toMatchObject({ state: 'failed', exit_code: 137 });
      expect(done.status.status.container_statuses.main).toMatchObject({
        short_error: 'out of memory',
        container_status: { exit_code: 137, out_of_memory: true },
      });
    });

    it("keeps a job off this machine and private addresses, which Docker's default bridge reaches", async () => {
      // A server on every address of this machine, as the agent's own API and a database are.
      const server = http.createServer((_req, res) => res.end('reached'));
      await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
      const port = (server.address() as AddressInfo).port;
      // This machine's own non-loopback address: private here (10.x, 172.x, 192.168.x).
      const lan = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal && !a.address.startsWith('172.17.'))!.address;
      const get = (host: string, p: number) => `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${host} ${p}`;
      const probe = `${get(lan, port)}; echo; ${get('169.254.169.254', 80)} | grep -q . || echo metadata-unreachable`;
      try {
        // The control: a container on the default bridge gets through.
        const seen = new PassThrough();
        let controlOut = '';
        seen.on('data', (d: Buffer) => (controlOut += d.toString()));
        await docker.run('hail-batch-busybox:latest', ['/bin/sh', '-c', get(lan, port)], seen, { HostConfig: { AutoRemove: true } });
        expect(controlOut).toContain('reached');
        const t = agent();
        const body = createRequest(jobSpec({ command: sh(probe) }));
        expect(await createJob(t, body)).toBe(200);
        const done = await t.api.waitFor(() => t.api.completionOf(body.batch_id, 1), 60_000);
        expect(done.status.state).toBe('succeeded');
        const log = (await getLog(t, body.batch_id, 1, 'main')).text;
        expect(log).not.toContain('reached');
        expect(log).toContain('metadata-unreachable');
      } finally {
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });

    it('labels its containers and leaves only its idle network holders behind', async () => {
      const t = agent();
      const body = createRequest(jobSpec({ command: sh('sleep 60') }), { job_id: 3, attempt_id: 'lbl1' });
      expect(await createJob(t, body)).toBe(200);
      const running = await pollUntil(async () => (await containersOf(t.name, 'main')).find((c) => c.State === 'running'));
      expect(running?.Labels).toMatchObject({
        [LABEL_INSTANCE]: t.name,
        'hail-batch.batch_id': String(body.batch_id),
        'hail-batch.job_id': '3',
        'hail-batch.attempt_id': 'lbl1',
        'hail-batch.container': 'main',
      });
      const del = await fetch(`${t.agent.url}/api/v1alpha/batches/${body.batch_id}/jobs/3/delete`, { method: 'DELETE' });
      expect(del.status).toBe(200);
      await t.agent.attempts.idle();
      // What stays are the network holders, idle and labelled as such; they go when the agent does.
      const left = await containersOf(t.name);
      expect(left.length).toBeGreaterThan(0);
      expect(left.every((c) => c.Labels['hail-batch.container'] === 'network' && c.Labels['hail-batch.job_id'] === undefined)).toBe(true);
    });

    it("lends main containers network namespaces that each next job finds as Docker made them", async () => {
      const t = agent();
      const holders = (await containersOf(t.name, 'network')).length;
      // One holder per slot is made before the agent activates (2 cores: 8 quarter-core jobs).
      expect(holders).toBeGreaterThanOrEqual(8);
      const run = async (script: string) => {
        const body = createRequest(jobSpec({ command: sh(script) }));
        expect(await createJob(t, body)).toBe(200);
        const done = await t.api.waitFor(() => t.api.completionOf(body.batch_id, 1), 60_000);
        return { state: done.status.state, log: (await getLog(t, body.batch_id, 1, 'main')).text };
      };
      // The hostname is marked: the refusals go to stderr, which the log may interleave after it.
      const poison = 'echo nameserver 6.6.6.6 >> /etc/resolv.conf && echo wrote-resolv; echo 6.6.6.6 evil >> /etc/hosts && echo wrote-hosts; echo "host=$(cat /etc/hostname)"';
      const first = await run(poison);
      expect(first.log).not.toMatch(/wrote-/);
      // Jobs run one after another take the same holder back (the pool is a stack): same namespace,
      // same hostname, and nothing the first job tried to leave.
      const second = await run('cat /etc/hostname /etc/resolv.conf /etc/hosts');
      expect(second.state).toBe('succeeded');
      const host = /^host=(.+)$/m.exec(first.log)?.[1];
      expect(host).toBeTruthy();
      expect(second.log.split('\n')[0]).toBe(host);
      expect(second.log).not.toContain('6.6.6.6');
      // Borrowed and given back: the pool neither grew nor shrank.
      expect((await containersOf(t.name, 'network')).length).toBe(holders);
    });

    it('measures the per-job overhead of a trivial container', async () => {
      const t = agent();
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const body = createRequest(jobSpec({ command: ['true'] }));
        const t0 = performance.now();
        expect(await createJob(t, body)).toBe(200);
        await t.api.waitFor(() => t.api.completionOf(body.batch_id, 1));
        times.push(performance.now() - t0);
      }
      const mean = times.reduce((a, b) => a + b, 0) / times.length;
      console.log(`docker job overhead: create → job_complete mean ${mean.toFixed(0)} ms (${times.map((x) => x.toFixed(0)).join(', ')})`);
      expect(mean).toBeLessThan(5_000);
    });
  },
});

it('an agent process stops cleanly on SIGTERM: kills containers, deactivates, exits 0', async () => {
  ensureDocker();
  const name = `test-sigterm-${process.pid}`;
  const api = await new FakeApi({ activationToken: 'tok' }).start();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'hb-agent-'));
  const root = path.resolve(import.meta.dirname, '../..');
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', "import('./worker-vm/main.ts').then((m) => m.runAgent())"], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      HB_DATA_DIR: dataDir,
      HB_LOG_LEVEL: 'error',
      HB_API_URL: api.url,
      HB_AGENT_NAME: name,
      HB_AGENT_PORT: '0',
      HB_AGENT_ACTIVATION_TOKEN: 'tok',
      HB_EXECUTOR: 'docker',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const activation = await api.waitFor(() => api.of('activate')[0], 60_000);
    const t = { agent: { url: `http://127.0.0.1:${activation.body.port}` } } as TestAgent;
    const body = createRequest(jobSpec({ command: sh('sleep 60') }));
    expect(await createJob(t, body)).toBe(200);
    await api.waitFor(() => api.of('job_started')[0]);
    expect(await containersOf(name, 'main')).toHaveLength(1);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(api.of('deactivate')).toHaveLength(1);
    expect(api.completions()).toHaveLength(0);
    expect(await containersOf(name)).toEqual([]);
  } finally {
    child.kill('SIGKILL');
    await api.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
