/**
 * One small interface for "run one container of an attempt", with a Docker implementation
 * (the real thing) and a local-process one (opt-in, local mode only). The job runner decides
 * which containers run and in what order; an executor only runs the one it is handed.
 */
import type { ContainerName } from '../../domain/job-spec';
import type { ContainerEnd, ContainerState, Timing } from '../status';

export type AttemptLabels = {
  instance: string;
  batchId: number;
  jobId: number;
  attemptId: string;
};

/** A resolved file copy: a path on this host and a path relative to the attempt's /io. */
export type Transfer = { hostPath: string; ioPath: string };

type TaskBase = {
  name: ContainerName;
  attempt: AttemptLabels;
  /** Host directory shared by the attempt's containers, seen by them as /io. */
  ioDir: string;
  /** Host file the container's stdout and stderr are appended to while it runs. */
  logPath: string;
  /** Host file the container's resource usage samples are written to while it runs. */
  usagePath: string;
  /** Aborted when the job is deleted or the agent stops: kill and report 'cancelled'. */
  signal: AbortSignal;
  /** Called as the container moves through pulling, creating and running. */
  onProgress: (state: ContainerState, timing: Timing) => void;
};

export type CommandTask = TaskBase & {
  kind: 'command';
  image: string;
  command: string[];
  env: Record<string, string>;
  coresMcpu: number;
  memoryBytes: number;
  timeoutMs: number | null;
  /** A directory on the attempt's scratch volume for the container's writable layer, if any. */
  writableLayerDir: string | null;
};

export type CopyTask = TaskBase & {
  kind: 'copy';
  /** input copies host → /io; output copies /io → host. */
  direction: 'input' | 'output';
  transfers: Transfer[];
};

export type ContainerTask = CommandTask | CopyTask;

export type ContainerResult = {
  state: ContainerEnd;
  timing: Timing;
  exitCode: number | null;
  outOfMemory: boolean;
  error?: string;
  shortError?: string;
};

export interface Executor {
  readonly kind: 'docker' | 'process';
  /** Checks the executor can run anything at all (engine reachable, copier image present). */
  /** Checks and sets up what it runs on; returns what the agent should warn about. */
  prepare(): Promise<string[]>;
  run(task: ContainerTask): Promise<ContainerResult>;
  /** Removes leftovers of an earlier run of this instance (containers from a crashed agent). */
  removeOrphans(instance: string): Promise<number>;
  /** Makes ahead what each of `slots` concurrent jobs would otherwise wait for at its start. */
  warmUp(instance: string, slots: number): Promise<void>;
}

/** What a container killed with SIGKILL exits with; the kernel's OOM killer sends SIGKILL. */
export const SIGKILL_EXIT_CODE = 137;
