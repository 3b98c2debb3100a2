import { describe, expect, it } from 'vitest';
import {
  decodeResourceUsage,
  encodeResourceUsageSample,
  resourceUsageFrame,
  resourceUsageHeader,
  RESOURCE_USAGE_COLUMNS,
  type ResourceUsageSample,
} from '../../domain/resource-usage';
import { resourceUsageKey } from '../../storage/keys';
import { commandNotExecutable, pullFailure, timeoutError } from '../../worker-vm/executors/errors';
import { attemptExitCode, type ContainerStatus } from '../../worker-vm/status';

const sample = (t: number, cpu: number): ResourceUsageSample => ({
  time_msecs: t,
  memory_in_bytes: 123_456_789,
  cpu_usage: cpu,
  non_io_storage_in_bytes: 4096,
  io_storage_in_bytes: 2 ** 40,
  network_bandwidth_upload_in_bytes_per_second: 0,
  network_bandwidth_download_in_bytes_per_second: 1.5,
});

describe('resource usage file', () => {
  it("is Hail's version 2 layout: a big-endian version, then 56-byte '>2qd2q2d' records", () => {
    const header = resourceUsageHeader();
    expect([...header]).toEqual([0, 0, 0, 0, 0, 0, 0, 2]);
    const rec = encodeResourceUsageSample(sample(1_700_000_000_123, 0.75));
    expect(rec.length).toBe(56);
    expect(rec.readBigInt64BE(0)).toBe(1_700_000_000_123n);
    expect(rec.readDoubleBE(16)).toBe(0.75);
    expect(rec.readBigInt64BE(32)).toBe(2n ** 40n);
  });

  it('decodes what it encodes, drops a torn last record, and refuses foreign data', () => {
    const samples = [sample(1000, 0.5), sample(2000, 1.25)];
    const file = Buffer.concat([resourceUsageHeader(), ...samples.map(encodeResourceUsageSample)]);
    expect(decodeResourceUsage(file)).toEqual(samples);
    expect(decodeResourceUsage(file.subarray(0, file.length - 3))).toEqual(samples.slice(0, 1));
    expect(decodeResourceUsage(resourceUsageHeader())).toEqual([]);
    expect(decodeResourceUsage(Buffer.alloc(0))).toBeNull();
    expect(decodeResourceUsage(Buffer.from('garbage!garbage!'))).toBeNull();
  });

  it("becomes the 'split' frame Hail's front end returns", () => {
    const frame = resourceUsageFrame([sample(1000, 0.5), sample(2000, 1)]);
    expect(frame.columns).toEqual([...RESOURCE_USAGE_COLUMNS]);
    expect(frame.index).toEqual([0, 1]);
    expect(frame.data[1]).toEqual([2000, 123_456_789, 1, 4096, 2 ** 40, 0, 1.5]);
    expect(resourceUsageFrame([])).toEqual({ columns: [...RESOURCE_USAGE_COLUMNS], index: [], data: [] });
  });

  it('is stored beside the container log', () => {
    expect(resourceUsageKey({ instance: 'w1', batchId: 3, jobId: 4, attemptId: 'abc', container: 'main' })).toBe(
      'batch/logs/w1/batch/3/4/abc/main/resource_usage',
    );
  });
});

describe("Hail's error texts", () => {
  it('names a timeout ContainerTimeoutError', () => {
    expect(timeoutError(5000)).toEqual({ error: 'ContainerTimeoutError: timed out after 5s', shortError: 'timed out' });
    expect(timeoutError(1500).error).toBe('ContainerTimeoutError: timed out after 1.500s');
  });

  it('tells a missing image from one that cannot be pulled', () => {
    const offline = 'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io on 10.0.0.53:53: no such host';
    expect(pullFailure('x:1', offline)).toMatchObject({ shortError: 'image not found' });
    expect(pullFailure('x:1', offline).error).toMatch(/^ImageNotFound: pulling x:1: Get/);
    expect(pullFailure('x:1', 'manifest for x:1 not found: manifest unknown').shortError).toBe('image not found');
    expect(pullFailure('x:1', 'dial tcp 127.0.0.1:5000: connect: connection refused').shortError).toBe('image not found');
    expect(pullFailure('x:1', 'pull access denied for x, repository does not exist or may require docker login').shortError).toBe(
      'image cannot be pulled',
    );
    expect(pullFailure('x:1', 'unauthorized: authentication required').shortError).toBe('image cannot be pulled');
    expect(pullFailure('x:1', 'pull timed out')).toMatchObject({ shortError: 'image cannot be pulled', error: expect.stringMatching(/^ImageCannotBePulled: /) });
  });

  it('maps a command the runtime cannot start to a shell exit code, and nothing else', () => {
    const runc =
      'failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "sleep 5": executable file not found in $PATH: unknown';
    expect(commandNotExecutable(runc)).toEqual({ exitCode: 127, reason: 'exec: "sleep 5": executable file not found in $PATH' });
    expect(commandNotExecutable('unable to start container process: exec: "/io/x": permission denied: unknown')?.exitCode).toBe(126);
    expect(commandNotExecutable('unable to start container process: exec: "/io": is a directory: unknown')?.exitCode).toBe(126);
    expect(commandNotExecutable('error mounting "/a" to rootfs at "/b": no such file or directory')).toBeNull();
    expect(commandNotExecutable('cannot allocate memory')).toBeNull();
  });
});

describe('job exit code', () => {
  const c = (name: ContainerStatus['name'], exit: number | null, error?: string): ContainerStatus => ({
    name,
    state: error ? 'error' : exit === 0 ? 'succeeded' : 'failed',
    timing: {},
    container_status: { exit_code: exit, out_of_memory: false },
    ...(error ? { error } : {}),
  });

  it("follows Hail's client: an errored container has none, and none anywhere before a failure means none", () => {
    expect(attemptExitCode({ main: c('main', 137, 'ContainerTimeoutError: timed out after 5s') })).toBeNull();
    expect(attemptExitCode({ input: c('input', 0), main: c('main', 3), output: c('output', 0) })).toBe(3);
    expect(attemptExitCode({ input: c('input', 0), main: c('main', null, 'ImageNotFound: x') })).toBeNull();
    expect(attemptExitCode({ main: c('main', 0), output: c('output', 2) })).toBe(2);
    expect(attemptExitCode({})).toBeNull();
  });
});
