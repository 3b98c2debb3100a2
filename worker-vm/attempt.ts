/**
 * One attempt of a job on this agent: what it was asked to run, where its files live, how far
 * it got, and the status document that describes it at any moment.
 */
import path from 'node:path';
import type { ContainerName } from '../domain/job-spec';
import type { JobCreateRequest } from './create-request';
import type { AttemptKey } from './driver-client';
import type { AttemptLabels } from './executors/executor';
import type { ScratchVolume } from './scratch-volume';
import type { AttemptState, ContainerStatus, Resource, StatusDocument } from './status';

export function attemptKey(batchId: number, jobId: number, attemptId: string): string {
  return `${batchId}/${jobId}/${attemptId}`;
}

export function jobKey(batchId: number, jobId: number): string {
  return `${batchId}/${jobId}`;
}

export class Attempt {
  readonly key: string;
  readonly jobKey: string;
  readonly labels: AttemptLabels;
  readonly dir: string;
  /** Where the scratch volume (when the quota is enforced) is mounted; /io is inside it. */
  readonly volumeDir: string;
  readonly volumeImage: string;
  readonly ioDir: string;
  /** The mounted scratch volume, if this attempt has one. */
  volume: ScratchVolume | null = null;
  readonly jobGroupId: number;
  readonly resources: Resource[];
  /** Aborted by DELETE or agent shutdown: running containers are killed, nothing is reported. */
  readonly abort = new AbortController();
  state: AttemptState = 'running';
  startTime: number | null = null;
  /** When the main container started running: where billing starts. */
  mainStartTime: number | null = null;
  endTime: number | null = null;
  readonly containers: Partial<Record<ContainerName, ContainerStatus>> = {};
  /** Set once logs and status are in the object store and the scratch files are gone. */
  uploaded = false;
  /** The job_started report, once sent: job_complete says whether it got through. */
  startedReport: Promise<boolean> | null = null;
  /** Resolves when no container of this attempt is running any more. */
  readonly stopped: Promise<void>;
  private markStopped!: () => void;
  /** Resolves when the attempt is over: uploaded, cleaned up and (unless killed) reported. */
  done: Promise<void> = Promise.resolve();

  constructor(
    readonly request: JobCreateRequest,
    readonly instance: string,
    readonly region: string,
    scratchDir: string,
  ) {
    const { batch_id, job_id, attempt_id } = request;
    this.key = attemptKey(batch_id, job_id, attempt_id);
    this.jobKey = jobKey(batch_id, job_id);
    this.labels = { instance, batchId: batch_id, jobId: job_id, attemptId: attempt_id };
    this.dir = path.join(scratchDir, `${batch_id}-${job_id}-${attempt_id}`);
    this.volumeDir = path.join(this.dir, 'volume');
    this.volumeImage = path.join(this.dir, 'volume.img');
    this.ioDir = path.join(this.volumeDir, 'io');
    this.jobGroupId = request.job_group_id ?? request.job_spec.job_group_id ?? 0;
    const r = request.job_spec.resources;
    this.resources = [
      { name: 'cores_mcpu', quantity: r.cores_mcpu },
      { name: 'memory_bytes', quantity: r.memory_bytes },
      { name: 'storage_gib', quantity: r.storage_gib },
    ];
    this.stopped = new Promise((resolve) => (this.markStopped = resolve));
  }

  get ref(): AttemptKey {
    return { batch_id: this.request.batch_id, job_id: this.request.job_id, attempt_id: this.request.attempt_id };
  }

  get finished(): boolean {
    return this.endTime !== null;
  }

  /** Hail keeps each container's log in its own directory of the scratch area. */
  logPath(container: ContainerName): string {
    return path.join(this.dir, container, 'container.log');
  }

  /** Hail's resource usage file of each container, beside its log. */
  usagePath(container: ContainerName): string {
    return path.join(this.dir, container, 'resource_usage');
  }

  containersStopped(): void {
    this.markStopped();
  }

  statusDocument(): StatusDocument {
    return {
      version: 5,
      worker: this.instance,
      ...this.ref,
      state: this.state,
      resources: this.resources,
      region: this.region,
      start_time: this.startTime,
      end_time: this.endTime,
      container_statuses: structuredClone(this.containers),
    };
  }
}
