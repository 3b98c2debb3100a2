import { mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { logKey, statusKey } from '../../storage/keys';
import { LocalDirObjectStore } from '../../storage/object-store';
import { CpuSemaphore } from '../../worker-vm/cpu-semaphore';
import { parseJobCreateRequest } from '../../worker-vm/create-request';
import { attemptExitCode, attemptOutcome, type ContainerStatus } from '../../worker-vm/status';
import { planTransfers } from '../../worker-vm/transfers';
import { copierScript } from '../../worker-vm/executors/copier-script';
import { isImageReference } from '../../domain/image-ref';
import { setLongTimeout } from '../../worker-vm/long-timer';
import { loadConfig, rootsFor } from '../../config/index';
import { confineLocation, firstStorageViolation, hostPathOf, isWithin, resolveRoots } from '../../storage/confine';
import { createRequest, jobSpec } from './helpers';
import { BLOCKED_RANGES, FORWARD_CHAIN, jobNetworkCommands, networkOf } from '../../worker-vm/job-network';

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
      cloud: [],
    });
    expect(planTransfers('output', [{ from: '/io/out', to: '/results/out' }])).toEqual({
      ok: true,
      transfers: [{ hostPath: '/results/out', ioPath: 'out' }],
      cloud: [],
    });
  });

  it('sets cloud URLs apart for the agent, parsed', () => {
    expect(
      planTransfers('input', [
        { from: 'gs://bucket-1/dir/x.txt', to: '/io/x.txt' },
        { from: '/data/y', to: '/io/y' },
        { from: 'https://acct1.blob.core.windows.net/data/in%20z', to: '/io/z' },
      ]),
    ).toEqual({
      ok: true,
      transfers: [{ hostPath: '/data/y', ioPath: 'y' }],
      cloud: [
        { url: 'gs://bucket-1/dir/x.txt', object: { cloud: 'gcp', bucket: 'bucket-1', name: 'dir/x.txt' }, ioPath: 'x.txt' },
        { url: 'https://acct1.blob.core.windows.net/data/in%20z', object: { cloud: 'azure', account: 'acct1', container: 'data', name: 'in z' }, ioPath: 'z' },
      ],
    });
  });

  it('refuses malformed cloud URLs, other schemes and paths outside /io', () => {
    expect(planTransfers('input', [{ from: 'gs://bucket/../x', to: '/io/x' }])).toMatchObject({ ok: false });
    expect(planTransfers('input', [{ from: 's3://bucket/x', to: '/io/x' }])).toMatchObject({ ok: false });
    expect(planTransfers('input', [{ from: 'gs://bucket/x', to: '/etc/x' }])).toMatchObject({ ok: false });
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

describe('image references', () => {
  it("accepts Docker's grammar and nothing else", () => {
    for (const ok of ['busybox', 'hail-batch-busybox:latest', 'library/ubuntu:24.04', 'localhost:5000/a/b_c.d:t', `x@sha256:${'a'.repeat(64)}`, 'us-docker.pkg.dev/p/r/img:1']) {
      expect(isImageReference(ok), ok).toBe(true);
    }
    for (const bad of ['../../etc/passwd', 'a b', '', 'UPPER', '/abs', 'x:', 'a//b', 'a/../b', 'x\0y', `a:${'t'.repeat(200)}`, 'a'.repeat(2000)]) {
      expect(isImageReference(bad), bad).toBe(false);
    }
  });
});

describe('long timeouts', () => {
  it('fires a short one on time and never fires a cancelled one', async () => {
    const fired: string[] = [];
    setLongTimeout(() => fired.push('short'), 20);
    const cancel = setLongTimeout(() => fired.push('cancelled'), 30);
    cancel();
    // Over Node's 2^31-1 ms limit: a plain setTimeout would fire at once.
    const cancelLong = setLongTimeout(() => fired.push('30 days'), 30 * 24 * 3600 * 1000);
    await new Promise((r) => setTimeout(r, 100));
    cancelLong();
    expect(fired).toEqual(['short']);
  });
});

describe('storage roots', () => {
  it('gives every valid project its default root plus the configured ones, and hostile names none', () => {
    const config = loadConfig({ HB_DATA_DIR: '/data', HB_STORAGE_ROOTS: 'alpha=/srv/alpha, *=/srv/shared/' });
    expect(config.storage.roots).toEqual([
      { project: 'alpha', path: '/srv/alpha' },
      { project: '*', path: '/srv/shared' },
    ]);
    expect(config.storage.rootsFor('alpha')).toEqual(['/data/storage/alpha', '/srv/alpha', '/srv/shared']);
    expect(rootsFor(config.storage, 'beta')).toEqual(['/data/storage/beta', '/srv/shared']);
    for (const hostile of ['', '..', '.', 'a/b', '../x', '*']) expect(rootsFor(config.storage, hostile)).toEqual([]);
    for (const bad of ['alpha', 'alpha=rel/path', '../x=/abs', 'a b=/x', '*=/', 'p=/tmp/..']) {
      expect(() => loadConfig({ HB_STORAGE_ROOTS: bad })).toThrow(/HB_STORAGE_ROOTS/);
    }
  });

  it('reads file:// URLs and absolute paths only, normalizing ..', () => {
    expect(hostPathOf('file:///data/in%20put.txt')).toBe('/data/in put.txt');
    expect(hostPathOf('file://localhost/data/x')).toBe('/data/x');
    expect(hostPathOf('/data/a/../../etc/shadow')).toBe('/etc/shadow');
    for (const bad of ['gs://b/x', 'relative/x', 'file://other-host/x', 'file:///a%2Fb', 'https://x/y', '/a\0b', 'C:/x']) {
      expect(hostPathOf(bad), bad).toBeNull();
    }
    expect(isWithin('/data/storage/p', '/data/storage/p')).toBe(true);
    expect(isWithin('/data/storage/p/x', '/data/storage/p')).toBe(true);
    expect(isWithin('/data/storage/p2/x', '/data/storage/p')).toBe(false);
  });

  it('follows links before checking, through the nearest existing ancestor', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hb-confine-'));
    try {
      const root = path.join(dir, 'root');
      mkdirSync(path.join(root, 'sub'), { recursive: true });
      symlinkSync('/etc', path.join(root, 'etc-link'));
      symlinkSync(path.join(root, 'sub'), path.join(root, 'inner-link'));
      symlinkSync(path.join(dir, 'nowhere'), path.join(root, 'dangling'));
      const roots = await resolveRoots([root]);
      expect(await confineLocation(`${root}/sub/new/file.txt`, roots)).toEqual({ ok: true, path: `${realpathSync(root)}/sub/new/file.txt` });
      expect(await confineLocation(`file://${root}/inner-link/x`, roots)).toEqual({ ok: true, path: `${realpathSync(root)}/sub/x` });
      expect(await confineLocation(`${root}/etc-link/shadow`, roots)).toMatchObject({ ok: false, reason: expect.stringMatching(/outside/) });
      expect(await confineLocation(`${root}/../outside.txt`, roots)).toMatchObject({ ok: false });
      expect(await confineLocation(`${root}/dangling/x`, roots)).toMatchObject({ ok: false, reason: expect.stringMatching(/points nowhere/) });
      expect(await confineLocation('/etc/shadow', roots)).toMatchObject({ ok: false });
      const jobs = [
        { input_files: [{ from: `${root}/sub/a`, to: '/io/a' }], output_files: [] },
        { input_files: [{ from: `${root}/sub/a`, to: '/io/a' }, { from: '/etc/shadow', to: '/io/s' }], output_files: [] },
      ];
      expect(await firstStorageViolation(jobs, [root])).toMatchObject({ field: 'bunch[1].input_files[1].from' });
      expect(await firstStorageViolation([{ input_files: [], output_files: [{ from: '/io/x', to: '/tmp/x/owned.txt' }] }], [root])).toMatchObject({
        field: 'bunch[0].output_files[0].to',
      });
      expect(await firstStorageViolation(jobs.slice(0, 1), [root])).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('copier script', () => {
  it('mounts each input alone, read-only, and each output through its parent; nothing else', () => {
    const { mounts, script } = copierScript('input', [
      { hostPath: '/etc', ioPath: 'missing-is-fine' },
      { hostPath: '/no/such/input', ioPath: 'x' },
    ]);
    expect(mounts).toEqual([{ Type: 'bind', Source: '/etc', Target: '/hail-in/0', ReadOnly: true }]);
    expect(script).toMatch(/No such file or directory/);
    const out = copierScript('output', [
      { hostPath: '/data/storage/p/a/one.txt', ioPath: 'one' },
      { hostPath: '/data/storage/p/a/two.txt', ioPath: 'two' },
      { hostPath: "/data/storage/p/b/it's.txt", ioPath: 'three' },
    ]);
    expect(out.mounts).toEqual([
      { Type: 'bind', Source: '/data/storage/p/a', Target: '/hail-out/0', ReadOnly: false },
      { Type: 'bind', Source: '/data/storage/p/b', Target: '/hail-out/1', ReadOnly: false },
    ]);
    expect(out.mounts.map((m) => m.Source)).not.toContain('/');
    expect(out.script).toContain(`cp -R '/io/three' '/hail-out/1/it'\\''s.txt'`);
  });
});

describe('the jobs network rules', () => {
  it('rebuilds its chains in order: replies first, then every blocked range, this LAN included', () => {
    const cmds = jobNetworkCommands('hb-jobs0', [networkOf('192.0.2.2/24'), networkOf('10.1.2.3/8')]);
    const out = cmds.filter((c) => c[0] === '-A' && c[1] === FORWARD_CHAIN).map((c) => c.slice(2).join(' '));
    expect(out[0]).toBe('-m conntrack --ctstate ESTABLISHED,RELATED -j RETURN');
    expect(out.slice(1)).toEqual([...BLOCKED_RANGES, '192.0.2.0/24'].map((r) => `-d ${r} -j DROP`));
    // The chains are emptied before they are filled, so a restart never leaves a stale order.
    expect(cmds.findIndex((c) => c[0] === '-F' && c[1] === FORWARD_CHAIN)).toBeLessThan(cmds.findIndex((c) => c[0] === '-A' && c[1] === FORWARD_CHAIN));
    // Every jump is checked before it is inserted: never twice.
    for (const [i, c] of cmds.entries()) if (c[0] === '-I') expect(cmds[i - 1]![0]).toBe('-C');
    expect(networkOf('172.31.255.7/20')).toBe('172.31.240.0/20');
    expect(networkOf('8.8.8.8/32')).toBe('8.8.8.8/32');
  });
});
