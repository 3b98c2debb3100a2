/**
 * An agent survives whatever job reaches it: hostile image names dispatched straight to its
 * HTTP API, hostile bodies, paths and names, and timeouts longer than Node's timers. Each bad
 * job ends in Error with Hail's short error, and the same agent then runs the next job.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJob, createRequest, ensureDocker, getLog, jobSpec, post, startTestAgent, stopTestAgent, type TestAgent } from '../worker-vm/helpers';

const sh = (script: string) => ['/bin/sh', '-c', script];

async function runsNextJob(t: TestAgent): Promise<void> {
  const body = createRequest(jobSpec({ command: sh('echo still here') }));
  expect(await createJob(t, body)).toBe(200);
  const done = await t.api.waitFor(() => t.api.completionOf(body.batch_id, 1));
  expect(done.status.state).toBe('succeeded');
  expect((await getLog(t, body.batch_id, 1, 'main')).text).toBe('still here\n');
}

describe('a docker agent and hostile jobs', () => {
  let t: TestAgent;
  beforeAll(async () => {
    ensureDocker();
    t = await startTestAgent({ executor: 'docker' });
    expect(await t.agent.activated).toBe(true);
  });
  afterAll(() => stopTestAgent(t));

  it.each([
    ['../../etc/passwd', /^image repository is invalid$/],
    ['a b', /^image repository is invalid$/],
    ['UPPER/Case', /^image repository is invalid$/],
    ['no-such-image-anywhere:1.0', /^image (not found|cannot be pulled)$/],
  ])('image %j ends in Error with a short error, and the agent runs the next job', async (image, shortError) => {
    const body = createRequest(jobSpec({ image, command: ['true'] }));
    expect(await createJob(t, body)).toBe(200);
    const done = await t.api.waitFor(() => t.api.completionOf(body.batch_id, 1));
    expect(done.status.state).toBe('error');
    expect(done.status.status.container_statuses.main.short_error).toMatch(shortError);
    expect(done.marked_job_started).toBe(false);
    expect((await fetch(`${t.agent.url}/healthcheck`)).status).toBe(200);
    await runsNextJob(t);
  });

  it('a 30-day timeout does not fire at once', async () => {
    const body = createRequest(jobSpec({ command: sh('sleep 2; echo finished'), timeout: 2_592_000 }));
    expect(await createJob(t, body)).toBe(200);
    const done = await t.api.waitFor(() => t.api.completionOf(body.batch_id, 1));
    expect(done.status.state).toBe('succeeded');
    expect(done.status.status.container_statuses.main.short_error).toBeUndefined();
    expect((await getLog(t, body.batch_id, 1, 'main')).text).toBe('finished\n');
  });

  it('refuses hostile bodies, names and ids without falling over', async () => {
    const create = `${t.agent.url}/api/v1alpha/batches/jobs/create`;
    const huge = await fetch(create, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"x":"${'a'.repeat(9 * 1024 * 1024)}"}` }).catch(
      () => null,
    );
    // The agent either answers 413 or cuts the upload short; it must not take it.
    if (huge) expect(huge.status).toBe(413);
    expect((await fetch(create, { method: 'POST', body: '[[[[[[[[[[' + ']'.repeat(5) })).status).toBe(400);
    expect((await post(create, { ...createRequest(jobSpec({ command: ['true'] })), attempt_id: '../../x' })).status).toBe(400);
    expect((await post(create, { ...createRequest(jobSpec({ command: ['true'] })), batch_id: -1 })).status).toBe(400);
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    expect((await fetch(create, { method: 'POST', body: deep })).status).toBe(400);
    expect((await fetch(`${t.agent.url}/api/v1alpha/batches/1/jobs/1/log/..%2F..%2Fetc%2Fpasswd`)).status).toBe(400);
    expect((await fetch(`${t.agent.url}/api/v1alpha/batches/1/jobs/1/log/status`)).status).toBe(400);
    expect((await fetch(`${t.agent.url}/api/v1alpha/batches/1e3/jobs/1/status`)).status).toBe(400);
    expect((await fetch(`${t.agent.url}/api/v1alpha/batches/x/jobs/1/delete`, { method: 'DELETE' })).status).toBe(400);
    await runsNextJob(t);
  });

  it('refuses at copy time what the billing project of the dispatch may not use', async () => {
    const storage = path.join(t.dataDir, 'storage');
    mkdirSync(path.join(storage, 'other'), { recursive: true });
    writeFileSync(path.join(storage, 'other', 'secret.txt'), 'not for test\n');
    const cases: [Partial<ReturnType<typeof createRequest>>, Record<string, unknown>, 'input' | 'output'][] = [
      [{}, { input_files: [{ from: `${storage}/other/secret.txt`, to: '/io/s' }] }, 'input'],
      [{}, { input_files: [{ from: `${storage}/test/../other/secret.txt`, to: '/io/s' }] }, 'input'],
      [{ billing_project: '..' }, { input_files: [{ from: `${storage}/other/secret.txt`, to: '/io/s' }] }, 'input'],
      [{ billing_project: '' }, { input_files: [{ from: `${storage}/other/secret.txt`, to: '/io/s' }] }, 'input'],
      [{}, { output_files: [{ from: '/io/x', to: `${storage}/test` }] }, 'output'],
      [{}, { output_files: [{ from: '/io/x', to: `${storage}/other/planted.txt` }] }, 'output'],
      [{}, { input_files: [{ from: 'gs://bucket/x', to: '/io/x' }] }, 'input'],
    ];
    for (const [over, files, container] of cases) {
      const body = { ...createRequest(jobSpec({ command: sh('cat /io/s 2>/dev/null; echo x > /io/x'), ...files })), ...over };
      expect(await createJob(t, body)).toBe(200);
      const done = await t.api.waitFor(() => t.api.completionOf(body.batch_id, 1));
      expect(done.status.state, JSON.stringify(files)).toBe('error');
      expect(done.status.status.container_statuses[container].state).toBe('error');
      expect((await getLog(t, body.batch_id, 1, container)).text).toMatch(/^refused: /);
      // An input refused: main never ran, so nothing of the secret reached any log.
      if (container === 'input') expect(done.status.status.container_statuses.main).toBeUndefined();
      else expect((await getLog(t, body.batch_id, 1, 'main')).text).not.toContain('not for test');
    }
    expect(readdirSync(path.join(storage, 'other'))).toEqual(['secret.txt']);
    await runsNextJob(t);
  });

  it('a job whose env or command the engine refuses ends in Error, not in a dead agent', async () => {
    const body = createRequest(jobSpec({ command: ['/bin/sh', '-c', 'true\0false'], env: [{ name: 'A\0B', value: 'x' }] }));
    expect(await createJob(t, body)).toBe(200);
    const done = await t.api.waitFor(() => t.api.completionOf(body.batch_id, 1));
    expect(['error', 'failed']).toContain(done.status.state);
    await runsNextJob(t);
  });
});

describe('a process agent and hostile jobs', () => {
  let t: TestAgent;
  beforeAll(async () => {
    t = await startTestAgent({ executor: 'process' });
  });
  afterAll(() => stopTestAgent(t));

  it('a 30-day timeout does not fire at once', async () => {
    const body = createRequest(jobSpec({ command: sh('sleep 1; echo finished'), timeout: 2_592_000 }));
    expect(await createJob(t, body)).toBe(200);
    const done = await t.api.waitFor(() => t.api.completionOf(body.batch_id, 1));
    expect(done.status.state).toBe('succeeded');
  });

  it('a command or env the kernel refuses ends in Error, and the agent runs the next job', async () => {
    const body = createRequest(jobSpec({ command: ['/bin/sh', '-c', 'true\0false'], env: [{ name: 'A\0B', value: 'x' }] }));
    expect(await createJob(t, body)).toBe(200);
    const done = await t.api.waitFor(() => t.api.completionOf(body.batch_id, 1));
    expect(done.status.state).toBe('error');
    await runsNextJob(t);
  });
});
