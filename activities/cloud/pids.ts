import { readFileSync } from 'node:fs';

/**
 * Whether a local process is still there (signal 0 checks without touching it). A zombie is
 * not: it has exited and only waits to be reaped, which an orphan's new parent may never do.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    // No /proc (not Linux), or gone between the two looks.
    return process.platform !== 'linux';
  }
}
