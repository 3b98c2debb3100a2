/**
 * Hail's per-container resource usage file (its ResourceUsageMonitor, version 2): an 8-byte
 * big-endian version, then fixed 56-byte records. The agent writes it while a container runs
 * and stores it beside the container's log; the API decodes it into the frame Hail's
 * `Job.resource_usage()` returns (a pandas 'split' frame: columns, index, data).
 */

export const RESOURCE_USAGE_VERSION = 2;

export const RESOURCE_USAGE_COLUMNS = [
  'time_msecs',
  'memory_in_bytes',
  'cpu_usage',
  'non_io_storage_in_bytes',
  'io_storage_in_bytes',
  'network_bandwidth_upload_in_bytes_per_second',
  'network_bandwidth_download_in_bytes_per_second',
] as const;

/** One sample; cpu_usage is cores in use (CPU time over wall time since the last sample). */
export type ResourceUsageSample = {
  time_msecs: number;
  memory_in_bytes: number;
  cpu_usage: number;
  non_io_storage_in_bytes: number;
  io_storage_in_bytes: number;
  network_bandwidth_upload_in_bytes_per_second: number;
  network_bandwidth_download_in_bytes_per_second: number;
};

/** The frame of one container as Hail's front end returns it (DataFrame.to_dict('split')). */
export type ResourceUsageFrame = { columns: string[]; index: number[]; data: number[][] };

const HEADER_BYTES = 8;
const RECORD_BYTES = 56;

/** A file with no samples yet: just the version. */
export function resourceUsageHeader(): Buffer {
  const b = Buffer.alloc(HEADER_BYTES);
  b.writeBigInt64BE(BigInt(RESOURCE_USAGE_VERSION), 0);
  return b;
}

/** Hail's struct '>2qd2q2d'. */
export function encodeResourceUsageSample(s: ResourceUsageSample): Buffer {
  const b = Buffer.alloc(RECORD_BYTES);
  b.writeBigInt64BE(BigInt(Math.trunc(s.time_msecs)), 0);
  b.writeBigInt64BE(BigInt(Math.trunc(s.memory_in_bytes)), 8);
  b.writeDoubleBE(s.cpu_usage, 16);
  b.writeBigInt64BE(BigInt(Math.trunc(s.non_io_storage_in_bytes)), 24);
  b.writeBigInt64BE(BigInt(Math.trunc(s.io_storage_in_bytes)), 32);
  b.writeDoubleBE(s.network_bandwidth_upload_in_bytes_per_second, 40);
  b.writeDoubleBE(s.network_bandwidth_download_in_bytes_per_second, 48);
  return b;
}

/**
 * The samples of a stored file; null for an empty or corrupt one (Hail shows no frame for
 * those). A trailing partial record (the agent died mid-write) is ignored.
 */
export function decodeResourceUsage(data: Uint8Array): ResourceUsageSample[] | null {
  if (data.length < HEADER_BYTES) return null;
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const version = b.readBigInt64BE(0);
  if (version !== BigInt(RESOURCE_USAGE_VERSION)) return null;
  const samples: ResourceUsageSample[] = [];
  for (let at = HEADER_BYTES; at + RECORD_BYTES <= b.length; at += RECORD_BYTES) {
    samples.push({
      time_msecs: Number(b.readBigInt64BE(at)),
      memory_in_bytes: Number(b.readBigInt64BE(at + 8)),
      cpu_usage: b.readDoubleBE(at + 16),
      non_io_storage_in_bytes: Number(b.readBigInt64BE(at + 24)),
      io_storage_in_bytes: Number(b.readBigInt64BE(at + 32)),
      network_bandwidth_upload_in_bytes_per_second: b.readDoubleBE(at + 40),
      network_bandwidth_download_in_bytes_per_second: b.readDoubleBE(at + 48),
    });
  }
  return samples;
}

export function resourceUsageFrame(samples: ResourceUsageSample[]): ResourceUsageFrame {
  return {
    columns: [...RESOURCE_USAGE_COLUMNS],
    index: samples.map((_, i) => i),
    data: samples.map((s) => RESOURCE_USAGE_COLUMNS.map((c) => s[c])),
  };
}
