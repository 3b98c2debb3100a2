/**
 * The agent processes ("VMs") of one data directory, read straight from the kernel's process
 * table: what actually runs, independent of what the database or the driver believe.
 */
import { readdirSync, readFileSync } from 'node:fs';

type ProcessInfo = { pid: number; env: Map<string, string>; argv: string[]; zombie: boolean };

function processes(): ProcessInfo[] {
  const out: ProcessInfo[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
      out.push({
        pid: Number(pid),
        env: new Map(environ.split('\0').map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)] as const)),
        argv: cmdline.split('\0'),
        zombie: /\) Z /.test(stat),
      });
    } catch {
      // Exited while we looked.
    }
  }
  return out;
}

export function agentProcesses(dataDir: string): string[] {
  return processes()
    .filter((p) => !p.zombie && p.env.get('HB_DATA_DIR') === dataDir && p.env.has('HB_AGENT_NAME'))
    .map((p) => p.env.get('HB_AGENT_NAME')!)
    .sort();
}

/**
 * Kills (SIGKILL) every process of one data directory: agents (HB_DATA_DIR in their
 * environment) and a dev server storing there (the directory on its command line). For a
 * test's clean-up after a failure, when the service could not take them down itself.
 */
export function killProcessesOf(dataDir: string): number {
  let killed = 0;
  for (const p of processes()) {
    if (p.pid === process.pid || p.zombie) continue;
    if (p.env.get('HB_DATA_DIR') !== dataDir && !p.argv.some((arg) => arg.startsWith(dataDir))) continue;
    try {
      process.kill(p.pid, 'SIGKILL');
      killed++;
    } catch {
      // Gone meanwhile.
    }
  }
  return killed;
}
