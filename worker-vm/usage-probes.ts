/**
 * Where the usage monitor reads a container's numbers: the kernel's cgroup files of a Docker
 * container (cgroup v1 or v2), or /proc for the process executor's process groups.
 */
import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { UsageProbe } from './usage-monitor';

const CGROUP_ROOT = '/sys/fs/cgroup';
// Linux reports process times in clock ticks of USER_HZ, which is 100 on every platform Node runs on.
const NS_PER_TICK = 10_000_000;
const PAGE_BYTES = 4096;

/** Allocated bytes of a tree (fallocate'd space counts), never following links. */
export async function treeBytes(p: string): Promise<number> {
  let st;
  try {
    st = await lstat(p);
  } catch {
    return 0;
  }
  let total = st.blocks * 512;
  if (!st.isDirectory()) return total;
  const entries = await readdir(p).catch(() => [] as string[]);
  for (const e of entries) total += await treeBytes(path.join(p, e));
  return total;
}

async function readNumber(file: string): Promise<number | null> {
  try {
    const n = Number((await readFile(file, 'utf8')).trim());
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

type CgroupFiles = { cpu: () => Promise<number | null>; memory: () => Promise<number | null> };

/** The cgroup files of a process, from /proc/<pid>/cgroup; null when they cannot be found. */
export async function cgroupFilesOf(pid: number): Promise<CgroupFiles | null> {
  let lines: string[];
  try {
    lines = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).split('\n').filter(Boolean);
  } catch {
    return null;
  }
  const entries = lines.map((l) => {
    const [, controllers = '', rel = ''] = /^\d+:([^:]*):(.*)$/.exec(l) ?? [];
    return { controllers: controllers.split(','), rel };
  });
  const v1cpu = entries.find((e) => e.controllers.includes('cpuacct'));
  const v1mem = entries.find((e) => e.controllers.includes('memory'));
  if (v1cpu && v1mem) {
    const cpuDir = path.join(CGROUP_ROOT, v1cpu.controllers.join(','), v1cpu.rel);
    const cpuFile = (await readNumber(path.join(cpuDir, 'cpuacct.usage'))) !== null ? path.join(cpuDir, 'cpuacct.usage') : path.join(CGROUP_ROOT, 'cpuacct', v1cpu.rel, 'cpuacct.usage');
    const memFile = path.join(CGROUP_ROOT, 'memory', v1mem.rel, 'memory.usage_in_bytes');
    return { cpu: () => readNumber(cpuFile), memory: () => readNumber(memFile) };
  }
  const v2 = entries.find((e) => e.controllers.length === 1 && e.controllers[0] === '');
  if (!v2) return null;
  const dir = path.join(CGROUP_ROOT, v2.rel);
  return {
    cpu: async () => {
      try {
        const line = (await readFile(path.join(dir, 'cpu.stat'), 'utf8')).split('\n').find((l) => l.startsWith('usage_usec '));
        return line ? Number(line.split(' ')[1]) * 1000 : null;
      } catch {
        return null;
      }
    },
    memory: () => readNumber(path.join(dir, 'memory.current')),
  };
}

export function cgroupProbe(files: CgroupFiles, storage: { rootfsDir: string | null; ioBytes: () => Promise<number> }): UsageProbe {
  return {
    cpuNs: files.cpu,
    memoryBytes: files.memory,
    nonIoStorageBytes: () => (storage.rootfsDir === null ? Promise.resolve(0) : treeBytes(storage.rootfsDir)),
    ioStorageBytes: storage.ioBytes,
  };
}

/**
 * A process tree's usage from /proc: CPU time of its live members plus what they reaped,
 * resident memory of the live ones. A child that exited unreaped, or one that left the tree
 * (a daemon re-parented to init), is missed.
 */
export function processGroupProbe(leader: number, ioBytes: () => Promise<number>): UsageProbe {
  // Walks the leader's descendants rather than all of /proc: many small jobs sampling at once
  // must not each read every process on the machine.
  const members = async () => {
    const found: { ticks: number; rssPages: number }[] = [];
    const queue = [leader];
    const seen = new Set<number>();
    while (queue.length > 0) {
      const pid = queue.shift()!;
      if (seen.has(pid)) continue;
      seen.add(pid);
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
      if (stat === null) continue;
      // Fields after the command name, which may itself hold spaces and parentheses.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      found.push({ ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]), rssPages: Number(f[21]) });
      const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
      for (const c of children.split(' ')) if (/^\d+$/.test(c)) queue.push(Number(c));
    }
    return found;
  };
  return {
    cpuNs: async () => {
      const m = await members();
      return m.length === 0 ? null : m.reduce((t, x) => t + x.ticks, 0) * NS_PER_TICK;
    },
    memoryBytes: async () => {
      const m = await members();
      return m.length === 0 ? null : m.reduce((t, x) => t + x.rssPages, 0) * PAGE_BYTES;
    },
    nonIoStorageBytes: () => Promise.resolve(0),
    ioStorageBytes: ioBytes,
  };
}
