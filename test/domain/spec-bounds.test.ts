/**
 * Every field is bounded by what PostgreSQL and the runtime can hold: strings without NUL or
 * lone surrogates, integers within int4, timeouts finite and up to a year, and user-named
 * places (images, regions, callbacks, mounts, env names) in their own grammars.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_POOLS } from '../../domain/pools';
import { INT4_MAX, MAX_TIMEOUT_SECONDS, unstorableText } from '../../domain/limits';
import { parseBatchSpec, parseJobBunch, parseUpdateSpec, type BunchContext } from '../../domain/spec';
import { parseHttpUrl } from '../../domain/urls';
import { parseBucketName, parseIoPath, parseMountPath } from '../../domain/mounts';
import { readStringMap } from '../../domain/wire';
import { specError } from './spec-error';

const ctx: BunchContext = { startJobId: 1, nJobsInUpdate: 10, pools: DEFAULT_POOLS, user: 'alice', regions: ['local'] };
const docker = { type: 'docker', image: 'ubuntu:24.04', command: ['true'] };
const one = (extra: Record<string, unknown>, c: Partial<BunchContext> = {}) =>
  parseJobBunch([{ job_id: 1, process: docker, ...extra }], { ...ctx, ...c })[0]!;
const batch = (extra: Record<string, unknown>) => parseBatchSpec({ billing_project: 'test', n_jobs: 1, token: 't', ...extra });

const NUL = 'a\u0000b';
const LONE_HIGH = 'a\uD800b';
const LONE_LOW = '\uDC00';

describe('unstorableText', () => {
  it('accepts ordinary text, including paired surrogates', () => {
    expect(unstorableText('plain')).toBeNull();
    expect(unstorableText('emoji \u{1F600} and ünïcode')).toBeNull();
  });

  it('names NUL and unpaired surrogates', () => {
    expect(unstorableText(NUL)).toMatch(/NUL/);
    expect(unstorableText(LONE_HIGH)).toMatch(/surrogate/);
    expect(unstorableText(LONE_LOW)).toMatch(/surrogate/);
    expect(unstorableText('\uDC00\uD800')).toMatch(/surrogate/);
    expect(unstorableText('\uD83D')).toMatch(/surrogate/);
  });
});

describe('strings that PostgreSQL cannot store', () => {
  it.each([
    ['an attribute value', { attributes: { name: NUL } }, 'bunch[0].attributes.name'],
    ['an attribute key', { attributes: { [NUL]: 'x' } }, 'bunch[0].attributes'],
    ['an attribute key with a lone surrogate', { attributes: { [LONE_HIGH]: 'x' } }, 'bunch[0].attributes'],
    ['a command word', { process: { ...docker, command: ['echo', LONE_LOW] } }, 'bunch[0].process.command[1]'],
    ['an image', { process: { ...docker, image: `ubuntu${NUL}` } }, 'bunch[0].process.image'],
    ['an env value', { env: [{ name: 'A', value: NUL }] }, 'bunch[0].env[0].value'],
    ['an input file', { input_files: [{ from: NUL, to: '/io/x' }] }, 'bunch[0].input_files[0].from'],
    ['user code', { user_code: LONE_HIGH }, 'bunch[0].user_code'],
    ['a requester pays project', { requester_pays_project: NUL }, 'bunch[0].requester_pays_project'],
    ['a machine type', { resources: { machine_type: NUL } }, 'bunch[0].resources.machine_type'],
    ['a region', { regions: [NUL] }, 'bunch[0].regions[0]'],
  ])('are refused in %s', (_what, extra, field) => {
    const e = specError(() => one(extra));
    expect(e.field).toBe(field);
    expect(e.detail).toMatch(/NUL|surrogate/);
  });

  it('are refused in the batch spec', () => {
    expect(specError(() => batch({ token: NUL })).field).toBe('token');
    expect(specError(() => batch({ attributes: { k: LONE_HIGH } })).field).toBe('attributes.k');
    expect(specError(() => batch({ attributes: { [NUL]: 'v' } })).field).toBe('attributes');
    expect(specError(() => batch({ billing_project: NUL })).field).toBe('billing_project');
    expect(specError(() => parseUpdateSpec({ token: LONE_LOW, n_jobs: 1 })).field).toBe('token');
  });

  it('keep a __proto__ key an ordinary key', () => {
    const map = readStringMap(JSON.parse('{"__proto__": "x"}'), 'attributes');
    expect(Object.keys(map)).toEqual(['__proto__']);
  });

  it('are bounded in length', () => {
    expect(specError(() => batch({ token: 't'.repeat(1025) })).detail).toMatch(/at most 1024 characters/);
    expect(specError(() => batch({ attributes: { ['k'.repeat(1025)]: 'v' } })).field).toBe('attributes');
    expect(specError(() => one({ process: { ...docker, command: ['x'.repeat(1024 * 1024 + 1)] } })).field).toBe(
      'bunch[0].process.command[0]',
    );
  });
});

describe('integers are bounded by their int4 columns', () => {
  it.each([
    ['n_jobs', { n_jobs: INT4_MAX + 1 }],
    ['n_job_groups', { n_job_groups: INT4_MAX + 1 }],
    ['cancel_after_n_failures', { cancel_after_n_failures: 2 ** 53 - 1 }],
  ])('in the batch spec: %s', (field, extra) => {
    const e = specError(() => batch(extra));
    expect(e.field).toBe(field);
    expect(e.detail).toBe(`must be at most ${INT4_MAX}, found ${Object.values(extra)[0]}`);
  });

  it('accept the largest int4', () => {
    expect(batch({ n_jobs: INT4_MAX }).n_jobs).toBe(INT4_MAX);
    expect(one({ n_max_attempts: INT4_MAX }).n_max_attempts).toBe(INT4_MAX);
  });

  it('in the update spec', () => {
    expect(specError(() => parseUpdateSpec({ token: 't', n_jobs: 2147483648 })).field).toBe('n_jobs');
    expect(specError(() => parseUpdateSpec({ token: 't', n_jobs: 1, n_job_groups: 2 ** 40 })).field).toBe('n_job_groups');
  });

  it.each([
    ['n_max_attempts', { n_max_attempts: 2 ** 53 - 1 }, 'bunch[0].n_max_attempts'],
    ['absolute_job_group_id', { absolute_job_group_id: 2 ** 31 }, 'bunch[0].absolute_job_group_id'],
    ['in_update_job_group_id', { in_update_job_group_id: 2 ** 31 }, 'bunch[0].in_update_job_group_id'],
    ['job_id', { job_id: 2 ** 53 }, 'bunch[0].job_id'],
    ['absolute_parent_ids', { absolute_parent_ids: [99999999999] }, 'bunch[0].absolute_parent_ids[0]'],
    ['port', { port: 2 ** 31 }, 'bunch[0].port'],
  ])('in a job: %s', (_what, extra, field) => {
    expect(specError(() => one(extra)).field).toBe(field);
  });

  it('so an update cannot take job ids past the largest int4', () => {
    const e = specError(() => parseJobBunch([], { ...ctx, startJobId: INT4_MAX, nJobsInUpdate: 2 }));
    expect(e.field).toBe('n_jobs');
    expect(e.detail).toMatch(/past the largest job id 2147483647/);
    expect(parseJobBunch([], { ...ctx, startJobId: INT4_MAX, nJobsInUpdate: 1 })).toEqual([]);
  });
});

describe('timeout', () => {
  it('accepts any length up to 366 days, including past the 24.8 days of one Node timer', () => {
    expect(one({ timeout: 0.001 }).timeout).toBe(0.001);
    expect(one({ timeout: 30 * 24 * 3600 }).timeout).toBe(30 * 24 * 3600);
    expect(one({ timeout: MAX_TIMEOUT_SECONDS }).timeout).toBe(MAX_TIMEOUT_SECONDS);
  });

  it('refuses more than 366 days', () => {
    const e = specError(() => one({ timeout: MAX_TIMEOUT_SECONDS + 1 }));
    expect(e.field).toBe('bunch[0].timeout');
    expect(e.detail).toMatch(/at most 31622400 seconds/);
    expect(specError(() => one({ timeout: 1e308 })).field).toBe('bunch[0].timeout');
  });
});

describe('env names', () => {
  it('follow POSIX', () => {
    expect(one({ env: [{ name: '_A1_b', value: 'x' }] }).env).toEqual([{ name: '_A1_b', value: 'x' }]);
  });

  it.each(['1A', 'A=B', 'A B', 'A-B', 'Ä', 'A\nB', 'PATH;rm'])('refuses %j', (name) => {
    const e = specError(() => one({ env: [{ name, value: 'x' }] }));
    expect(e.field).toBe('bunch[0].env[0].name');
    expect(e.detail).toMatch(/invalid environment variable name/);
  });
});

describe('regions', () => {
  it('are checked against the supported regions and the message names them', () => {
    expect(one({ regions: ['local'] }).regions).toEqual(['local']);
    const e = specError(() => one({ regions: ['mars'] }, { regions: ['local', 'us-central1'] }));
    expect(e.field).toBe('bunch[0].regions');
    expect(e.detail).toBe('unknown regions mars; choose from local, us-central1');
  });

  it('are fewer than 64', () => {
    const e = specError(() => one({ regions: Array.from({ length: 64 }, () => 'local') }));
    expect(e.detail).toMatch(/fewer than 64 regions/);
  });
});

describe('callback', () => {
  it('accepts http and https URLs', () => {
    expect(batch({ callback: 'http://example.com:8080/cb?x=1' }).callback).toBe('http://example.com:8080/cb?x=1');
    expect(parseHttpUrl('https://127.0.0.1/done', 'callback')).toBe('https://127.0.0.1/done');
  });

  it.each([
    ['file:///etc/passwd', /unsupported URL scheme 'file'/],
    ['gopher://evil:70/_x', /unsupported URL scheme 'gopher'/],
    ['javascript:alert(1)', /unsupported URL scheme 'javascript'/],
    ['ftp://x/y', /scheme 'ftp'/],
    ['/relative/path', /not an absolute URL/],
    ['example.com/cb', /not an absolute URL/],
    ['http://', /not an absolute URL/],
    [`https://example.com/${'x'.repeat(5000)}`, /at most 4096 characters/],
  ])('refuses %s', (callback, message) => {
    const e = specError(() => batch({ callback }));
    expect(e.field).toBe('callback');
    expect(e.detail).toMatch(message);
  });

  it('names the callback inside create-fast', () => {
    expect(specError(() => parseBatchSpec({ billing_project: 'b', n_jobs: 0, token: 't', callback: 'file:///x' }, 'batch')).field).toBe(
      'batch.callback',
    );
  });
});

describe('billing_project in the batch spec', () => {
  it('follows the project name grammar', () => {
    expect(specError(() => batch({ billing_project: '../x' })).field).toBe('billing_project');
    expect(specError(() => batch({ billing_project: 'a b' })).detail).toMatch(/not a valid billing project name/);
  });
});

describe('mounts', () => {
  it('accept plain absolute paths', () => {
    expect(parseMountPath('/data', 'f')).toBe('/data');
    expect(parseMountPath('/mnt/bucket/', 'f')).toBe('/mnt/bucket/');
    expect(parseMountPath('/iodata', 'f')).toBe('/iodata');
  });

  it.each([
    ['data', /absolute path/],
    ['/', /root of the container/],
    ['/io', /\/io holds/],
    ['/io/', /\/io holds/],
    ['/io/sub', /\/io holds/],
    ['/mnt/../io', /normalized path/],
    ['/mnt/./x', /normalized path/],
    ['//io', /normalized path/],
    ['/a//b', /normalized path/],
    ['/..', /normalized path/],
  ])('refuse %j', (p, message) => {
    const e = specError(() => one({ cloudfuse: [{ bucket: 'my-bucket', mount_path: p, read_only: true }] }));
    expect(e.field).toBe('bunch[0].cloudfuse[0].mount_path');
    expect(e.detail).toMatch(message);
  });

  it('apply to secrets too', () => {
    const secret = { namespace: 'default', name: 'creds', mount_path: '/../etc' };
    expect(specError(() => one({ secrets: [secret] }, { user: 'ci' })).field).toBe('bunch[0].secrets[0].mount_path');
  });

  it('take bucket names in the bucket grammar', () => {
    for (const name of ['my-bucket', 'a_b', 'abc', 'my.bucket.example.com', 'account1/container-1']) {
      expect(parseBucketName(name, 'f')).toBe(name);
    }
    for (const name of ['ab', 'My-Bucket', '-abc', 'abc-', 'a..b', '../x', 'a b', 'x'.repeat(64), 'gs://b', 'acc/Container']) {
      expect(specError(() => parseBucketName(name, 'bunch[0].cloudfuse[0].bucket')).field).toBe('bunch[0].cloudfuse[0].bucket');
    }
  });
});

describe('file transfers', () => {
  it('keep the container side under /io', () => {
    expect(one({ input_files: [{ from: 'gs://b/in', to: '/io/in' }] }).input_files).toEqual([{ from: 'gs://b/in', to: '/io/in' }]);
    expect(parseIoPath('/io/a/b.txt', 'f')).toBe('/io/a/b.txt');
    expect(parseIoPath('/io/batch/inputs/dir/', 'f')).toBe('/io/batch/inputs/dir/');
  });

  it.each([
    [{ input_files: [{ from: 'gs://b/in', to: '/etc/passwd' }] }, 'bunch[0].input_files[0].to', /under \/io/],
    [{ input_files: [{ from: 'gs://b/in', to: '/io/../etc/passwd' }] }, 'bunch[0].input_files[0].to', /normalized/],
    [{ input_files: [{ from: 'gs://b/in', to: '/io/' }] }, 'bunch[0].input_files[0].to', /under \/io/],
    [{ output_files: [{ from: 'io/out', to: 'gs://b/out' }] }, 'bunch[0].output_files[0].from', /absolute/],
    [{ output_files: [{ from: '/io/out', to: 'x'.repeat(5000) }] }, 'bunch[0].output_files[0].to', /at most 4096/],
  ])('refuse %j', (extra, field, message) => {
    const e = specError(() => one(extra));
    expect(e.field).toBe(field);
    expect(e.detail).toMatch(message);
  });
});
