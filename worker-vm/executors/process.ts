/**
 * Runs an attempt's "containers" as plain local processes: for machines without Docker and
 * for orchestration tests with thousands of jobs. Local mode only; cloud VMs never use it.
 * There is no image, no isolation and no memory limit; the command runs with /io mapped to
 * the attempt's io directory (HAIL_IO_DIR, also the working directory).
 */
import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { appendFile, cp, lstat, mkdir, open, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { setLongTimeout } from '../long-timer';
import { startUsageMonitor } from '../usage-monitor';
import { processGroupProbe, treeBytes } from '../usage-probes';
import { finishSpan, startSpan, type Timing } from '../status';
import { handOver, type Owner } from '../storage-access';
import { COMMAND_NOT_EXECUTABLE_EXIT_CODE, COMMAND_NOT_FOUND_EXIT_CODE, timeoutError } from './errors';
import type { CommandTask, ContainerResult, ContainerTask, CopyTask, Executor } from './executor';

// What a container sees when its image sets no PATH; the agent's own environment (with its
// tokens) is deliberately not passed on.
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export class ProcessExecutor implements Executor {
  readonly kind = 'process' as const;

  /** `owner`: who copied-out files are handed to, as the Docker copier leaves them. */
  constructor(private readonly owner: Owner = null) {}

  async prepare(): Promise<string[]> {
    return [];
  }

  /** Nothing to make ahead: a process starts as it is. */
  async warmUp(): Promise<void> {}

  async removeOrphans(): Promise<number> {
    // Process groups die with the agent's kill; there is nothing durable to find.
    return 0;
  }

  run(task: ContainerTask): Promise<ContainerResult> {
    if (task.signal.aborted) return Promise.resolve({ state: 'cancelled', timing: {}, exitCode: null, outOfMemory: false });
    return task.kind === 'copy' ? this.copy(task) : this.spawn(task);
  }

  private async copy(task: CopyTask): Promise<ContainerResult> {
    const timing: Timing = { running: startSpan() };
    task.onProgress('running', timing);
    const log = (line: string) => appendFile(task.logPath, `${line}\n`);
    try {
      for (const t of task.transfers) {
        if (task.signal.aborted) return { state: 'cancelled', timing, exitCode: null, outOfMemory: false };
        const io = path.join(task.ioDir, t.ioPath);
        const [src, dst, label] =
          task.direction === 'input' ? [t.hostPath, io, `${t.hostPath} -> /io/${t.ioPath}`] : [io, t.hostPath, `/io/${t.ioPath} -> ${t.hostPath}`];
        await log(`copying ${label}`);
        const odd = await firstOddEntry(src);
        if (odd !== null) throw new Error(`refused: ${odd} is not a regular file or directory`);
        await mkdir(path.dirname(dst), { recursive: true });
        await rm(dst, { recursive: true, force: true });
        await cp(src, dst, { recursive: true, verbatimSymlinks: true });
        if (task.direction === 'output') await handOver(dst, this.owner);
      }
      return { state: 'succeeded', timing, exitCode: 0, outOfMemory: false };
    } catch (err) {
      // Like a copier container whose cp failed: the job's files are at fault, not the agent.
      await log(err instanceof Error ? err.message : String(err)).catch(() => undefined);
      return { state: 'failed', timing, exitCode: 1, outOfMemory: false };
    } finally {
      finishSpan(timing.running);
    }
  }

  private async spawn(task: CommandTask): Promise<ContainerResult> {
    const timing: Timing = {};
    const [file, ...args] = task.command;
    if (file === undefined) return { state: 'error', timing, exitCode: null, outOfMemory: false, error: 'empty command' };
    const logFile = await open(task.logPath, 'a');
    timing.running = startSpan();
    task.onProgress('running', timing);
    let timedOut = false;
    try {
      // detached: the command gets its own process group, so a kill reaches its children too.
      const child = spawn(file, args, {
        cwd: task.ioDir,
        env: { PATH: DEFAULT_PATH, HOME: task.ioDir, ...task.env, HAIL_IO_DIR: task.ioDir },
        stdio: ['ignore', logFile.fd, logFile.fd],
        detached: true,
      });
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null } | Error>((resolve) => {
        child.on('error', resolve);
        child.once('exit', (code, signal) => resolve({ code, signal }));
      });
      const kill = () => {
        if (child.pid !== undefined) {
          try {
            process.kill(-child.pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      };
      task.signal.addEventListener('abort', kill);
      if (task.signal.aborted) kill();
      const monitor = child.pid !== undefined ? await startUsageMonitor(processGroupProbe(child.pid, () => treeBytes(task.ioDir)), task.usagePath) : null;
      const cancelTimeout =
        task.timeoutMs !== null
          ? setLongTimeout(() => {
              timedOut = true;
              kill();
            }, task.timeoutMs)
          : undefined;
      const outcome = await exited;
      await monitor?.stop();
      cancelTimeout?.();
      task.signal.removeEventListener('abort', kill);
      finishSpan(timing.running);

      if (outcome instanceof Error) {
        const code = (outcome as NodeJS.ErrnoException).code;
        // A command that cannot be run is the job's fault, as in a shell: Failed with 127 or 126.
        const exitCode = code === 'ENOENT' ? COMMAND_NOT_FOUND_EXIT_CODE : code === 'EACCES' ? COMMAND_NOT_EXECUTABLE_EXIT_CODE : null;
        if (exitCode === null) return { state: 'error', timing, exitCode: null, outOfMemory: false, error: `starting ${file}: ${outcome.message}` };
        await logFile.appendFile(`exec: ${JSON.stringify(file)}: ${code === 'ENOENT' ? 'executable file not found' : 'permission denied'}\n`);
        return { state: 'failed', timing, exitCode, outOfMemory: false };
      }
      const exitCode = outcome.code ?? 128 + (outcome.signal ? (osConstants.signals[outcome.signal] ?? 0) : 0);
      if (task.signal.aborted) return { state: 'cancelled', timing, exitCode, outOfMemory: false };
      if (timedOut) {
        return { state: 'error', timing, exitCode, outOfMemory: false, ...timeoutError(task.timeoutMs ?? 0) };
      }
      return { state: exitCode === 0 ? 'succeeded' : 'failed', timing, exitCode, outOfMemory: false };
    } finally {
      finishSpan(timing.running);
      await logFile.close();
    }
  }
}

/**
 * The first entry of a tree that is neither a regular file nor a directory (a link, a device,
 * a fifo), so that a copy never follows or plants a link; null when there is none.
 */
async function firstOddEntry(p: string): Promise<string | null> {
  const st = await lstat(p);
  if (st.isFile()) return null;
  if (!st.isDirectory()) return p;
  for (const entry of await readdir(p, { withFileTypes: true })) {
    const found = await firstOddEntry(path.join(p, entry.name));
    if (found !== null) return found;
  }
  return null;
}
