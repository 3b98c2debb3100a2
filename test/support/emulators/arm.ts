/**
 * An Azure Resource Manager emulator: the subset @azure/arm-compute and @azure/arm-network
 * send for worker VMs (virtualMachines PUT / GET / list / DELETE / simulateEviction,
 * networkInterfaces and publicIPAddresses PUT / GET / list / DELETE, compute usages per
 * location for the cores quota), long-running operations through `Azure-AsyncOperation`, and
 * real state: a VM is Creating until it boots: the script inside its base64 `customData`
 * (cloud-init's write_files) runs, reads the token from its `userData` through the emulator's
 * IMDS and starts a real agent process; deleting it deletes the NIC and public IP marked `deleteOption: Delete`.
 * Errors are injected on request (HTTP status and ARM error code, in the call or, with status
 * 200, in the operation); a Spot VM can be evicted (agent killed, VM deleted under policy Delete).
 * It also serves Azure's retail prices API for its locations (price-lists.ts), as Azure does
 * without credentials.
 */
import { randomUUID } from 'node:crypto';
import { Injections, serve, type Injection, type Res, type Route, type Server } from './http';
import { addressPool, bootVm, haltAgent, startMetadataServer, type VmAgentOptions } from './vm-agents';
import { azureRetailRoute, defaultListPrices, type ListPrice } from './price-lists';

type Json = Record<string, unknown>;
type Resource = { id: string; kind: 'vm' | 'nic' | 'ip'; name: string; location: string; body: Json; pid: number | null; cores: number };
type AsyncOp = { status: 'InProgress' | 'Succeeded' | 'Failed'; error?: { code: string; message: string } };

export type ArmEmulatorOptions = VmAgentOptions & {
  subscriptionId: string;
  resourceGroup: string;
  /** location → cores quota. */
  locations: { location: string; coresQuota: number }[];
  port?: number;
  bootMs?: number;
  /** The locations' list prices (default: defaultListPrices of the locations). */
  prices?: ListPrice[];
};

export type ArmEmulator = Server & {
  inject(i: Injection): void;
  /** Evicts a Spot VM as Azure would: no grace; deleted (with its NIC and IP) under policy Delete. */
  preempt(name: string): Promise<void>;
  resources(): { kind: string; name: string; location: string; tags: Record<string, string>; body: Json }[];
  calls: string[];
  /** Changes the list prices the retail API serves from now on. */
  setPrices(prices: ListPrice[]): void;
  /** The driver's settings for this emulator's subscription, resource group and locations. */
  driverEnv(deployment: string): Record<string, string>;
};

const armError = (status: number, code: string, message: string): Res => ({ status, body: { error: { code, message } } });
/** vCPUs of the sizes the driver asks for: Standard_D4s_v5, Standard_E8s_v5, Standard_F16s_v2. */
const coresOf = (size: string) => Number(/^Standard_[A-Z]+(\d+)/.exec(size)?.[1] ?? 1);

/** The script a cloud-config hands cloud-init (write_files, base64), or the customData itself. */
function cloudInitScript(customData: string): string {
  if (!customData.startsWith('#cloud-config')) return customData;
  const b64 = /content: ([A-Za-z0-9+/=]+)/.exec(customData)?.[1];
  return b64 ? Buffer.from(b64, 'base64').toString('utf8') : '';
}

export async function startArmEmulator(opts: ArmEmulatorOptions): Promise<ArmEmulator> {
  const bootMs = opts.bootMs ?? 200;
  const store = new Map<string, Resource>();
  const addresses = addressPool(opts.vpc?.prefix);
  /** A NIC's private address (ARM's Dynamic allocation), set when the NIC is made. */
  const nicAddress = (r: Resource | undefined): string | undefined => {
    const configs = (((r?.body.properties ?? {}) as Json).ipConfigurations ?? []) as Json[];
    const ip = ((configs[0]?.properties ?? {}) as Json).privateIPAddress;
    return typeof ip === 'string' ? ip : undefined;
  };
  const metadata = await startMetadataServer((name) => {
    const r = [...store.values()].find((x) => x.kind === 'vm' && x.name === name);
    const userData = r ? ((r.body.properties ?? {}) as Json).userData : undefined;
    const assigned = Object.keys((((r?.body.identity ?? {}) as Json).userAssignedIdentities ?? {}) as Json);
    return typeof userData === 'string' ? { kind: 'azure', userData, managedIdentity: assigned[0] ?? null } : null;
  });
  const ops = new Map<string, AsyncOp>();
  const injections = new Injections();
  const calls: string[] = [];
  const locations = new Set(opts.locations.map((l) => l.location));
  let base = '';
  const sub = `/subscriptions/${opts.subscriptionId}`;
  const rgPath = `${sub}/resourceGroups/${opts.resourceGroup}`;
  const providers = { vm: 'Microsoft.Compute/virtualMachines', nic: 'Microsoft.Network/networkInterfaces', ip: 'Microsoft.Network/publicIPAddresses' } as const;
  const idOf = (kind: Resource['kind'], name: string) => `${rgPath}/providers/${providers[kind]}/${name}`;
  const key = (id: string) => id.toLowerCase();

  const json = (r: Resource) => ({ ...r.body, id: r.id, name: r.name, type: providers[r.kind], location: r.location });
  const newOp = (location: string): { id: string; header: Record<string, string> } => {
    const id = randomUUID();
    ops.set(id, { status: 'InProgress' });
    return { id, header: { 'azure-asyncoperation': `${base}${sub}/providers/Microsoft.Compute/locations/${location}/operations/${id}?api-version=2024-07-01`, 'retry-after': '0' } };
  };
  const setState = (r: Resource, state: string) => {
    r.body = { ...r.body, properties: { ...((r.body.properties ?? {}) as Json), provisioningState: state } };
  };
  const usedCores = (location: string) => [...store.values()].filter((r) => r.kind === 'vm' && r.location === location).reduce((n, r) => n + r.cores, 0);
  const quotaOf = (location: string) => opts.locations.find((l) => l.location === location)?.coresQuota ?? 0;

  async function remove(r: Resource, graceMs: number): Promise<void> {
    setState(r, 'Deleting');
    if (r.kind === 'vm') {
      await haltAgent(opts, r.name, r.pid, graceMs);
      r.pid = null;
      const props = (r.body.properties ?? {}) as Json;
      const nics = (((props.networkProfile ?? {}) as Json).networkInterfaces ?? []) as Json[];
      for (const n of nics) {
        const nic = store.get(key(String(n.id)));
        if (nic && ((n.properties ?? {}) as Json).deleteOption === 'Delete') await remove(nic, 0);
      }
    }
    if (r.kind === 'nic') {
      const ip = nicAddress(r);
      if (ip) addresses.give(ip);
      for (const c of (((r.body.properties ?? {}) as Json).ipConfigurations ?? []) as Json[]) {
        const pip = ((c.properties ?? {}) as Json).publicIPAddress as Json | undefined;
        const ip = pip && store.get(key(String(pip.id)));
        if (ip && ((pip.properties ?? {}) as Json).deleteOption === 'Delete') await remove(ip, 0);
      }
    }
    store.delete(key(r.id));
  }
  async function evict(r: Resource): Promise<void> {
    const props = (r.body.properties ?? {}) as Json;
    if (props.priority !== 'Spot') return;
    if (props.evictionPolicy === 'Delete') await remove(r, 0);
    else {
      await haltAgent(opts, r.name, r.pid, 0);
      r.pid = null;
    }
  }

  const badRg = (m: RegExpExecArray) =>
    m[1]!.toLowerCase() !== opts.subscriptionId.toLowerCase()
      ? armError(404, 'SubscriptionNotFound', `The subscription '${m[1]}' could not be found.`)
      : m[2]!.toLowerCase() !== opts.resourceGroup.toLowerCase()
        ? armError(404, 'ResourceGroupNotFound', `Resource group '${m[2]}' could not be found.`)
        : null;
  const RG = '^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/';

  function crud(kind: Resource['kind']): Route[] {
    const path = providers[kind].replace('.', '\\.');
    const one = new RegExp(`${RG}${path}/([^/]+)$`, 'i');
    return [
      {
        method: 'PUT',
        pattern: one,
        handle: (req, m) => {
          const bad = badRg(m);
          if (bad) return bad;
          const body = (req.body ?? {}) as Json;
          const location = String(body.location ?? '');
          if (!locations.has(location)) return armError(400, 'LocationNotAvailableForResourceType', `The provided location '${location}' is not available.`);
          const inj = injections.take(`${kind}.put`, location);
          if (inj && inj.status !== 200) return { ...armError(inj.status, inj.code, inj.message ?? inj.code), headers: inj.status === 429 ? { 'retry-after': '0' } : {} };
          const id = idOf(kind, m[3]!);
          const existing = store.get(key(id));
          // A PUT of a resource that exists updates it; a VM's settings are left as they were here.
          if (existing) return { status: 200, body: json(existing) };
          const props = (body.properties ?? {}) as Json;
          const cores = kind === 'vm' ? coresOf(String(((props.hardwareProfile ?? {}) as Json).vmSize ?? '')) : 0;
          const op = newOp(location);
          const opState = ops.get(op.id)!;
          if (inj) {
            opState.status = 'Failed';
            opState.error = { code: inj.code, message: inj.message ?? inj.code };
            return { status: 201, body: { ...body, id, name: m[3], properties: { ...props, provisioningState: 'Creating' } }, headers: op.header };
          }
          if (kind === 'vm' && usedCores(location) + cores > quotaOf(location)) {
            return armError(409, 'OperationNotAllowed', `Operation could not be completed as it results in exceeding approved Total Regional Cores quota. Location: ${location}, Current Limit: ${quotaOf(location)}.`);
          }
          const made: Json = { ...props };
          if (kind === 'vm') made.timeCreated = new Date().toISOString();
          if (kind === 'nic') {
            const configs = (props.ipConfigurations ?? []) as Json[];
            made.ipConfigurations = configs.map((c, i) => (i === 0 ? { ...c, properties: { ...((c.properties ?? {}) as Json), privateIPAddress: addresses.take() } } : c));
          }
          const r: Resource = { id, kind, name: m[3]!, location, body: { ...body, properties: made }, pid: null, cores };
          setState(r, kind === 'vm' ? 'Creating' : 'Succeeded');
          store.set(key(id), r);
          if (kind !== 'vm') {
            opState.status = 'Succeeded';
            return { status: 201, body: json(r), headers: op.header };
          }
          setTimeout(async () => {
            const identityHost = await metadata.identityHost(r.name);
            if (store.get(key(id)) === r) {
              const custom = Buffer.from(String(((props.osProfile ?? {}) as Json).customData ?? ''), 'base64').toString('utf8');
              const nicId = ((((props.networkProfile ?? {}) as Json).networkInterfaces ?? []) as Json[])[0]?.id;
              const ip = nicAddress(store.get(key(String(nicId ?? ''))));
              r.pid = bootVm(opts, { name: r.name, script: cloudInitScript(custom), metadataUrl: metadata.url, identityHost, ip });
              setState(r, 'Succeeded');
              opState.status = 'Succeeded';
            } else {
              opState.status = 'Failed';
              opState.error = { code: 'Canceled', message: 'the resource was deleted' };
            }
          }, bootMs);
          return { status: 201, body: json(r), headers: op.header };
        },
      },
      {
        method: 'GET',
        pattern: one,
        handle: (_req, m) => {
          const bad = badRg(m);
          if (bad) return bad;
          const inj = injections.take(`${kind}.get`, null);
          if (inj) return armError(inj.status, inj.code, inj.message ?? inj.code);
          const r = store.get(key(idOf(kind, m[3]!)));
          return r ? { status: 200, body: json(r) } : armError(404, 'ResourceNotFound', `The Resource '${providers[kind]}/${m[3]}' under resource group '${opts.resourceGroup}' was not found.`);
        },
      },
      {
        method: 'DELETE',
        pattern: one,
        handle: (_req, m) => {
          const bad = badRg(m);
          if (bad) return bad;
          const r = store.get(key(idOf(kind, m[3]!)));
          if (!r) return { status: 204 };
          const inj = injections.take(`${kind}.delete`, r.location);
          if (inj) return armError(inj.status, inj.code, inj.message ?? inj.code);
          const op = newOp(r.location);
          void remove(r, 5000).finally(() => (ops.get(op.id)!.status = 'Succeeded'));
          return { status: 202, headers: { ...op.header, location: op.header['azure-asyncoperation']! } };
        },
      },
      {
        method: 'GET',
        pattern: new RegExp(`${RG}${path}$`, 'i'),
        handle: (_req, m) => {
          const bad = badRg(m);
          if (bad) return bad;
          const inj = injections.take(`${kind}.list`, null);
          if (inj) return { ...armError(inj.status, inj.code, inj.message ?? inj.code), headers: inj.status === 429 ? { 'retry-after': '0' } : {} };
          return { status: 200, body: { value: [...store.values()].filter((r) => r.kind === kind).sort((a, b) => a.name.localeCompare(b.name)).map(json) } };
        },
      },
    ];
  }

  const routes: Route[] = [
    ...crud('vm'),
    ...crud('nic'),
    ...crud('ip'),
    {
      method: 'POST',
      pattern: new RegExp(`${RG}Microsoft\\.Compute/virtualMachines/([^/]+)/simulateEviction$`, 'i'),
      handle: async (_req, m) => {
        const bad = badRg(m);
        if (bad) return bad;
        const r = store.get(key(idOf('vm', m[3]!)));
        if (!r) return armError(404, 'ResourceNotFound', `VM ${m[3]} not found`);
        await evict(r);
        return { status: 204 };
      },
    },
    {
      method: 'GET',
      pattern: /^\/subscriptions\/([^/]+)\/providers\/Microsoft\.Compute\/locations\/([^/]+)\/operations\/([^/]+)$/i,
      handle: (_req, m) => {
        const op = ops.get(m[3]!);
        return op ? { status: 200, body: { name: m[3], status: op.status, ...(op.error ? { error: op.error } : {}) } } : armError(404, 'NotFound', 'operation not found');
      },
    },
    {
      method: 'GET',
      pattern: /^\/subscriptions\/([^/]+)\/providers\/Microsoft\.Compute\/locations\/([^/]+)\/usages$/i,
      handle: (_req, m) => {
        const location = m[2]!;
        if (!locations.has(location)) return armError(404, 'NotFound', `location ${location} not found`);
        return {
          status: 200,
          body: {
            value: [
              { unit: 'Count', name: { value: 'cores', localizedValue: 'Total Regional vCPUs' }, currentValue: usedCores(location), limit: quotaOf(location) },
              { unit: 'Count', name: { value: 'lowPriorityCores', localizedValue: 'Total Regional Low-priority vCPUs' }, currentValue: 0, limit: quotaOf(location) },
            ],
          },
        };
      },
    },
  ];

  let prices = opts.prices ?? defaultListPrices(opts.locations.map((l) => l.location));
  routes.push(azureRetailRoute(() => prices, () => base));
  const server = await serve(opts.port ?? 0, routes, (req) => {
    calls.push(`${req.method} ${req.path}`);
    // The retail prices API is public: no api-version, no token.
    if (req.path === '/api/retail/prices') return null;
    if (!req.query.get('api-version')) return armError(400, 'MissingApiVersionParameter', "The api-version query parameter (?api-version=) is required for all requests.");
    return /^Bearer \S+$/.test(String(req.headers.authorization ?? '')) ? null : armError(401, 'AuthenticationFailed', 'Authentication failed. The Authorization header is missing.');
  });
  base = server.url;

  return {
    ...server,
    calls,
    setPrices: (p) => {
      prices = p;
    },
    driverEnv: (deployment) => ({
      HB_CLOUD: 'azure',
      HB_AZURE_SUBSCRIPTION_ID: opts.subscriptionId,
      HB_AZURE_RESOURCE_GROUP: opts.resourceGroup,
      HB_AZURE_LOCATIONS: opts.locations.map((l) => l.location).join(','),
      HB_AZURE_SUBNET_ID: `${rgPath}/providers/Microsoft.Network/virtualNetworks/batch/subnets/workers`,
      HB_AZURE_PUBLIC_IP: 'true',
      HB_AZURE_ARM_ENDPOINT: server.url,
      HB_DEPLOYMENT: deployment,
    }),
    inject: (i) => injections.add(i),
    async preempt(name) {
      const r = store.get(key(idOf('vm', name)));
      if (r) await evict(r);
    },
    resources: () =>
      [...store.values()].map((r) => ({ kind: r.kind, name: r.name, location: r.location, tags: (r.body.tags ?? {}) as Record<string, string>, body: r.body })),
    async close() {
      for (const r of [...store.values()].filter((x) => x.kind === 'vm')) await remove(r, 0);
      store.clear();
      await server.close();
      await metadata.close();
    },
  };
}
