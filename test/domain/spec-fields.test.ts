import { describe, it, expect } from 'vitest';
import { DEFAULT_POOLS } from '../../domain/pools';
import { parseJobBunch, type BunchContext } from '../../domain/spec';
import { specError } from './spec-error';

const ctx: BunchContext = { startJobId: 1, nJobsInUpdate: 10, pools: DEFAULT_POOLS, user: 'alice', regions: ['us-central1', 'us-east1'] };
const docker = { type: 'docker', image: 'ubuntu:24.04', command: ['true'] };

function one(extra: Record<string, unknown>, c: Partial<BunchContext> = {}) {
  const [spec] = parseJobBunch([{ job_id: 1, process: docker, ...extra }], { ...ctx, ...c });
  if (!spec) throw new Error('no spec');
  return spec;
}


describe('unknown keys', () => {
  it('are rejected naming the key and the job', () => {
    const bunch = [{ job_id: 1, process: docker }, { job_id: 2, process: docker, colour: 'red' }];
    const e = specError(() => parseJobBunch(bunch, ctx));
    expect(e.field).toBe('bunch[1].colour');
    expect(e.message).toMatch(/^bunch\[1\]\.colour: unknown key 'colour'; allowed keys are job_id, process/);
  });

  it('are rejected inside nested objects too', () => {
    expect(specError(() => one({ env: [{ name: 'A', value: 'b', secret: true }] })).field).toBe('bunch[0].env[0].secret');
    expect(specError(() => one({ input_files: [{ from: 'a', to: 'b', mode: 1 }] })).field).toBe(
      'bunch[0].input_files[0].mode',
    );
  });

  it('include the deprecated top-level image and command', () => {
    expect(specError(() => one({ image: 'ubuntu' })).field).toBe('bunch[0].image');
  });
});

describe('plain fields', () => {
  it('are carried over', () => {
    const spec = one({
      always_run: true,
      always_copy_output: false,
      n_max_attempts: 3,
      timeout: 2.5,
      env: [{ name: 'A', value: '1' }],
      attributes: { name: 'step-1', shard: '7' },
      input_files: [{ from: 'gs://b/in', to: '/io/in' }],
      output_files: [{ from: '/io/out', to: 'gs://b/out' }],
      port: 8080,
      regions: ['us-central1'],
    });
    expect(spec).toMatchObject({
      always_run: true,
      always_copy_output: false,
      n_max_attempts: 3,
      timeout: 2.5,
      env: [{ name: 'A', value: '1' }],
      attributes: { name: 'step-1', shard: '7' },
      input_files: [{ from: 'gs://b/in', to: '/io/in' }],
      output_files: [{ from: '/io/out', to: 'gs://b/out' }],
      port: 8080,
      regions: ['us-central1'],
    });
  });

  it.each([
    [{ timeout: 0 }, 'bunch[0].timeout', /> 0/],
    [{ timeout: -5 }, 'bunch[0].timeout', /> 0/],
    [{ timeout: '10' }, 'bunch[0].timeout', /expected a number/],
    [{ n_max_attempts: 0 }, 'bunch[0].n_max_attempts', /at least 1/],
    [{ always_run: 'yes' }, 'bunch[0].always_run', /expected true or false/],
    [{ env: [{ name: '', value: 'x' }] }, 'bunch[0].env[0].name', /must not be empty/],
    [{ env: [{ name: 'A' }] }, 'bunch[0].env[0].value', /required/],
    [{ env: { A: '1' } }, 'bunch[0].env', /expected a list/],
    [{ attributes: { name: 5 } }, 'bunch[0].attributes.name', /found number .*, which is not <class 'str'>/],
    [{ input_files: [{ from: 'a' }] }, 'bunch[0].input_files[0].to', /required/],
    [{ output_files: [['a', 'b']] }, 'bunch[0].output_files[0]', /expected an object/],
    [{ port: 0 }, 'bunch[0].port', /at least 1/],
    [{ port: 70000 }, 'bunch[0].port', /at most 65535/],
    [{ regions: [] }, 'bunch[0].regions', /must not be an empty list/],
    [{ regions: 'us-central1' }, 'bunch[0].regions', /expected a list/],
    [{ requester_pays_project: '' }, 'bunch[0].requester_pays_project', /must not be empty/],
    [{ mount_tokens: 1 }, 'bunch[0].mount_tokens', /expected true or false/],
  ])('rejects %j', (extra, field, message) => {
    const e = specError(() => one(extra));
    expect(e.field).toBe(field);
    expect(e.message.startsWith(`${field}: `)).toBe(true);
    expect(e.message).toMatch(message);
  });

  it('checks regions against the known ones when given', () => {
    expect(one({ regions: ['us-east1'] }, { regions: ['us-central1', 'us-east1'] }).regions).toEqual(['us-east1']);
    expect(specError(() => one({ regions: ['mars-1'] }, { regions: ['us-central1'] })).message).toBe(
      'bunch[0].regions: unknown regions mars-1; choose from us-central1',
    );
  });

  it('keeps the optional extras only when given', () => {
    const plain = one({});
    expect('cloudfuse' in plain || 'network' in plain || 'secrets' in plain).toBe(false);
    expect(one({ requester_pays_project: 'proj', user_code: 'print(1)', mount_tokens: true })).toMatchObject({
      requester_pays_project: 'proj',
      user_code: 'print(1)',
      mount_tokens: true,
    });
  });
});

describe('cloudfuse', () => {
  const mount = { bucket: 'my-bucket', mount_path: '/data', read_only: true };

  it('accepts read-only mounts under either name', () => {
    expect(one({ cloudfuse: [mount] }).cloudfuse).toEqual([mount]);
    expect(one({ gcsfuse: [mount] }).cloudfuse).toEqual([mount]);
  });

  it('rejects writable mounts, /io, and both names at once', () => {
    expect(specError(() => one({ cloudfuse: [{ ...mount, read_only: false }] })).message).toBe(
      'bunch[0].cloudfuse[0].read_only: only read-only cloudfuse mounts are supported',
    );
    expect(specError(() => one({ cloudfuse: [{ ...mount, mount_path: '/io' }] })).field).toBe(
      'bunch[0].cloudfuse[0].mount_path',
    );
    expect(specError(() => one({ gcsfuse: [{ ...mount, mount_path: '/io/' }] })).field).toBe(
      'bunch[0].gcsfuse[0].mount_path',
    );
    expect(specError(() => one({ cloudfuse: [mount], gcsfuse: [mount] })).field).toBe('bunch[0].gcsfuse');
    expect(specError(() => one({ cloudfuse: [{ bucket: 'b', mount_path: '/d' }] })).field).toBe(
      'bunch[0].cloudfuse[0].read_only',
    );
    expect(specError(() => one({ cloudfuse: [{ ...mount, bucket: '' }] })).field).toBe('bunch[0].cloudfuse[0].bucket');
  });
});

describe('privileged fields', () => {
  const secret = { namespace: 'default', name: 'creds', mount_path: '/secrets' };
  const sa = { namespace: 'default', name: 'ci-agent' };

  it('are allowed for ci', () => {
    expect(
      one({ secrets: [secret], service_account: sa, unconfined: true, network: 'private' }, { user: 'ci' }),
    ).toMatchObject({ secrets: [secret], service_account: sa, unconfined: true, network: 'private' });
  });

  it.each([
    [{ secrets: [secret] }, 'bunch[0].secrets', `unauthorized secret (${secret.namespace}, ${secret.name}) for user 'alice'`],
    [{ service_account: sa }, 'bunch[0].service_account', `unauthorized service account (${sa.namespace}, ${sa.name}) for user 'alice'`],
    [{ unconfined: true }, 'bunch[0].unconfined', "unauthorized use of unconfined=True for user 'alice'"],
    [{ network: 'private' }, 'bunch[0].network', "unauthorized network private for user 'alice'"],
  ])('are refused for other users with Hail\'s texts: %j', (extra, field, text) => {
    const e = specError(() => one(extra));
    expect(e.field).toBe(field);
    expect(e.message).toBe(`${field}: ${text}: only the ci user may use it`);
  });

  it('allow their harmless values for everyone', () => {
    expect(one({ secrets: [], unconfined: false, network: 'public' })).toMatchObject({
      secrets: [],
      unconfined: false,
      network: 'public',
    });
  });

  it('still validate their shape', () => {
    expect(specError(() => one({ network: 'host' }, { user: 'ci' })).message).toContain("invalid network 'host'");
    expect(specError(() => one({ secrets: [{ name: 'x' }] }, { user: 'ci' })).field).toBe('bunch[0].secrets[0].namespace');
  });
});
