/**
 * Network namespaces made ahead and lent to main containers one at a time, as Hail's worker
 * keeps a pool of network namespaces. Setting up a container's network (a veth pair on the
 * jobs bridge, and on a user-defined network the embedded DNS's rules inside the new
 * namespace) is most of what starting a short container costs: at 32 in parallel on this
 * 2-core machine, `docker run --rm busybox true` ran 3.4/s on the jobs network, 4.1/s on
 * Docker's default bridge and 8.5/s joining a running container's namespace.
 *
 * A holder is an idle `sleep` container on the jobs network, unprivileged and read-only,
 * labelled with the instance like every container of ours (so a killed agent's holders go
 * with its orphans). A main container joins its namespace (`NetworkMode: container:<id>`)
 * and the holder comes back to the pool once that container is removed, which kills every
 * process of the job: nothing of the job lives on in the namespace, and without NET_ADMIN it
 * can change no address, route or rule there. What a joined container would share and could
 * write, the holder's /etc/resolv.conf, hosts and hostname, it gets as read-only copies made
 * when the holder started, so no job leaves anything there for the next.
 */
import { readFile } from 'node:fs/promises';
import type Docker from 'dockerode';

export type NetworkFile = 'resolv.conf' | 'hosts' | 'hostname';
export const NETWORK_FILES: readonly NetworkFile[] = ['resolv.conf', 'hosts', 'hostname'];

export type Holder = {
  id: string;
  /** The holder's files as they were when it started, for read-only binds into each job. */
  files: Record<NetworkFile, string>;
};

export type NetworkHoldersOptions = {
  image: string;
  /** The network holders join; null: Docker's default bridge. */
  network: string | null;
  labels: (instance: string) => Record<string, string>;
  /** Idle holders kept at most; more are removed when they come back. */
  maxIdle: number;
};

// A holder needs only to exist: a few MiB and a couple of processes are plenty.
const HOLDER_MEMORY_BYTES = 16 * 1024 * 1024;

export class NetworkHolders {
  private readonly idle: Holder[] = [];

  constructor(
    private readonly docker: Docker,
    private readonly options: NetworkHoldersOptions,
  ) {}

  /** A running holder of its own for one container; made now if none is idle. */
  async lease(instance: string): Promise<Holder> {
    for (let h = this.idle.pop(); h !== undefined; h = this.idle.pop()) {
      // A holder that died while idle (killed from outside) would fail the job's start.
      const info = await this.docker.getContainer(h.id).inspect().catch(() => null);
      if (info?.State.Running === true) return h;
      await this.discard(h);
    }
    return this.create(instance);
  }

  /** Back to the pool once the container that used it is gone; `reusable` false removes it. */
  async release(holder: Holder, reusable: boolean): Promise<void> {
    if (reusable && this.idle.length < this.options.maxIdle) this.idle.push(holder);
    else await this.discard(holder);
  }

  /**
   * Makes holders until `count` are idle, `parallel` at a time, as Hail's worker reserves its
   * namespaces at start: the first jobs then start as fast as the later ones. Stops at the
   * first failure (the pool then fills as jobs come, or they run without it).
   */
  async fill(instance: string, count: number, parallel = 4): Promise<void> {
    const wanted = Math.min(count, this.options.maxIdle) - this.idle.length;
    let left = wanted;
    let failed = false;
    await Promise.all(
      Array.from({ length: Math.min(parallel, Math.max(0, wanted)) }, async () => {
        while (left > 0 && !failed) {
          left--;
          try {
            this.idle.push(await this.create(instance));
          } catch {
            failed = true;
          }
        }
      }),
    );
  }

  get idleCount(): number {
    return this.idle.length;
  }

  private async create(instance: string): Promise<Holder> {
    const container = await this.docker.createContainer({
      Image: this.options.image,
      Cmd: ['sleep', '2147483647'],
      Labels: { ...this.options.labels(instance) },
      User: '65534:65534',
      HostConfig: {
        ...(this.options.network ? { NetworkMode: this.options.network } : {}),
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges'],
        ReadonlyRootfs: true,
        Memory: HOLDER_MEMORY_BYTES,
        MemorySwap: HOLDER_MEMORY_BYTES,
        PidsLimit: 8,
      },
    });
    try {
      await container.start();
      const info = await container.inspect();
      const paths: Record<NetworkFile, string> = { 'resolv.conf': info.ResolvConfPath, hosts: info.HostsPath, hostname: info.HostnamePath };
      const files = {} as Record<NetworkFile, string>;
      for (const name of NETWORK_FILES) files[name] = await readFile(paths[name], 'utf8');
      return { id: container.id, files };
    } catch (err) {
      await container.remove({ force: true }).catch(() => undefined);
      throw new Error(`making a network holder: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private async discard(holder: Holder): Promise<void> {
    await this.docker
      .getContainer(holder.id)
      .remove({ force: true })
      .catch(() => undefined);
  }
}
