import { describe, expect, it } from 'vitest';
import { executorConformance } from './conformance';
import { createJob, createRequest, getLog, jobSpec, startTestAgent, stopTestAgent } from './helpers';

executorConformance('process', {
  more: (agent) => {
    it('runs the command in the io dir and says where it is in HAIL_IO_DIR', async () => {
      const t = agent();
      const body = createRequest(jobSpec({ command: ['/bin/sh', '-c', 'echo "$HAIL_IO_DIR"; pwd'] }));
      expect(await createJob(t, body)).toBe(200);
      await t.api.waitFor(() => t.api.completionOf(body.batch_id, 1));
      const [ioDir, cwd] = (await getLog(t, body.batch_id, 1, 'main')).text.trim().split('\n');
      expect(ioDir).toMatch(new RegExp(`/${body.batch_id}-1-${body.attempt_id}/volume/io$`));
      expect(cwd).toBe(ioDir);
    });

    it('fails a command that is not executable with exit code 126, as a shell would', async () => {
      const t = agent();
      const body = createRequest(jobSpec({ command: ['/etc/passwd'] }));
      expect(await createJob(t, body)).toBe(200);
      const done = await t.api.waitFor(() => t.api.completionOf(body.batch_id, 1));
      expect(done.status).toMatchObject({ state: 'failed', exit_code: 126 });
      expect(done.status.status.container_statuses.main.error).toBeUndefined();
      expect((await getLog(t, body.batch_id, 1, 'main')).text).toContain('permission denied');
    });
  },
});

describe('driver reports', () => {
  it('retries activation and job_complete until the API takes them', async () => {
    const t = await startTestAgent({ executor: 'process', failFirst: { activate: [500], job_complete: [503, 502, 429] } });
    try {
      expect(await t.agent.activated).toBe(true);
      const body = createRequest(jobSpec({ command: ['true'] }));
      expect(await createJob(t, body)).toBe(200);
      const done = await t.api.waitFor(() => t.api.completionOf(body.batch_id, 1));
      expect(done.status.state).toBe('succeeded');
      expect(t.api.rejected.map((c) => c.route)).toEqual(['activate', 'job_complete', 'job_complete', 'job_complete']);
    } finally {
      await stopTestAgent(t);
    }
    expect(t.api.of('deactivate')).toHaveLength(1);
  });

  it('gives up on job_complete after a definitive 4xx', async () => {
    const t = await startTestAgent({ executor: 'process', failFirst: { job_complete: [400] } });
    try {
      const body = createRequest(jobSpec({ command: ['true'] }));
      expect(await createJob(t, body)).toBe(200);
      await t.api.waitFor(() => t.api.rejected.some((c) => c.route === 'job_complete'));
      await t.agent.attempts.idle();
      expect(t.api.completions()).toHaveLength(0);
    } finally {
      await stopTestAgent(t);
    }
  });

  it('answers 503 to new jobs once stopping', async () => {
    const t = await startTestAgent({ executor: 'process' });
    const body = createRequest(jobSpec({ command: ['sleep', '60'] }));
    expect(await createJob(t, body)).toBe(200);
    await t.api.waitFor(() => t.api.of('job_started')[0]);
    const stopping = t.agent.stop();
    // The server closes once stop() finishes, so ask while the kill is under way.
    const status = await createJob(t, createRequest(jobSpec({ command: ['true'] }))).catch(() => 503);
    expect(status).toBe(503);
    await stopping;
    await stopTestAgent(t);
    expect(t.api.completions()).toHaveLength(0);
    expect(t.api.of('deactivate')).toHaveLength(1);
  });
});
