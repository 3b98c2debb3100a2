/**
 * Starts one worker-VM agent in this process: executor, job runner, HTTP server, activation
 * and heartbeats. The CLI entry (main.ts) and the local cloud driver both start agents here.
 */
import type { Server } from 'node:http';
import { mkdir, rm } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import Docker from 'dockerode';
import type { Config } from '../config/index';
import type { ObjectStore } from '../storage/object-store';
import { openObjectStore } from '../storage/stores';
import { withRetriedPuts } from '../storage/retrying-store';
import { Attempts } from './attempts';
import { CpuSemaphore } from './cpu-semaphore';
import { DriverClient } from './driver-client';
import { DockerExecutor } from './executors/docker';
import type { Executor } from './executors/executor';
import { ProcessExecutor } from './executors/process';
import { createLogger, type Logger } from './logger';
import { sleep } from './retry';
import { createAgentApp } from './server';
import { removeLeftoverMounts, ScratchVolumes } from './scratch-volume';
import type { Owner } from './storage-access';

export type RunningAgent = {
  name: string;
  /** Where the driver reaches this agent, e.g. http://127.0.0.1:5101. */
  url: string;
  port: number;
  /** Resolves true once the API accepted the activation (false if stopped first). */
  activated: Promise<boolean>;
  attempts: Attempts;
  /** Stops taking jobs, kills running ones, deactivates and closes the server. */
  stop(): Promise<void>;
};

export type AgentOverrides = { store?: ObjectStore; executor?: Executor; log?: Logger };

// Reports of attempts that finished just before shutdown get this long to go out.
const STOP_GRACE_MS = 5_000;

export async function startAgent(config: Config, overrides: AgentOverrides = {}): Promise<RunningAgent> {
  const settings = config.agent;
  const { name, activationToken } = settings;
  if (!name) throw new Error('agent needs a name (HB_AGENT_NAME)');
  if (!activationToken) throw new Error('agent needs an activation token (HB_AGENT_ACTIVATION_TOKEN)');
  const log = overrides.log ?? createLogger(name, config.logLevel);

  // Root hands copied files to the storage owner; any other user is unprivileged already.
  const owner = process.getuid?.() === 0 ? config.storage.owner : null;
  const executor = overrides.executor ?? createExecutor(config, owner);
  for (const warning of await executor.prepare()) log.warn(warning);
  // Before the orphans go: Docker cannot delete a layer directory that a volume is bound over.
  const leftovers = await removeLeftoverMounts(settings.scratchDir);
  if (leftovers > 0) log.warn('unmounted scratch volumes left by an earlier run', { count: leftovers });
  const volumes = executor.kind === 'docker' ? await ScratchVolumes.detect() : null;
  if (executor.kind === 'docker' && volumes === null) log.warn('storage quotas are not enforced: scratch volumes need root, mount and mkfs.ext4');
  const orphans = await executor.removeOrphans(name);
  if (orphans > 0) log.warn('removed containers left by an earlier run', { count: orphans });
  // One slot per smallest job (a quarter core), as the scheduler may fill the machine with them.
  await executor.warmUp(name, Math.max(1, Math.floor(settings.cores * 4)));
  // Scratch files of an earlier run belong to attempts nobody will report any more.
  await rm(settings.scratchDir, { recursive: true, force: true });
  await mkdir(settings.scratchDir, { recursive: true });

  const lifetime = new AbortController();
  const client = new DriverClient({ apiUrl: settings.apiUrl, name, activationToken, signal: lifetime.signal, log });
  const attempts = new Attempts({
    instance: name,
    region: config.region,
    scratchDir: settings.scratchDir,
    executor,
    semaphore: new CpuSemaphore(settings.cores * 1000),
    store: withRetriedPuts(overrides.store ?? openObjectStore(config.objectStore), (key, err, attempt) =>
      log.warn('object store write failed, retrying', { key, attempt, error: String(err) }),
    ),
    storage: { rootsFor: config.storage.rootsFor, defaultBase: config.storage.defaultBase, owner },
    client,
    log,
    volumes,
    cloudStorage: config.storage.endpoints,
  });

  let stopping = false;
  const app = createAgentApp({ name, attempts, isStopping: () => stopping, maxBodyBytes: config.api.bodyLimitBytes, log });
  const { server, port } = await listen(app.fetch, settings.host, settings.port ?? 0, log);
  const url = `http://${urlHost(settings.host)}:${port}`;

  const activated = (async () => {
    const ok = await client.activate({ ip_address: ipAddress(settings.host), port });
    if (!ok) return false;
    log.info('activated', { url });
    void heartbeats(client, attempts, settings.heartbeatMs, lifetime.signal).catch((err: unknown) =>
      log.error('heartbeats stopped', { error: String(err) }),
    );
    return true;
  })().catch((err: unknown) => {
    log.error('activation failed', { error: String(err) });
    return false;
  });

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      stopping = true;
      await attempts.killAll();
      await Promise.race([attempts.idle(), sleep(STOP_GRACE_MS)]);
      lifetime.abort();
      // What is left of this instance's containers once its attempts are idle: the network holders.
      await executor.removeOrphans(name).catch((err: unknown) => log.warn('removing containers at stop failed', { error: String(err) }));
      if (await activated) await client.deactivate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    })());

  return { name, url, port, activated, attempts, stop };
}

function createExecutor(config: Config, owner: Owner): Executor {
  if (config.agent.executor === 'process') return new ProcessExecutor(owner);
  const copierUser = owner ?? { uid: process.getuid?.() ?? 65534, gid: process.getgid?.() ?? 65534 };
  return new DockerExecutor(new Docker({ socketPath: config.agent.dockerSocket }), {
    copierImage: config.agent.copierImage,
    copierUser,
    owner,
  });
}

async function heartbeats(client: DriverClient, attempts: Attempts, everyMs: number, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    await client.heartbeat(attempts.running());
    await sleep(everyMs, signal);
  }
}

function listen(
  fetch: Parameters<typeof serve>[0]['fetch'],
  hostname: string,
  port: number,
  log: Logger,
): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    let listening = false;
    const server = serve({ fetch, hostname, port }, (info: AddressInfo) => {
      listening = true;
      resolve({ server, port: info.port });
    }) as Server;
    // Before listening an error means no agent; after it, one bad connection is only logged.
    server.on('error', (err) => (listening ? log.error('server error', { error: String(err) }) : reject(err)));
    server.on('clientError', (err, socket) => {
      log.debug('bad client request', { error: String(err) });
      socket.destroy();
    });
  });
}

const ANY_HOST = new Set(['0.0.0.0', '::', '']);

/** The address the driver should call: the bound host, or this machine's first external IPv4. */
function ipAddress(host: string): string {
  if (!ANY_HOST.has(host)) return host;
  for (const addrs of Object.values(networkInterfaces())) {
    const external = addrs?.find((a) => a.family === 'IPv4' && !a.internal);
    if (external) return external.address;
  }
  return '127.0.0.1';
}

function urlHost(host: string): string {
  const ip = ipAddress(host);
  return ip.includes(':') ? `[${ip}]` : ip;
}
