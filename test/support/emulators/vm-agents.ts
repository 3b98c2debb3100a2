/**
 * What an emulated VM runs: the startup script the driver gave it, in bash, exactly as a VM
 * boots it, with the few HB_STARTUP_* settings a real VM leaves unset: its metadata server is
 * the emulator's (which answers for that VM by the path), the agent runs as a local process
 * (started the way the local driver starts one, its own log) instead of in the worker image,
 * and "power off" writes a file instead of halting this machine.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { childEnv } from '../../../config';
import { processAlive } from '../../../activities/cloud/pids';

const cliEntry = fileURLToPath(new URL('../../../cli/main.ts', import.meta.url));

export type VmAgentOptions = {
  /** The agents' data directory (the service's, so logs land where the API reads them). */
  dataDir: string;
  executor: 'docker' | 'process';
  /**
   * The cloud's network as a Docker bridge network of subnet `<prefix>.0/24` (made by the
   * caller): each VM gets an address in it, and what a VM runs in Docker (a cluster node) runs
   * on that network at that address. Without it VMs get addresses nothing listens on.
   */
  vpc?: { dockerNetwork: string; prefix: string };
};

/** Private addresses of an emulator's VMs, `<prefix>.2` upwards, as the cloud's DHCP hands them out. */
export function addressPool(prefix = '10.128.0'): { take(): string; give(ip: string): void } {
  const used = new Set<string>();
  return {
    take() {
      for (let i = 2; i < 255; i++) {
        const ip = `${prefix}.${i}`;
        if (!used.has(ip)) {
          used.add(ip);
          return ip;
        }
      }
      throw new Error(`no address left in ${prefix}.0/24`);
    },
    give: (ip) => void used.delete(ip),
  };
}

/** What the instance metadata holds for one VM: GCE's attributes, or Azure's base64 userData. */
export type VmMetadata = { kind: 'gcp'; attributes: Record<string, string> } | { kind: 'azure'; userData: string; managedIdentity: string | null };

/**
 * A managed identity's access token as Azure's IMDS hands it out: a JWT for `resource`, which
 * Azurite's OAuth mode checks for lifetime, issuer and audience (no signature: it cannot know
 * Entra ID's keys).
 */
function managedIdentityToken(identity: string, resource: string): Record<string, string> {
  const now = Math.floor(Date.now() / 1000);
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const tenant = '00000000-0000-4000-8000-00000000a11d';
  const claims = { aud: resource, iss: `https://sts.windows.net/${tenant}/`, iat: now, nbf: now - 60, exp: now + 3600, xms_mirid: identity, tid: tenant, ver: '1.0' };
  return {
    access_token: `${enc({ alg: 'RS256', typ: 'JWT' })}.${enc(claims)}.${Buffer.from('emulated').toString('base64url')}`,
    client_id: '00000000-0000-4000-8000-00000000c1d0',
    expires_in: '3599',
    expires_on: String(now + 3599),
    ext_expires_in: '3599',
    not_before: String(now - 60),
    resource,
    token_type: 'Bearer',
  };
}

export type MetadataServer = {
  url: string;
  /**
   * The IMDS host of one Azure VM's managed identity. The Azure SDK joins IMDS's token path to
   * a bare host (AZURE_POD_IDENTITY_AUTHORITY_HOST), so each VM gets a listener of its own,
   * answering for that VM's identity alone.
   */
  identityHost(name: string): Promise<string>;
  close(): Promise<void>;
};

/**
 * The instance metadata service of an emulator's VMs (GCE's metadata server, Azure's IMDS),
 * each VM under /vm/<name>, answering only with the header the real one demands.
 */
export async function startMetadataServer(lookup: (name: string) => VmMetadata | null): Promise<MetadataServer> {
  const server = http.createServer((req, res) => {
    const answer = (status: number, body: string) => {
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(body);
    };
    const m = /^\/vm\/([a-z0-9-]+)(\/.*)$/.exec(req.url ?? '');
    const md = m ? lookup(m[1]!) : null;
    if (!m || !md) return answer(404, 'not found');
    const rest = m[2]!;
    if (md.kind === 'gcp') {
      if (req.headers['metadata-flavor'] !== 'Google') return answer(403, 'missing Metadata-Flavor: Google');
      const attr = /^\/computeMetadata\/v1\/instance\/attributes\/([\w-]+)$/.exec(rest)?.[1];
      if (attr !== undefined) return attr in md.attributes ? answer(200, md.attributes[attr]!) : answer(404, 'not found');
      if (rest === '/computeMetadata/v1/instance/network-interfaces/0/ip') return answer(200, '127.0.0.1');
    } else {
      if (req.headers.metadata !== 'true') return answer(400, 'missing Metadata: true');
      if (rest.startsWith('/metadata/instance/compute/userData?')) return answer(200, md.userData);
      if (rest.startsWith('/metadata/instance/network/interface/0/ipv4/ipAddress/0/privateIpAddress')) return answer(200, '127.0.0.1');

    }
    answer(404, 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const identities = new Map<string, Promise<http.Server>>();
  const identityServer = async (name: string): Promise<http.Server> => {
    const srv = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://imds');
      const md = lookup(name);
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      // MSAL asks with a trailing slash, the other SDKs without: IMDS takes both.
      if (url.pathname.replace(/\/$/, '') !== '/metadata/identity/oauth2/token' || !md || md.kind !== 'azure') return reply(404, { error: 'not_found' });
      if (req.headers.metadata !== 'true') return reply(400, { error: 'invalid_request', error_description: 'Required metadata header not specified' });
      // What IMDS says on a VM without an identity.
      if (!md.managedIdentity) return reply(400, { error: 'invalid_request', error_description: 'Identity not found' });
      reply(200, managedIdentityToken(md.managedIdentity, url.searchParams.get('resource') ?? ''));
    });
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    return srv;
  };
  const closeServer = (srv: http.Server) => new Promise<void>((resolve) => (srv.closeAllConnections(), srv.close(() => resolve())));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async identityHost(name) {
      if (!identities.has(name)) identities.set(name, identityServer(name));
      return `http://127.0.0.1:${((await identities.get(name)!).address() as AddressInfo).port}`;
    },
    async close() {
      for (const srv of identities.values()) await closeServer(await srv);
      await closeServer(server);
    },
  };
}

/**
 * Boots the VM: runs its startup script (the bash text a VM would run) in its own process
 * group, which the agent joins. Returns the script's pid, the group's leader.
 */
export function bootVm(opts: VmAgentOptions, vm: { name: string; script: string; metadataUrl: string; identityHost?: string; ip?: string }): number {
  const vmDir = path.join(opts.dataDir, 'vms');
  const logDir = path.join(opts.dataDir, 'agents');
  mkdirSync(vmDir, { recursive: true });
  mkdirSync(logDir, { recursive: true });
  const scriptFile = path.join(vmDir, `${vm.name}.sh`);
  writeFileSync(scriptFile, vm.script, { mode: 0o700 });
  const out = openSync(path.join(logDir, `${vm.name}.log`), 'a');
  const child = spawn('bash', [scriptFile], {
    detached: true,
    stdio: ['ignore', out, out],
    env: childEnv({
      HB_STARTUP_METADATA_URL: `${vm.metadataUrl}/vm/${vm.name}`,
      // The Azure SDK's managed identity asks IMDS at 169.254.169.254 unless told otherwise
      // (AKS pod identity's variable): here, this VM's identity listener.
      AZURE_POD_IDENTITY_AUTHORITY_HOST: vm.identityHost,
      HB_STARTUP_AGENT_COMMAND: `${process.execPath} --import tsx ${cliEntry} agent`,
      HB_STARTUP_DATA_DIR: opts.dataDir,
      HB_STARTUP_POWEROFF_FILE: path.join(vmDir, `${vm.name}.poweroff`),
      // Many VMs share this machine: each agent takes a free port and reports it.
      HB_STARTUP_AGENT_PORT: 0,
      HB_CLOUD: 'local',
      HB_EXECUTOR: opts.executor,
      ...(opts.vpc && vm.ip ? { HB_STARTUP_DOCKER_NETWORK: opts.vpc.dockerNetwork, HB_STARTUP_NODE_IP: vm.ip } : {}),
    }),
  });
  closeSync(out);
  child.unref();
  if (!child.pid) throw new Error(`could not boot VM ${vm.name}`);
  return child.pid;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** To the VM's whole process group: its startup script and the agent under it. */
function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // Gone meanwhile.
  }
}

/**
 * The VM stops. Deleted: the agent gets SIGTERM (a VM's ACPI shutdown) and `graceMs` to
 * finish; reclaimed: SIGKILL at once. Its containers go with it, as with a real VM.
 */
export async function haltAgent(opts: VmAgentOptions, name: string, pid: number | null, graceMs: number): Promise<void> {
  if (pid !== null && processAlive(pid)) {
    signal(pid, graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
    const deadline = Date.now() + graceMs;
    while (processAlive(pid) && Date.now() < deadline) await sleep(50);
  }
  // Whatever of the group is left (an agent that outlived its script) goes now.
  if (pid !== null) signal(pid, 'SIGKILL');
  // Containers the VM ran (its jobs', or a cluster node's) carry its name.
  if (opts.executor !== 'docker' && !opts.vpc) return;
  const docker = new Docker();
  const found = await docker.listContainers({ all: true, filters: { label: [`hail-batch.instance=${name}`] } }).catch(() => []);
  await Promise.all(found.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
}
