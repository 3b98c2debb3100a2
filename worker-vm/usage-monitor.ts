/**
 * Samples one running container's CPU, memory and storage into Hail's resource usage file,
 * as Hail's worker does: every 100 ms for the first 5 s (short jobs still get samples), then
 * less and less often, at most every 5 s. Network bandwidth is recorded as 0: containers
 * here have no per-container accounting of traffic.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { encodeResourceUsageSample, resourceUsageHeader } from '../domain/resource-usage';

export type UsageProbe = {
  /** Total CPU time of the container so far, in ns; null once it is gone. */
  cpuNs(): Promise<number | null>;
  memoryBytes(): Promise<number | null>;
  /** Bytes the container wrote outside /io (its root file system). */
  nonIoStorageBytes(): Promise<number>;
  ioStorageBytes(): Promise<number>;
};

export type UsageMonitor = { stop(): Promise<void> };

const FAST_PERIOD_MS = 100;
const FAST_PHASE_MS = 5_000;
const MAX_PERIOD_MS = 5_000;
// Walking a big tree for its size is not free: storage is measured at most this often, and
// never more than 5% of the time (a walk of 200 ms waits 4 s for the next).
const STORAGE_PERIOD_MS = 1_000;
const STORAGE_WALK_SHARE = 20;

/** Writes the header at once (a container with no samples still has a file), then samples. */
export async function startUsageMonitor(probe: UsageProbe, filePath: string): Promise<UsageMonitor> {
  let out: FileHandle;
  try {
    out = await open(filePath, 'w');
    await out.write(resourceUsageHeader());
  } catch {
    // No usage file is a lost measurement, never a failed job.
    return { stop: async () => undefined };
  }
  let stopped = false;
  let wake: (() => void) | undefined;
  const loop = sampleLoop(probe, out, () => stopped, (resume) => (wake = resume));
  return {
    async stop() {
      stopped = true;
      wake?.();
      await loop;
      await out.close();
    },
  };
}

async function sampleLoop(probe: UsageProbe, out: FileHandle, isStopped: () => boolean, onSleep: (wake: () => void) => void): Promise<void> {
  const start = Date.now();
  let last: { timeNs: bigint; cpuNs: number } | null = null;
  let storage = { next: 0, nonIo: 0, io: 0 };
  let period = FAST_PERIOD_MS;
  while (!isStopped()) {
    try {
      const timeNs = process.hrtime.bigint();
      const [cpuNs, memory] = await Promise.all([probe.cpuNs(), probe.memoryBytes()]);
      if (cpuNs !== null && memory !== null) {
        if (Date.now() >= storage.next) {
          const walkStart = Date.now();
          const [nonIo, io] = await Promise.all([probe.nonIoStorageBytes(), probe.ioStorageBytes()]);
          const took = Date.now() - walkStart;
          storage = { next: Date.now() + Math.max(STORAGE_PERIOD_MS, took * STORAGE_WALK_SHARE), nonIo, io };
        }
        // The first reading is only a baseline: usage is a rate over the time since the last one.
        if (last !== null && timeNs > last.timeNs && !isStopped()) {
          const cpuUsage = Math.max(0, cpuNs - last.cpuNs) / Number(timeNs - last.timeNs);
          await out.write(
            encodeResourceUsageSample({
              time_msecs: Date.now(),
              memory_in_bytes: memory,
              cpu_usage: cpuUsage,
              non_io_storage_in_bytes: storage.nonIo,
              io_storage_in_bytes: storage.io,
              network_bandwidth_upload_in_bytes_per_second: 0,
              network_bandwidth_download_in_bytes_per_second: 0,
            }),
          );
        }
        last = { timeNs, cpuNs };
      }
    } catch {
      // A container that went away mid-sample has nothing more to say; keep the file valid.
    }
    if (Date.now() - start >= FAST_PHASE_MS) period = Math.min(MAX_PERIOD_MS, period * 2);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, period);
      onSleep(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
