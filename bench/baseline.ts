/**
 * The bare baseline: the same trivial job with no service in between, at the service's
 * parallelism. Process: `true` spawned with child_process. Docker: `docker run --rm <image> true`.
 * Independent jobs share `concurrency` runners; chains are handed out whole, one runner running
 * a chain's jobs one after another, as the service can only start a job after its parent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { onCleanup } from './cleanup';
import { COMMAND, IMAGE, type Shape } from './submit';
import type { Executor } from './service';

export type BaselineResult = {
  concurrency: number;
  firstStartMs: number;
  e2eMs: number;
  jobsPerSec: number;
  failed: number;
  /** The machine's 1-minute load average when the run ended. */
  loadAvg1: number;
  firstError?: string;
};

function commandFor(executor: Executor): [string, string[]] {
  if (executor === 'process') return [COMMAND[0]!, COMMAND.slice(1)];
  return ['docker', ['run', '--rm', IMAGE, ...COMMAND]];
}

const children = new Set<ChildProcess>();
let cleanupRegistered = false;

/** A job that takes this long means the engine is stuck (a wedged dockerd hangs `docker run`). */
const JOB_TIMEOUT_MS = 120_000;

class StuckError extends Error {}

function runOne(file: string, args: string[], onStart: () => void): Promise<string | null> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    children.add(child);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new StuckError(`\`${[file, ...args].join(' ')}\` did not finish within ${JOB_TIMEOUT_MS / 1000} s`));
    }, JOB_TIMEOUT_MS);
    child.once('close', () => clearTimeout(timer));
    child.once('error', () => clearTimeout(timer));
    child.once('spawn', onStart);
    child.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < 500) stderr += d.toString();
    });
    child.once('error', (e) => {
      children.delete(child);
      resolve(e.message);
    });
    child.once('close', (code, signal) => {
      children.delete(child);
      resolve(code === 0 ? null : `exit ${code ?? signal}: ${stderr.trim().slice(0, 300)}`);
    });
  });
}

export async function runBaseline(opts: {
  executor: Executor;
  shape: Shape;
  n: number;
  chainLength: number;
  concurrency: number;
}): Promise<BaselineResult> {
  if (!cleanupRegistered) {
    cleanupRegistered = true;
    onCleanup('stop baseline processes', () => {
      for (const c of children) c.kill('SIGTERM');
    });
  }
  const [file, args] = commandFor(opts.executor);
  const units: number[] = [];
  const perUnit = opts.shape === 'chain' ? opts.chainLength : 1;
  for (let left = opts.n; left > 0; left -= perUnit) units.push(Math.min(perUnit, left));

  const t0 = Date.now();
  let firstStart: number | null = null;
  let failed = 0;
  let firstError: string | undefined;
  let next = 0;
  const onStart = () => {
    firstStart ??= Date.now();
  };
  let stuck: Error | null = null;
  const runner = async () => {
    while (next < units.length && stuck === null) {
      const length = units[next++]!;
      for (let i = 0; i < length && stuck === null; i++) {
        let err: string | null;
        try {
          err = await runOne(file, args, onStart);
        } catch (e) {
          stuck ??= e as Error;
          return;
        }
        if (err !== null) {
          failed++;
          firstError ??= err;
        }
      }
    }
  };
  const concurrency = Math.max(1, Math.min(opts.concurrency, units.length));
  await Promise.all(Array.from({ length: concurrency }, runner));
  if (stuck !== null) throw stuck;
  const e2eMs = Date.now() - t0;
  return {
    concurrency,
    firstStartMs: (firstStart ?? t0) - t0,
    e2eMs,
    jobsPerSec: opts.n / (e2eMs / 1000),
    failed,
    loadAvg1: Number(os.loadavg()[0]!.toFixed(2)),
    ...(firstError !== undefined ? { firstError } : {}),
  };
}
