import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { logKey, statusKey } from '../../storage/keys';
import { LocalDirObjectStore } from '../../storage/object-store';
import { CpuSemaphore } from '../../worker-vm/cpu-semaphore';
import { parseJobCreateRequest } from '../../worker-vm/create-request';
import { attemptExitCode, attemptOutcome, type ContainerStatus } from '../../worker-vm/status';
import { planTransfers } from '../../worker-vm/transfers';
import { createRequest, jobSpec } from './helpers';

describe('LocalDirObjectStore', () => {
  const dirs: string[] = [];
  const store = () => new LocalDirObjectStore(dirs[dirs.push(mkdtempSync(path.join(tmpdir(), 'hb-store-'))) - 1]!);
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('round-trips bytes and strings, overwrites, and answers null for unknown keys', async () => {
    const s = store();
    await s.put('a/b/c', 'hello');
    expect((await s.get('a/b/c'))?.toString()).toBe('hello');
    await s.put('a/b/c', Buffer.from([0, 1, 2]));
    expect([...((await s.get('a/b/c')) ?? [])]).toEqual([0, 1, 2]);
    expect(await s.get('a/b/missing')).toBeNull();
    expect(await s.get('a/b')).toBeNull();
  });

  it('leaves no temporary files behind and keeps concurrent writers whole', async () => {
    const s = store();
    const big = (ch: string) => ch.repeat(1 << 20);
    await Promise.all(['x', 'y', 'z'].map((ch) => s.put('k/obj', big(ch))));
    const got = (await s.get('k/obj'))!.toString();
    expect([big('x'), big('y'), big('z')]).toContain(got);
    expect(readdirSync(path.join(s.rootDir, 'k'))).toEqual(['obj']);
  });

  it('refuses keys that would escape its directory', async () => {
    const s = store();
    for (const key of ['', '../x', 'a/../../x', '/abs', 'a//b', 'a/./b']) {
      await expect(s.put(key, 'x')).rejects.toThrow(/invalid object key/);
    }
  });
});

describe('object keys', () => {
  it("follows Hail's log layout", () => {
    const a = { instance: 'batch-worker-default-standard-abcde', batchId: 12, jobId: 3, attemptId: 'Xy12ab' };
    expect(logKey({ ...a, container: 'main' })).toBe('batch/logs/batch-worker-default-standard-abcde/batch/12/3/Xy12ab/main/log');
    expect(statusKey(a)).toBe('batch/logs/batch-worker-default-standard-abcde/batch/12/3/Xy12ab/status.json');
  });
});

describe('CpuSemaphore', () => {
  it('serves waiters first come, first served, and releases once', async () => {
    const sem = new CpuSemaphore(2000);
    const never = new AbortController().signal;
    const r1 = await sem.acquire(1500, never);
    const order: string[] = [];
    const big = sem.acquire(2000, never).then((r) => (order.push('big'), r));
    const small = sem.acquire(250, never).then((r) => (order.push('small'), r));
    await Promise.resolve();
    expect(order).toEqual([]); // small fits but must not overtake big
    r1!();
    r1!();
    (await big)!();
    (await small)!();
    expect(order).toEqual(['big', 'small']);
    expect(sem.freeMcpu).toBe(2000);
  });

  it('gives up on abort and clamps requests to the total', async () => {
    const sem = new CpuSemaphore(1000);
    const hold = await sem.acquire(5000, new AbortController().signal);
    expect(sem.freeMcpu).toBe(0);
    const ac = new AbortController();
    const waiting = sem.acquire(500, ac.signal);
    ac.abort();
    expect(await waiting).toBeNull();
    hold!();
    expect(sem.freeMcpu).toBe(1000);
  });
});

describe('transfers', () => {
  it('maps file:// URLs and absolute paths to host paths and /io-relative paths', () => {
    expect(planTransfers('input', [{ from: 'file:///data/in%20put.txt', to: '/io/a/b.txt' }])).toEqual({
      ok: true,
      transfers: [{ hostPath: '/data/in put.txt', ioPath: 'a/b.txt' }],
    });
    expect(planTransfers('output', [{ from: '/io/out', to: '/results/out' }])).toEqual({
      ok: true,
      transfers: [{ hostPath: '/results/out', ioPath: 'out' }],
    });
  });

  it('refuses cloud URLs and paths outside /io', () => {
    expect(planTransfers('input', [{ from: 'gs://bucket/x', to: '/io/x' }])).toMatchObject({ ok: false });
    expect(planTransfers('input', [{ from: '/x', to: '/tmp/x' }])).toMatchObject({ ok: false });
    expect(planTransfers('output', [{ from: '/io/../etc/passwd', to: '/x' }])).toMatchObject({ ok: false });
  });
});

describe('status helpers', () => {
  const c = (name: ContainerStatus['name'], state: ContainerStatus['state'], exit: number | null): ContainerStatus => ({
    name,
    state,
    timing: {},
    container_status: { exit_code: exit, out_of_memory: false },
  });

  it('ranks error over failed over succeeded', () => {
    expect(attemptOutcome([c('input', 'succeeded', 0), c('main', 'succeeded', 0)])).toBe('succeeded');
    expect(attemptOutcome([c('main', 'failed', 1), c('output', 'succeeded', 0)])).toBe('failed');
    expect(attemptOutcome([c('main', 'failed', 1), c('output', 'error', null)])).toBe('error');
  });

  it("takes the first non-zero exit code, else main's", () => {
    expect(attemptExitCode({ main: c('main', 'succeeded', 0), output: c('output', 'failed', 2) })).toBe(2);
    expect(attemptExitCode({ input: c('input', 'failed', 1) })).toBe(1);
    expect(attemptExitCode({ main: c('main', 'succeeded', 0) })).toBe(0);
    expect(attemptExitCode({ main: c('main', 'error', null) })).toBeNull();
  });
});

describe('create request', () => {
  it('accepts a normalized job spec and rejects a malformed body', () => {
    expect(parseJobCreateRequest(createRequest(jobSpec({ command: ['true'] })))).toMatchObject({ ok: true });
    const bad = parseJobCreateRequest({ ...createRequest(jobSpec({ command: [] })), attempt_id: '../x' });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error).toMatch(/attempt_id|command/);
  });
});
