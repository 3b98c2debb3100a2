/**
 * The attempts this agent was given: running ones, and recently finished ones so that a
 * resent create is still recognised (403) and log/status stay readable for a while.
 */
import { readFile } from 'node:fs/promises';
import type { ContainerName } from '../domain/job-spec';
import { resourceUsageHeader } from '../domain/resource-usage';
import { logKey, resourceUsageKey } from '../storage/keys';
import { Attempt, attemptKey, jobKey } from './attempt';
import type { JobCreateRequest } from './create-request';
import type { AttemptKey } from './driver-client';
import { runAttempt, type RunnerDeps } from './job-runner';

const KEEP_FINISHED = 10_000;

export type AttemptsOptions = RunnerDeps & { instance: string; region: string; scratchDir: string };

export class Attempts {
  private readonly byKey = new Map<string, Attempt>();
  private readonly latestByJob = new Map<string, Attempt>();
  private readonly finishedOrder: string[] = [];

  constructor(private readonly opts: AttemptsOptions) {}

  /** Starts the attempt in the background; false if this attempt was already given. */
  submit(request: JobCreateRequest): boolean {
    const key = attemptKey(request.batch_id, request.job_id, request.attempt_id);
    if (this.byKey.has(key)) return false;
    const a = new Attempt(request, this.opts.instance, this.opts.region, this.opts.scratchDir);
    this.byKey.set(key, a);
    this.latestByJob.set(a.jobKey, a);
    a.done = runAttempt(a, this.opts)
      .catch((err) => this.opts.log.error('attempt crashed', { attempt: key, error: String(err) }))
      .finally(() => this.retire(a));
    return true;
  }

  find(batchId: number, jobId: number): Attempt | undefined {
    return this.latestByJob.get(jobKey(batchId, jobId));
  }

  /** Kills the job's unfinished attempts and resolves once their containers have stopped. */
  async kill(batchId: number, jobId: number): Promise<void> {
    const key = jobKey(batchId, jobId);
    const victims = [...this.byKey.values()].filter((a) => a.jobKey === key && !a.finished);
    for (const a of victims) a.abort.abort();
    await Promise.all(victims.map((a) => a.stopped));
  }

  async killAll(): Promise<void> {
    const live = [...this.byKey.values()].filter((a) => !a.finished);
    for (const a of live) a.abort.abort();
    await Promise.all(live.map((a) => a.done));
  }

  running(): AttemptKey[] {
    return [...this.byKey.values()].filter((a) => !a.finished).map((a) => a.ref);
  }

  /** Waits for every attempt (including its job_complete report) to be over. */
  async idle(): Promise<void> {
    await Promise.all([...this.byKey.values()].map((a) => a.done));
  }

  /** The container's log so far: from the scratch file while it exists, else from the store. */
  async readLog(a: Attempt, container: ContainerName): Promise<Buffer | null> {
    if (!a.containers[container]) return null;
    const fromStore = () => this.opts.store.get(logKey({ ...a.labels, container }));
    if (a.uploaded) return fromStore();
    try {
      return await readFile(a.logPath(container));
    } catch {
      // Uploaded and cleaned up between the check and the read.
      return (await fromStore()) ?? Buffer.alloc(0);
    }
  }

  /**
   * Each container's resource usage file so far (Hail's binary format), from the scratch
   * file while it exists, else from the store; a container with none yet gets the header.
   */
  async readResourceUsage(a: Attempt): Promise<Partial<Record<ContainerName, Buffer>>> {
    const usage: Partial<Record<ContainerName, Buffer>> = {};
    for (const container of Object.keys(a.containers) as ContainerName[]) {
      const fromStore = async () => (await this.opts.store.get(resourceUsageKey({ ...a.labels, container }))) ?? resourceUsageHeader();
      usage[container] = a.uploaded ? await fromStore() : await readFile(a.usagePath(container)).catch(fromStore);
    }
    return usage;
  }

  private retire(a: Attempt): void {
    this.finishedOrder.push(a.key);
    while (this.finishedOrder.length > KEEP_FINISHED) {
      const old = this.finishedOrder.shift();
      const evicted = old === undefined ? undefined : this.byKey.get(old);
      if (!evicted) continue;
      this.byKey.delete(evicted.key);
      if (this.latestByJob.get(evicted.jobKey) === evicted) this.latestByJob.delete(evicted.jobKey);
    }
  }
}
