/**
 * Runs an attempt's containers on a Docker engine through dockerode. Every container carries
 * labels naming its instance and attempt, so containers left by a crashed agent can be found
 * and removed.
 */
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type Docker from 'dockerode';
import { isImageReference } from '../../domain/image-ref';
import { setLongTimeout } from '../long-timer';
import { finishSpan, startSpan, type Timing } from '../status';
import { handOver, type Owner } from '../storage-access';
import { bindWritableLayer } from '../scratch-volume';
import { cgroupFilesOf, cgroupProbe, treeBytes } from '../usage-probes';
import { startUsageMonitor, type UsageMonitor } from '../usage-monitor';
import { copierScript } from './copier-script';
import { ensureJobNetwork } from '../job-network';
import { NETWORK_FILES, NetworkHolders, type Holder } from '../network-holders';
import { commandNotExecutable, pullFailure, timeoutError } from './errors';
import { followLogs } from './docker-logs';
import { SIGKILL_EXIT_CODE, type AttemptLabels, type ContainerResult, type ContainerTask, type Executor } from './executor';

export const LABEL_INSTANCE = 'hail-batch.instance';

// No registry answers on an offline machine, but a real one may be slow: bound it anyway so
// an attempt can never hang in pulling.
const PULL_TIMEOUT_MS = 10 * 60_000;
// Idle network holders an agent keeps: a job slot's worth on the largest machine (0.25 cores a job).
const MAX_IDLE_HOLDERS = 256;

export type DockerExecutorOptions = {
  copierImage: string;
  /** The unprivileged host uid:gid the copier runs as. */
  copierUser: { uid: number; gid: number };
  /** Who /io is handed to before a copy; null when the copier runs as the agent's own user. */
  owner: Owner;
};

export class DockerExecutor implements Executor {
  readonly kind = 'docker' as const;

  constructor(
    private readonly docker: Docker,
    private readonly options: DockerExecutorOptions,
  ) {}

  /** The network main containers join; null: Docker's default bridge (isolation could not be set up). */
  private jobNetwork: string | null = null;
  /** Network namespaces lent to main containers; set up by prepare(). */
  private holders: NetworkHolders | null = null;

  async prepare(): Promise<string[]> {
    await this.docker.ping().catch((err: unknown) => {
      throw new Error(`no Docker engine reachable (${message(err)}); scripts/docker-engine.sh starts one`);
    });
    await this.docker.getImage(this.options.copierImage).inspect().catch(() => {
      throw new Error(`copier image ${this.options.copierImage} is missing; scripts/build-test-image.sh builds it`);
    });
    const network = await ensureJobNetwork(this.docker);
    this.jobNetwork = network.name;
    this.holders = new NetworkHolders(this.docker, {
      image: this.options.copierImage,
      network: network.name,
      labels: (instance) => instanceLabels(instance, 'network'),
      maxIdle: MAX_IDLE_HOLDERS,
    });
    return network.isolated ? [] : [`jobs run on Docker's default bridge and can reach this machine and private addresses (${network.why})`];
  }

  async removeOrphans(instance: string): Promise<number> {
    const found = await this.docker.listContainers({ all: true, filters: { label: [`${LABEL_INSTANCE}=${instance}`] } });
    await Promise.all(found.map((c) => this.docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
    return found.length;
  }

  /** A network holder per job slot, made before the agent takes jobs (after its orphans went). */
  async warmUp(instance: string, slots: number): Promise<void> {
    await this.holders?.fill(instance, slots);
  }

  async run(task: ContainerTask): Promise<ContainerResult> {
    const timing: Timing = {};
    const ended = (r: Omit<ContainerResult, 'timing'>): ContainerResult => ({ ...r, timing });
    const cancelled = () => ended({ state: 'cancelled', exitCode: null, outOfMemory: false });
    if (task.signal.aborted) return cancelled();

    const image = task.kind === 'command' ? task.image : this.options.copierImage;
    if (!isImageReference(image)) {
      return ended({
        state: 'error',
        exitCode: null,
        outOfMemory: false,
        error: `InvalidImageRepository: invalid image reference ${JSON.stringify(image)}`,
        shortError: 'image repository is invalid',
      });
    }
    if (task.kind === 'copy') {
      try {
        await handOver(task.ioDir, this.options.owner);
      } catch (err) {
        return ended({ state: 'error', exitCode: null, outOfMemory: false, error: `preparing /io for the copier: ${message(err)}` });
      }
    }
    timing.pulling = startSpan();
    task.onProgress('pulling', timing);
    const missing = await this.ensureImage(image, task.signal);
    finishSpan(timing.pulling);
    if (task.signal.aborted) return cancelled();
    if (missing) return ended({ state: 'error', exitCode: null, outOfMemory: false, ...missing });

    timing.creating = startSpan();
    task.onProgress('creating', timing);
    let container: Docker.Container;
    const holder = task.kind === 'command' ? await this.leaseHolder(task) : null;
    try {
      const imageVolumes = task.kind === 'command' && task.writableLayerDir !== null ? await this.imageVolumeMounts(image, task.writableLayerDir) : [];
      container = await this.docker.createContainer(this.containerOptions(task, image, imageVolumes, holder));
    } catch (err) {
      finishSpan(timing.creating);
      if (holder) await this.holders?.release(holder.holder, true);
      return ended({ state: 'error', exitCode: null, outOfMemory: false, error: `creating container: ${message(err)}` });
    }
    finishSpan(timing.creating);
    let unbindLayer: (() => Promise<void>) | undefined;
    try {
      if (task.signal.aborted) return cancelled();
      if (task.kind === 'command' && task.writableLayerDir !== null) {
        unbindLayer = await this.placeWritableLayer(container, task.writableLayerDir);
      }
      return await this.runCreated(container, task, timing);
    } catch (err) {
      return ended({ state: 'error', exitCode: null, outOfMemory: false, error: message(err) });
    } finally {
      // The layer's bind must go before Docker deletes the layer directory under it.
      if (unbindLayer) await container.kill().catch(() => undefined);
      await unbindLayer?.();
      const removed = await container.remove({ force: true, v: true }).then(
        () => true,
        () => false,
      );
      // Only a namespace no process of the job is left in goes back to the pool.
      if (holder) await this.holders?.release(holder.holder, removed);
    }
  }

  /**
   * A network holder for a main container, with the read-only copies of its files in the
   * container's own scratch directory. Null (the container gets a network of its own, as
   * without a pool) when no holder can be made, e.g. Docker's files are not readable here.
   */
  private async leaseHolder(task: ContainerTask): Promise<{ holder: Holder; filesDir: string } | null> {
    if (this.holders === null) return null;
    let holder: Holder;
    try {
      holder = await this.holders.lease(task.attempt.instance);
    } catch {
      return null;
    }
    const filesDir = path.join(path.dirname(task.logPath), 'network');
    try {
      await mkdir(filesDir, { recursive: true });
      for (const name of NETWORK_FILES) await writeFile(path.join(filesDir, name), holder.files[name], { mode: 0o644 });
    } catch {
      await this.holders.release(holder, true);
      return null;
    }
    return { holder, filesDir };
  }

  private async runCreated(container: Docker.Container, task: ContainerTask, timing: Timing): Promise<ContainerResult> {
    timing.running = startSpan();
    task.onProgress('running', timing);
    try {
      await container.start();
    } catch (err) {
      finishSpan(timing.running);
      const notExecutable = commandNotExecutable(message(err));
      if (notExecutable === null) throw err;
      // The job's own command is at fault, as when a shell cannot run it: Failed, not Error.
      await appendFile(task.logPath, `${notExecutable.reason}\n`).catch(() => undefined);
      return { timing, state: 'failed', exitCode: notExecutable.exitCode, outOfMemory: false };
    }
    const logs = followLogs(this.docker, container, task.logPath);
    const monitor = await this.monitorUsage(container, task);

    let timedOut = false;
    const kill = () => void container.kill().catch(() => undefined);
    task.signal.addEventListener('abort', kill);
    if (task.signal.aborted) kill();
    const timeoutMs = task.kind === 'command' ? task.timeoutMs : null;
    const cancelTimeout =
      timeoutMs !== null
        ? setLongTimeout(() => {
            timedOut = true;
            kill();
          }, timeoutMs)
        : undefined;
    try {
      const waited = (await container.wait()) as { StatusCode?: number };
      finishSpan(timing.running);
      const exitCode = waited.StatusCode ?? null;
      const base = { timing, exitCode };
      if (task.signal.aborted) return { ...base, state: 'cancelled', outOfMemory: false };
      if (timedOut) return { ...base, state: 'error', outOfMemory: false, ...timeoutError(timeoutMs ?? 0) };
      const info = await container.inspect().catch(() => null);
      const outOfMemory = exitCode === SIGKILL_EXIT_CODE || info?.State.OOMKilled === true;
      if (outOfMemory) return { ...base, state: 'failed', outOfMemory, shortError: 'out of memory' };
      return { ...base, state: exitCode === 0 ? 'succeeded' : 'failed', outOfMemory: false };
    } finally {
      cancelTimeout?.();
      task.signal.removeEventListener('abort', kill);
      finishSpan(timing.running);
      await monitor.stop();
      await logs.drain();
    }
  }

  /** Puts the container's writable layer on the attempt's scratch volume, under its quota. */
  private async placeWritableLayer(container: Docker.Container, onVolume: string): Promise<() => Promise<void>> {
    const info = await container.inspect();
    const upperDir = (info.GraphDriver.Data as { UpperDir?: string } | null)?.UpperDir;
    if (info.GraphDriver.Name !== 'overlay2' || !upperDir) {
      throw new Error(`storage driver ${info.GraphDriver.Name} is not overlay2: the root file system cannot be put under the storage quota`);
    }
    try {
      return await bindWritableLayer(upperDir, onVolume);
    } catch (err) {
      throw new Error(`putting the writable layer on the scratch volume: ${message(err)}`);
    }
  }

  /** Samples the container's cgroup and its writable layer; a header-only file if neither is found. */
  private async monitorUsage(container: Docker.Container, task: ContainerTask): Promise<UsageMonitor> {
    const info = await container.inspect().catch(() => null);
    const pid = info?.State.Pid ?? 0;
    const files = pid > 0 ? await cgroupFilesOf(pid) : null;
    const gone = async () => null;
    const rootfsDir = (info?.GraphDriver.Data as { UpperDir?: string } | undefined)?.UpperDir ?? null;
    const probe = cgroupProbe(files ?? { cpu: gone, memory: gone }, { rootfsDir, ioBytes: () => treeBytes(task.ioDir) });
    return startUsageMonitor(probe, task.usagePath);
  }

  /**
   * The image's own VOLUMEs, as directories on the attempt's scratch volume: left to Docker they
   * would be anonymous volumes on the host's disk, outside the storage quota. Relative paths
   * are absolute, as Docker takes them.
   */
  private async imageVolumeMounts(image: string, writableLayerDir: string): Promise<Docker.MountSettings[]> {
    const info = await this.docker.getImage(image).inspect();
    const paths = Object.keys(info.Config?.Volumes ?? {});
    const root = path.join(path.dirname(writableLayerDir), 'image-volumes');
    return Promise.all(
      paths.map(async (p, i) => {
        const source = path.join(root, String(i));
        await mkdir(source, { recursive: true });
        return { Type: 'bind' as const, Source: source, Target: path.posix.resolve('/', p), ReadOnly: false };
      }),
    );
  }

  private containerOptions(
    task: ContainerTask,
    image: string,
    imageVolumes: Docker.MountSettings[] = [],
    holder: { holder: Holder; filesDir: string } | null = null,
  ): Docker.ContainerCreateOptions {
    const labels = attemptLabels(task.attempt, task.name);
    const ioMount = { Type: 'bind' as const, Source: task.ioDir, Target: '/io', ReadOnly: false };
    if (task.kind === 'copy') {
      const { script, mounts } = copierScript(task.direction, task.transfers);
      const { uid, gid } = this.options.copierUser;
      return {
        Image: image,
        Cmd: ['/bin/sh', '-c', script],
        Labels: labels,
        // Never root on the host's files: the storage owner, no capabilities, no way to gain any.
        User: `${uid}:${gid}`,
        HostConfig: {
          Mounts: [ioMount, ...mounts],
          NetworkMode: 'none',
          CapDrop: ['ALL'],
          SecurityOpt: ['no-new-privileges'],
          ReadonlyRootfs: true,
        },
      };
    }
    // Without MemorySwap equal to Memory the container swaps instead of being OOM-killed.
    const memory = task.memoryBytes > 0 ? Math.max(6 * 1024 * 1024, Math.floor(task.memoryBytes * 0.99)) : 0;
    // Docker leaves a path alone that is mounted already: the holder's files stay its own.
    const networkFiles: Docker.MountSettings[] = holder
      ? NETWORK_FILES.map((name) => ({ Type: 'bind' as const, Source: path.join(holder.filesDir, name), Target: `/etc/${name}`, ReadOnly: true }))
      : [];
    const networkMode = holder ? `container:${holder.holder.id}` : this.jobNetwork;
    return {
      Image: image,
      Cmd: task.command,
      Env: Object.entries(task.env).map(([k, v]) => `${k}=${v}`),
      Labels: labels,
      HostConfig: {
        Mounts: [ioMount, ...imageVolumes, ...networkFiles],
        ...(networkMode ? { NetworkMode: networkMode } : {}),
        NanoCpus: task.coresMcpu > 0 ? task.coresMcpu * 1_000_000 : undefined,
        Memory: memory || undefined,
        MemorySwap: memory || undefined,
      },
    };
  }

  /** Returns why the image is unusable, or null when it is present (pulling it if need be). */
  private async ensureImage(image: string, signal: AbortSignal): Promise<{ error: string; shortError: string } | null> {
    try {
      await this.docker.getImage(image).inspect();
      return null;
    } catch {
      // Not present locally: try the registry.
    }
    try {
      const stream = await this.docker.pull(image);
      await pullDone(stream, signal);
      return null;
    } catch (err) {
      return pullFailure(image, message(err));
    }
  }
}

/**
 * Waits for a pull's progress stream to end, failing on its first error line. Read here, not
 * with modem.followProgress, which parses lines inside a 'data' handler (a bad line throws
 * out of the event loop) and drops its 'error' listener once finished.
 */
function pullDone(stream: NodeJS.ReadableStream, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let buffered = '';
    let failure: Error | null = null;
    let finished = false;
    const finish = (err: Error | null) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      stream.removeAllListeners('data');
      (stream as { destroy?: () => void }).destroy?.();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => finish(new Error('pull timed out')), PULL_TIMEOUT_MS);
    const onAbort = () => finish(new Error('cancelled'));
    signal.addEventListener('abort', onAbort, { once: true });
    stream.on('error', (err: unknown) => finish(err instanceof Error ? err : new Error(String(err))));
    stream.on('data', (chunk: Buffer | string) => {
      buffered += chunk.toString();
      if (buffered.length > 1 << 20 && !buffered.includes('\n')) {
        failure ??= new Error('pull progress line too long');
        buffered = '';
      }
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line === '' || failure) continue;
        try {
          const event = JSON.parse(line) as { error?: unknown; errorDetail?: { message?: unknown } };
          if (event.error !== undefined) failure = new Error(String(event.errorDetail?.message ?? event.error));
        } catch {
          failure = new Error(`unreadable pull progress: ${line.slice(0, 200)}`);
        }
      }
    });
    stream.once('end', () => finish(failure));
    stream.once('close', () => finish(failure));
  });
}

/** What marks a container as this instance's (holders carry only this and their role). */
function instanceLabels(instance: string, container: string): Record<string, string> {
  return { [LABEL_INSTANCE]: instance, 'hail-batch.container': container };
}

export function attemptLabels(a: AttemptLabels, container: string): Record<string, string> {
  return {
    [LABEL_INSTANCE]: a.instance,
    'hail-batch.batch_id': String(a.batchId),
    'hail-batch.job_id': String(a.jobId),
    'hail-batch.attempt_id': a.attemptId,
    'hail-batch.container': container,
  };
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
