/**
 * The scenarios every executor must pass, run against a real agent over real HTTP. Commands
 * use ${HAIL_IO_DIR:-/io} so the same job works in a container and as a local process.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeResourceUsage } from '../../domain/resource-usage';
import { logKey, resourceUsageKey, statusKey } from '../../storage/keys';
import { LocalDirObjectStore } from '../../storage/object-store';
import { createJob, createRequest, getLog, jobSpec, pollUntil, post, sleep, startTestAgent, stopTestAgent, type TestAgent } from './helpers';

const IO = '${HAIL_IO_DIR:-/io}';
const sh = (script: string) => ['/bin/sh', '-c', script];

/**
 * Registers the suite; `more` adds executor-specific tests that share the same agent (they
 * run inside the suite, before its agent is stopped).
 */
export function executorConformance(
  kind: 'docker' | 'process',
  opts: { before?: () => void; more?: (agent: () => TestAgent) => void } = {},
): void {
  let t: TestAgent;
  // The storage root of the requests' billing project (helpers.ts createRequest: 'test').
  const storageRoot = () => path.join(t.dataDir, 'storage', 'test');
  const store = () => new LocalDirObjectStore(path.join(t.dataDir, 'objects'));
  const ref = (body: { batch_id: number; job_id: number; attempt_id: string }) => ({
    instance: t.name,
    batchId: body.batch_id,
    jobId: body.job_id,
    attemptId: body.attempt_id,
  });

  describe(`agent conformance (${kind} executor)`, () => {
    beforeAll(async () => {
      opts.before?.();
      t = await startTestAgent({ executor: kind });
      expect(await t.agent.activated).toBe(true);
    });
    afterAll(() => stopTestAgent(t));

    it('activates with the activation token, then uses the returned token', async () => {
      const [activation] = t.api.of('activate');
      expect(activation?.name).toBe(t.name);
      expect(activation?.body).toEqual({ ip_address: '127.0.0.1', port: t.agent.port });
      const beat = await t.api.waitFor(() => t.api.of('heartbeat')[0]);
      expect(beat.token).toBe(t.api.sessionToken);
      expect(beat.body).toHaveProperty('running');
      expect(t.api.rejected).toEqual([]);
      const health = await (await fetch(`${t.agent.url}/healthcheck`)).json();
      expect(health).toEqual({ name: t.name });
    });

    it('runs main, copies its output, and stores logs and status', async () => {
      const outDir = path.join(storageRoot(), 'results', kind);
      const spec = jobSpec({
        command: sh(`echo hello from main; echo data > ${IO}/x`),
        output_files: [{ from: '/io/x', to: `file://${outDir}/x.txt` }],
      });
      const body = createRequest(spec);
      expect(await createJob(t, body)).toBe(200);
      const done = await t.api.waitFor(() => t.api.completionOf(body.batch_id, body.job_id));
      const { batch_id, job_id, attempt_id } = body;
      expect(done.status).toMatchObject({ batch_id, job_id, attempt_id, state: 'succeeded', exit_code: 0, job_group_id: 0 });
      expect(done.marked_job_started).toBe(true);
      expect(done.status.end_time).toBeGreaterThanOrEqual(done.status.start_time);
      const doc = done.status.status;
      expect(doc).toMatchObject({ version: 5, worker: t.name, state: 'succeeded', region: 'test-region' });
      expect(Object.keys(doc.container_statuses)).toEqual(['main', 'output']);
      expect(doc.container_statuses.main).toMatchObject({ state: 'succeeded', container_status: { exit_code: 0, out_of_memory: false } });
      expect(doc.container_statuses.main.timing.running.duration).toBeGreaterThanOrEqual(0);
      expect(readFileSync(path.join(outDir, 'x.txt'), 'utf8')).toBe('data\n');

      const started = t.api.of('job_started').find((c) => c.body.status.batch_id === body.batch_id);
      expect(started?.body.status).toMatchObject({ job_id: 1, attempt_id: body.attempt_id });
      expect(started?.body.status.resources).toContainEqual({ name: 'cores_mcpu', quantity: 250 });

      expect((await store().get(logKey({ ...ref(body), container: 'main' })))?.toString()).toBe('hello from main\n');
      const stored = JSON.parse((await store().get(statusKey(ref(body))))!.toString());
      expect(stored.state).toBe('succeeded');
      expect(await getLog(t, body.batch_id, 1, 'main')).toEqual({ status: 200, text: 'hello from main\n' });
      expect((await getLog(t, body.batch_id, 1, 'input')).status).toBe(404);
      expect((await getLog(t, 999_999, 1, 'main')).status).toBe(404);
      const status: any = await (await fetch(`${t.agent.url}/api/v1alpha/batches/${body.batch_id}/jobs/1/status`)).json();
      expect(status.state).toBe('succeeded');
      expect(existsSync(path.join(t.dataDir, 'agents', t.name, `${body.batch_id}-1-${body.attempt_id}`))).toBe(false);
    });

    it('reports a non-zero exit as failed with its exit code', async () => {
      const body = createRequest(jobSpec({ command: sh('echo bad >&2; exit 3') }));
      expect(await createJob(t, body)).toBe(200);
      const done = await t.api.waitFor(() => t.api.completionOf(body.batch_id, 1));
      expect(done.status).toMatchObject({ state: 'failed', exit_code: 3 });
      expect(done.status.status.container_statuses.main.container_status).toEqual({ exit_code: 3, out_of_memory: false });
      expect((await getLog(t, body.batch_id, 1, 'main')).text).toBe('bad\n');
    });

    it('keeps the whole log of a main that exits at once, a last line without newline included', async () => {
      for (let i = 0; i < 3; i++) {
        const body = createRequest(jobSpec({ command: sh("printf 'first\\nlast, no newline'") }));
        expect(await createJob(t, body)).toBe(200);
        const done = await t.api.waitFor(() => t.api.completionOf(body.batch_id, 1));
        expect(done.status.state).toBe('succeeded');
        expect((await getLog(t, body.batch_id, 1, 'main')).text).toBe('first\nlast, no newline');
      }
    });

    it('serves the log while main runs, and a DELETE kills it without a report', async () => {
      const body = createRequest(jobSpec({ command: sh('echo started; sleep 60') }));
      expect(await createJob(t, body)).toBe(200);
      const log = await pollUntil(async () => {
        const text = (await getLog(t, body.batch_id, 1, 'main')).text;
        return text.includes('started') && text;
      });
      expect(log).toBe('started\n');
      const running: any = await (await fetch(`${t.agent.url}/api/v1alpha/batches/${body.batch_id}/jobs/1/status`)).json();
      expect(running).toMatchObject({ state: 'running', end_time: null });
      expect(running.container_statuses.main.state).toBe('running');
      expect(t.api.of('heartbeat').length).toBeGreaterThan(0);
      await t.api.waitFor(() => t.api.of('heartbeat').some((c) => c.body.running.some((r: any) => r.batch_id === body.batch_id)));

      const killedAt = Date.now();
      const del = await fetch(`${t.agent.url}/api/v1alpha/batches/${body.batch_id}/jobs/1/delete`, { method: 'DELETE' });
      expect(del.status).toBe(200);
      expect(Date.now() - killedAt).toBeLessThan(10_000);
      await t.api.waitFor(() => t.agent.attempts.find(body.batch_id, 1)?.uploaded);
      const doc = t.agent.attempts.find(body.batch_id, 1)!.statusDocument();
      expect(doc.state).toBe('cancelled');
      expect(doc.container_statuses.main?.state).toBe('cancelled');
      await sleep(300);
      expect(t.api.completionOf(body.batch_id, 1)).toBeUndefined();
      // Idempotent, and fine for jobs the agent never saw.
      expect((await fetch(`${t.agent.url}/api/v1alpha/batches/${body.batch_id}/jobs/1/delete`, { method: 'DELETE' })).status).toBe(200);
      expect((await fetch(`${t.agent.url}/api/v1alpha/batches/424242/jobs/7/delete`, { method: 'DELETE' })).status).toBe(200);
    });

    it('kills main after its timeout and reports an error', async () => {
      const body = createRequest(jobSpec({ command: sh('sleep 60'), timeout: 1 }));
      const t0 = Date.now();
      expect(await createJob(t, body)).toBe(200);
      const done = await t.api.waitFor(() => t.api.completionOf(body.batch_id, 1));
      expect(Date.now() - t0).toBeLessThan(15_000);
      expect(done.status.state).toBe('error');
      expect(done.status.status.container_statuses.main).toMatchObject({ state: 'error', short_error: 'timed out' });
      // Hail's clients match the exception's name, and an errored container has no exit code.
      expect(done.status.status.container_statuses.main.error).toContain('ContainerTimeoutError');
      expect(done.status.exit_code).toBeNull();
    });

    it('fails a command that cannot be executed with exit code 127, as a shell would', async () => {
      const body = createRequest(jobSpec({ command: ['sleep 5'] }));
      expect(await createJob(t, body)).toBe(200);
      const done = await t.api.waitFor(() => t.api.completionOf(body.batch_id, 1));
      expect(done.status).toMatchObject({ state: 'failed', exit_code: 127 });
      const main = done.status.status.container_statuses.main;
      expect(main).toMatchObject({ state: 'failed', container_status: { exit_code: 127, out_of_memory: false } });
      expect(main.error).toBeUndefined();
      expect((await getLog(t, body.batch_id, 1, 'main')).text).toMatch(/sleep 5.*(executable file not found|no such file)/);
    });

    it('samples CPU and memory of main into Hail resource usage files, live and stored', async () => {
      // About a second of busy shell arithmetic, then a pause so a live read sees samples.
      const body = createRequest(jobSpec({ command: sh('i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; sleep 1') }));
      expect(await createJob(t, body)).toBe(200);
      const url = `${t.agent.url}/api/v1alpha/batches/${body.batch_id}/jobs/1/resource_usage`;
      const live = await pollUntil(async () => {
        const got = (await (await fetch(url)).json()) as Record<string, string>;
        const samples = got.main === undefined ? null : decodeResourceUsage(Buffer.from(got.main, 'base64'));
        return samples !== null && samples.length >= 2 ? samples : undefined;
      });
      expect(live[0]!.memory_in_bytes).toBeGreaterThan(0);
      await t.api.waitFor(() => t.api.completionOf(body.batch_id, 1));
      const stored = decodeResourceUsage((await store().get(resourceUsageKey({ ...ref(body), container: 'main' })))!);
      expect(stored!.length).toBeGreaterThan(live.length - 1);
      // The busy loop kept its quarter core (the cores limit) busy; time stamps are wall-clock ms.
      expect(Math.max(...stored!.map((s) => s.cpu_usage))).toBeGreaterThan(0.15);
      expect(stored!.every((s) => Math.abs(s.time_msecs - Date.now()) < 60_000)).toBe(true);
      const after = (await (await fetch(url)).json()) as Record<string, string>;
      expect(Object.keys(after)).toEqual(['main']);
      expect(decodeResourceUsage(Buffer.from(after.main!, 'base64'))).toEqual(stored);
      expect((await fetch(`${t.agent.url}/api/v1alpha/batches/999999/jobs/1/resource_usage`)).status).toBe(404);
    });

    it('answers 403 to a resent create, 400 to a malformed one', async () => {
      const body = createRequest(jobSpec({ command: sh('true') }));
      expect(await createJob(t, body)).toBe(200);
      expect(await createJob(t, body)).toBe(403);
      await t.api.waitFor(() => t.api.completionOf(body.batch_id, 1));
      expect(await createJob(t, body)).toBe(403);
      expect(t.api.completions().filter((c) => c.status.batch_id === body.batch_id)).toHaveLength(1);
      const bad = await post(`${t.agent.url}/api/v1alpha/batches/jobs/create`, { batch_id: 'x', job_spec: {} });
      expect(bad.status).toBe(400);
      const notJson = await fetch(`${t.agent.url}/api/v1alpha/batches/jobs/create`, { method: 'POST', body: '{' });
      expect(notJson.status).toBe(400);
    });

    it('copies input files into /io and output files out of it', async () => {
      const dir = path.join(storageRoot(), 'files', kind);
      mkdirSync(path.join(dir, 'in-dir'), { recursive: true });
      writeFileSync(path.join(dir, 'in.txt'), 'first line\n');
      writeFileSync(path.join(dir, 'in-dir', 'a.txt'), 'in a dir\n');
      const spec = jobSpec({
        command: sh(`cat ${IO}/in.txt ${IO}/sub/dir/a.txt > ${IO}/out.txt; echo more >> ${IO}/out.txt`),
        input_files: [
          { from: `file://${dir}/in.txt`, to: '/io/in.txt' },
          { from: `${dir}/in-dir`, to: '/io/sub/dir' },
        ],
        output_files: [{ from: '/io/out.txt', to: `file://${dir}/out/result.txt` }],
      });
      const body = createRequest(spec);
      expect(await createJob(t, body)).toBe(200);
      const done = await t.api.waitFor(() => t.api.completionOf(body.batch_id, 1));
      expect(done.status.state).toBe('succeeded');
      expect(Object.keys(done.status.status.container_statuses)).toEqual(['input', 'main', 'output']);
      expect(readFileSync(path.join(dir, 'out', 'result.txt'), 'utf8')).toBe('first line\nin a dir\nmore\n');
      const inputLog = (await store().get(logKey({ ...ref(body), container: 'input' })))?.toString();
      expect(inputLog).toContain('copying');
      // Billing starts with main, not with the input download: both reports carry main's start.
      const timing = done.status.status.container_statuses;
      const started = t.api.of('job_started').find((c) => c.body.status.batch_id === body.batch_id);
      expect(started?.body.status.start_time).toBe(timing.main.timing.running.start_time);
      expect(done.status.start_time).toBe(timing.main.timing.running.start_time);
      expect(done.status.start_time).toBeGreaterThanOrEqual(timing.input.timing.running.finish_time);
    });

    it('still copies output after a failed main when always_copy_output is set', async () => {
      const outDir = path.join(storageRoot(), 'partial', kind);
      const spec = jobSpec({
        command: sh(`echo partial > ${IO}/p; exit 2`),
        always_copy_output: true,
        output_files: [{ from: '/io/p', to: `${outDir}/p.txt` }],
      });
      const body = createRequest(spec);
      expect(await createJob(t, body)).toBe(200);
      const done = await t.api.waitFor(() => t.api.completionOf(body.batch_id, 1));
      expect(done.status).toMatchObject({ state: 'failed', exit_code: 2 });
      expect(done.status.status.container_statuses.output.state).toBe('succeeded');
      expect(readFileSync(path.join(outDir, 'p.txt'), 'utf8')).toBe('partial\n');
    });

    it('fails the job without running main when an input file is missing', async () => {
      const spec = jobSpec({
        command: sh('echo should not run'),
        input_files: [{ from: `file://${storageRoot()}/no-such-file`, to: '/io/in.txt' }],
      });
      const body = createRequest(spec);
      expect(await createJob(t, body)).toBe(200);
      const done = await t.api.waitFor(() => t.api.completionOf(body.batch_id, 1));
      expect(done.status.state).toBe('failed');
      expect(done.status.exit_code).toBe(1);
      expect(Object.keys(done.status.status.container_statuses)).toEqual(['input']);
      expect(done.marked_job_started).toBe(false);
      // Main never ran: nothing to bill.
      expect(done.status.start_time).toBeNull();
      expect((await getLog(t, body.batch_id, 1, 'input')).text).toMatch(/no such file/i);
    });

    it('never copies a link out of /io into a storage root', async () => {
      const outDir = path.join(storageRoot(), 'links', kind);
      const spec = jobSpec({
        command: sh(`ln -s /etc ${IO}/link; mkdir ${IO}/tree; echo a > ${IO}/tree/a; ln -s /etc/shadow ${IO}/tree/shadow`),
        output_files: [
          { from: '/io/link', to: `${outDir}/link` },
          { from: '/io/tree', to: `${outDir}/tree` },
        ],
      });
      const body = createRequest(spec);
      expect(await createJob(t, body)).toBe(200);
      const done = await t.api.waitFor(() => t.api.completionOf(body.batch_id, 1));
      expect(done.status.state).toBe('failed');
      expect(done.status.status.container_statuses.output.state).toBe('failed');
      expect((await getLog(t, body.batch_id, 1, 'output')).text).toMatch(/refused: .*link is not a regular file or directory/);
      expect(existsSync(path.join(outDir, 'link'))).toBe(false);
      expect(existsSync(path.join(outDir, 'tree'))).toBe(false);
    });

    it('gives main the spec env and the HAIL_* variables', async () => {
      const spec = jobSpec({ command: sh('env | grep -E "^(HAIL_|FOO=)" | sort'), env: [{ name: 'FOO', value: 'bar baz' }] });
      const body = { ...createRequest(spec, { job_id: 4, attempt_id: 'att-9' }), job_group_id: 2 };
      expect(await createJob(t, body)).toBe(200);
      const done = await t.api.waitFor(() => t.api.completionOf(body.batch_id, 4));
      expect(done.status).toMatchObject({ state: 'succeeded', job_group_id: 2 });
      const log = (await getLog(t, body.batch_id, 4, 'main')).text;
      for (const line of ['FOO=bar baz', `HAIL_BATCH_ID=${body.batch_id}`, 'HAIL_JOB_ID=4', 'HAIL_JOB_GROUP_ID=2', 'HAIL_ATTEMPT_ID=att-9', 'HAIL_REGION=test-region']) {
        expect(log.split('\n')).toContain(line);
      }
    });

    it('holds a job until its cores are free', async () => {
      // The agent has 2 cores; each job wants both.
      const specs = [1, 2].map(() => jobSpec({ command: sh('sleep 1'), resources: { ...jobSpec({ command: [] }).resources, cores_mcpu: 2000 } }));
      const bodies = specs.map((s) => createRequest(s));
      for (const b of bodies) expect(await createJob(t, b)).toBe(200);
      const [a, b] = await Promise.all(bodies.map((body) => t.api.waitFor(() => t.api.completionOf(body.batch_id, 1))));
      const [first, second] = [a.status, b.status].sort((x, y) => x.start_time - y.start_time);
      expect(second.start_time).toBeGreaterThanOrEqual(first.end_time);
    });

    opts.more?.(() => t);
  });
}
