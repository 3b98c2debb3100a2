/**
 * What local mode started, recorded in the data directory (`processes.json`): each process's
 * role, pid and kernel start time. A pid alone is not an identity (pids are recycled); a pid
 * whose start time in /proc/<pid>/stat still matches the record is the same process.
 */
import { existsSync, mkdirSync, readFileSync, readlinkSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export type ProcessRole = 'local' | 'temporal';
export type ProcessRecord = { role: ProcessRole; pid: number; startTime: string };

const FILE = 'processes.json';

/** Field 22 of /proc/<pid>/stat (clock ticks since boot); null when the pid is gone or a zombie. */
export function processStartTime(pid: number): string | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // The command name (field 2) may contain spaces and parentheses: count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return null;
  return fields[19] ?? null;
}

/** Whether the record still names the process it was written for. */
export function isRunning(rec: ProcessRecord): boolean {
  return processStartTime(rec.pid) === rec.startTime;
}

export function recordOf(role: ProcessRole, pid: number): ProcessRecord | null {
  const startTime = processStartTime(pid);
  return startTime === null ? null : { role, pid, startTime };
}

export function readRecords(dataDir: string): ProcessRecord[] {
  const file = path.join(dataDir, FILE);
  if (!existsSync(file)) return [];
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (!Array.isArray(parsed)) return [];
    return parsed.filter(
      (r): r is ProcessRecord =>
        typeof r === 'object' && r !== null && typeof r.role === 'string' && Number.isInteger(r.pid) && typeof r.startTime === 'string',
    );
  } catch {
    // A torn or hand-edited file records nothing we can trust.
    return [];
  }
}

/** Replaces the record of a role (or removes it when `rec` is null); write-then-rename, never torn. */
export function setRecord(dataDir: string, role: ProcessRole, rec: ProcessRecord | null): void {
  mkdirSync(dataDir, { recursive: true });
  const records = readRecords(dataDir).filter((r) => r.role !== role);
  if (rec) records.push(rec);
  const file = path.join(dataDir, FILE);
  const partial = `${file}.${process.pid}.tmp`;
  writeFileSync(partial, JSON.stringify(records, null, 2) + '\n');
  renameSync(partial, file);
}

export function recordFor(dataDir: string, role: ProcessRole): ProcessRecord | undefined {
  return readRecords(dataDir).find((r) => r.role === role);
}

/** The process's command line, split. */
export function commandLine(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/** Whether the process has `file` open, as it is now: a file deleted under it does not count. */
export function hasOpen(pid: number, file: string): boolean {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  return fds.some((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) === file;
    } catch {
      return false;
    }
  });
}

/** The pid listening on a TCP port of this machine (IPv4 or IPv6), from /proc/net and the fd tables. */
export function listenerOf(port: number): number | null {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      // State 0A is LISTEN.
      if (!local || cols[3] !== '0A') continue;
      if (parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port && cols[9]) inodes.add(cols[9]);
    }
  }
  if (inodes.size === 0) return null;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1]!)) return Number(pid);
      } catch {
        // Closed while we looked.
      }
    }
  }
  return null;
}

/** SIGKILLs a recorded process (and its group, when it leads one) and waits until it is gone. */
export async function killRecorded(rec: ProcessRecord, signal: NodeJS.Signals = 'SIGKILL', waitMs = 10_000): Promise<boolean> {
  if (!isRunning(rec)) return true;
  for (const target of [-rec.pid, rec.pid]) {
    try {
      process.kill(target, signal);
    } catch {
      // Not a group leader, or gone.
    }
  }
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    if (!isRunning(rec)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !isRunning(rec);
}
