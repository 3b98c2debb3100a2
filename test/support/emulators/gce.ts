/**
 * A Compute Engine emulator: the REST subset @google-cloud/compute sends for worker VMs
 * (instances insert / get / list with a label filter / delete / simulateMaintenanceEvent,
 * zoneOperations get and wait, zones, regions with their CPUS quota, machineTypes), with
 * real state: an instance is PROVISIONING, then RUNNING, booted by running its `startup-script`
 * metadata item (which reads the token from the emulator's metadata server and starts a real
 * agent process), and its insert or delete operation is PENDING until then.
 * Errors are injected on request (HTTP status and GCE error code, in the call or in its
 * operation); a spot VM can be reclaimed (its agent killed, the instance deleted when its
 * termination action says DELETE). It also serves the Cloud Billing Catalog's Compute Engine
 * SKUs for its regions (price-lists.ts).
 */
import { randomUUID } from 'node:crypto';
import { Injections, serve, type Injection, type Req, type Res, type Route, type Server } from './http';
import { addressPool, bootVm, haltAgent, startMetadataServer, type VmAgentOptions } from './vm-agents';
import { defaultListPrices, gcpCatalogRoute, type ListPrice } from './price-lists';

type Instance = {
  name: string;
  zone: string;
  id: string;
  status: 'PROVISIONING' | 'STAGING' | 'RUNNING' | 'STOPPING' | 'TERMINATED';
  cores: number;
  resource: Record<string, unknown>;
  pid: number | null;
  created: string;
  ip: string;
};
type Operation = { id: string; name: string; zone: string; type: string; target: string; status: 'PENDING' | 'RUNNING' | 'DONE'; error?: { errors: { code: string; message: string }[] } };

export type GceEmulatorOptions = VmAgentOptions & {
  project: string;
  /** zone → region and the region's CPUS quota. */
  zones: { zone: string; cpusQuota: number }[];
  port?: number;
  /** How long a VM takes to boot (PROVISIONING → RUNNING). */
  bootMs?: number;
  /** The regions' list prices (default: defaultListPrices of the zones' regions). */
  prices?: ListPrice[];
};

export type GceEmulator = Server & {
  inject(i: Injection): void;
  /** Reclaims a spot VM as the cloud would: no grace, deleted if its termination action says so. */
  preempt(name: string): Promise<void>;
  instances(): { name: string; zone: string; status: string; labels: Record<string, string>; resource: Record<string, unknown> }[];
  /** Every call received, as `METHOD path` (for tests to see retries). */
  calls: string[];
  /** Changes the list prices the catalog serves from now on. */
  setPrices(prices: ListPrice[]): void;
};

const regionOf = (zone: string) => zone.replace(/-[a-z]$/, '');
const coresOf = (machineType: string): number => {
  const m = /(?:^|\/)(?:n1|n2|e2)-(?:standard|highmem|highcpu)-(\d+)$/.exec(machineType) ?? /(?:^|\/)custom-(\d+)-\d+(?:-ext)?$/.exec(machineType);
  return m ? Number(m[1]) : 1;
};

function gceError(status: number, code: string, message: string): Res {
  return { status, body: { error: { code: status, message, errors: [{ reason: code, message, domain: 'global' }] } } };
}

/** `labels.k = "v"` and `name = "x"` terms joined by AND: what the driver sends. */
function matches(filter: string | null, inst: Instance): boolean {
  if (!filter) return true;
  return filter.split(/\s+AND\s+/i).every((term) => {
    const m = /^\(?\s*([\w.-]+)\s*=\s*"?([^")]*)"?\s*\)?$/.exec(term.trim());
    if (!m) return false;
    const [, key, value] = m;
    if (key === 'name') return inst.name === value;
    if (key === 'status') return inst.status === value;
    if (key!.startsWith('labels.')) return ((inst.resource.labels as Record<string, string> | undefined) ?? {})[key!.slice(7)] === value;
    return false;
  });
}

const metadataOf = (inst: Instance): Record<string, string> => {
  const items = (((inst.resource.metadata ?? {}) as Record<string, unknown>).items ?? []) as { key: string; value: string }[];
  return Object.fromEntries(items.map((it) => [it.key, it.value]));
};

export async function startGceEmulator(opts: GceEmulatorOptions): Promise<GceEmulator> {
  const bootMs = opts.bootMs ?? 200;
  const instances = new Map<string, Instance>();
  const addresses = addressPool(opts.vpc?.prefix);
  const metadata = await startMetadataServer((name) => {
    const inst = [...instances.values()].find((i) => i.name === name);
    return inst ? { kind: 'gcp', attributes: metadataOf(inst) } : null;
  });
  const operations = new Map<string, Operation>();
  const injections = new Injections();
  const calls: string[] = [];
  const zoneNames = new Set(opts.zones.map((z) => z.zone));
  let prices = opts.prices ?? defaultListPrices(opts.zones.map((z) => regionOf(z.zone)));
  let base = '';
  const link = (...parts: string[]) => `${base}/compute/v1/projects/${opts.project}/${parts.join('/')}`;

  const opJson = (op: Operation) => ({
    kind: 'compute#operation',
    id: op.id,
    name: op.name,
    zone: link('zones', op.zone),
    operationType: op.type,
    targetLink: op.target,
    status: op.status,
    progress: op.status === 'DONE' ? 100 : 0,
    ...(op.error ? { error: op.error } : {}),
    selfLink: link('zones', op.zone, 'operations', op.name),
  });
  const newOp = (zone: string, type: string, target: string): Operation => {
    const op: Operation = { id: String(Math.floor(Math.random() * 1e15)), name: `operation-${randomUUID()}`, zone, type, target, status: 'PENDING' };
    operations.set(op.name, op);
    return op;
  };
  const instJson = (i: Instance) => ({
    ...i.resource,
    kind: 'compute#instance',
    id: i.id,
    name: i.name,
    zone: link('zones', i.zone),
    status: i.status,
    creationTimestamp: i.created,
    // The address GCE gives the first interface, in the subnet's range.
    networkInterfaces: (((i.resource.networkInterfaces ?? [{}]) as Record<string, unknown>[]).map((n, k) => (k === 0 ? { ...n, name: 'nic0', networkIP: i.ip } : n))),
    selfLink: link('zones', i.zone, 'instances', i.name),
  });
  const usedCores = (region: string) => [...instances.values()].filter((i) => regionOf(i.zone) === region).reduce((n, i) => n + i.cores, 0);
  const quotaOf = (region: string) => opts.zones.filter((z) => regionOf(z.zone) === region).reduce((n, z) => Math.max(n, z.cpusQuota), 0);

  async function stop(inst: Instance, graceMs: number, remove: boolean): Promise<void> {
    inst.status = 'STOPPING';
    await haltAgent(opts, inst.name, inst.pid, graceMs);
    inst.pid = null;
    if (remove) {
      instances.delete(`${inst.zone}/${inst.name}`);
      addresses.give(inst.ip);
    }
    else inst.status = 'TERMINATED';
  }
  async function preempt(inst: Instance): Promise<void> {
    const scheduling = (inst.resource.scheduling ?? {}) as Record<string, unknown>;
    await stop(inst, 0, scheduling.instanceTerminationAction === 'DELETE');
  }

  const zoneOf = (m: RegExpExecArray): string | null => (zoneNames.has(m[2]!) ? m[2]! : null);
  const badZone = (m: RegExpExecArray) => gceError(404, 'notFound', `The resource 'projects/${m[1]}/zones/${m[2]}' was not found`);
  const badProject = (m: RegExpExecArray) => (m[1] !== opts.project ? gceError(404, 'notFound', `The resource 'projects/${m[1]}' was not found`) : null);
  /** An injected error as the call's answer; status 200 means "in the operation" (insert only). */
  const injected = (action: string, zone: string | null): Res | null => {
    const i = injections.take(action, zone);
    return i ? gceError(i.status, i.code, i.message ?? i.code) : null;
  };
  const P = '^/compute/v1/projects/([^/]+)';

  const routes: Route[] = [
    {
      method: 'POST',
      pattern: new RegExp(`${P}/zones/([^/]+)/instances$`),
      handle: (req, m) => {
        const zone = zoneOf(m);
        if (badProject(m)) return badProject(m)!;
        if (!zone) return badZone(m);
        const inj = injections.take('insert', zone);
        if (inj && inj.status !== 200) return gceError(inj.status, inj.code, inj.message ?? inj.code);
        const body = (req.body ?? {}) as Record<string, unknown>;
        const name = String(body.name ?? '');
        if (!/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(name)) return gceError(400, 'invalid', `Invalid value for field 'resource.name': '${name}'`);
        if (instances.has(`${zone}/${name}`)) return gceError(409, 'alreadyExists', `The resource 'projects/${opts.project}/zones/${zone}/instances/${name}' already exists`);
        const op = newOp(zone, 'insert', link('zones', zone, 'instances', name));
        const cores = coresOf(String(body.machineType ?? ''));
        // Capacity and quota refusals arrive in the operation, as GCE reports them.
        const opFail = inj;
        if (opFail) {
          op.status = 'DONE';
          op.error = { errors: [{ code: opFail.code, message: opFail.message ?? opFail.code }] };
          return { status: 200, body: opJson(op) };
        }
        if (usedCores(regionOf(zone)) + cores > quotaOf(regionOf(zone))) {
          op.status = 'DONE';
          op.error = { errors: [{ code: 'QUOTA_EXCEEDED', message: `Quota 'CPUS' exceeded. Limit: ${quotaOf(regionOf(zone))} in region ${regionOf(zone)}.` }] };
          return { status: 200, body: opJson(op) };
        }
        const inst: Instance = { name, zone, id: String(Math.floor(Math.random() * 1e15)), status: 'PROVISIONING', cores, resource: body, pid: null, created: new Date().toISOString(), ip: addresses.take() };
        instances.set(`${zone}/${name}`, inst);
        op.status = 'RUNNING';
        setTimeout(() => {
          if (instances.get(`${zone}/${name}`) === inst && inst.status === 'PROVISIONING') {
            inst.pid = bootVm(opts, { name, script: metadataOf(inst)['startup-script'] ?? '', metadataUrl: metadata.url, ip: inst.ip });
            inst.status = 'RUNNING';
          }
          op.status = 'DONE';
        }, bootMs);
        return { status: 200, body: opJson(op) };
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`${P}/zones/([^/]+)/instances$`),
      handle: (req, m) => {
        const zone = zoneOf(m);
        if (badProject(m)) return badProject(m)!;
        if (!zone) return badZone(m);
        const fail = injected('list', zone);
        if (fail) return fail;
        const all = [...instances.values()].filter((i) => i.zone === zone && matches(req.query.get('filter'), i)).sort((a, b) => a.name.localeCompare(b.name));
        const max = Math.min(500, Number(req.query.get('maxResults') ?? 500) || 500);
        const start = Number(req.query.get('pageToken') ?? 0) || 0;
        const page = all.slice(start, start + max);
        return {
          status: 200,
          body: { kind: 'compute#instanceList', items: page.map(instJson), ...(start + max < all.length ? { nextPageToken: String(start + max) } : {}) },
        };
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`${P}/zones/([^/]+)/instances/([^/]+)$`),
      handle: (_req, m) => {
        const zone = zoneOf(m);
        if (badProject(m)) return badProject(m)!;
        if (!zone) return badZone(m);
        const fail = injected('get', zone);
        if (fail) return fail;
        const inst = instances.get(`${zone}/${m[3]}`);
        return inst ? { status: 200, body: instJson(inst) } : gceError(404, 'notFound', `The resource 'projects/${opts.project}/zones/${zone}/instances/${m[3]}' was not found`);
      },
    },
    {
      method: 'DELETE',
      pattern: new RegExp(`${P}/zones/([^/]+)/instances/([^/]+)$`),
      handle: (_req, m) => {
        const zone = zoneOf(m);
        if (badProject(m)) return badProject(m)!;
        if (!zone) return badZone(m);
        const fail = injected('delete', zone);
        if (fail) return fail;
        const inst = instances.get(`${zone}/${m[3]}`);
        if (!inst) return gceError(404, 'notFound', `The resource 'projects/${opts.project}/zones/${zone}/instances/${m[3]}' was not found`);
        const op = newOp(zone, 'delete', link('zones', zone, 'instances', inst.name));
        op.status = 'RUNNING';
        void stop(inst, 5000, true).finally(() => (op.status = 'DONE'));
        return { status: 200, body: opJson(op) };
      },
    },
    {
      method: 'POST',
      pattern: new RegExp(`${P}/zones/([^/]+)/instances/([^/]+)/simulateMaintenanceEvent$`),
      handle: (_req, m) => {
        const zone = zoneOf(m);
        if (!zone) return badZone(m);
        const inst = instances.get(`${zone}/${m[3]}`);
        if (!inst) return gceError(404, 'notFound', `instance ${m[3]} not found`);
        const op = newOp(zone, 'simulateMaintenanceEvent', link('zones', zone, 'instances', inst.name));
        op.status = 'RUNNING';
        // A spot VM does not migrate: a maintenance event reclaims it.
        const spot = ((inst.resource.scheduling ?? {}) as Record<string, unknown>).provisioningModel === 'SPOT';
        void (spot ? preempt(inst) : Promise.resolve()).finally(() => (op.status = 'DONE'));
        return { status: 200, body: opJson(op) };
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`${P}/zones/([^/]+)/operations/([^/]+)$`),
      handle: (_req, m) => {
        const op = operations.get(m[3]!);
        return op ? { status: 200, body: opJson(op) } : gceError(404, 'notFound', `operation ${m[3]} not found`);
      },
    },
    {
      method: 'POST',
      pattern: new RegExp(`${P}/zones/([^/]+)/operations/([^/]+)/wait$`),
      handle: async (_req, m) => {
        const op = operations.get(m[3]!);
        if (!op) return gceError(404, 'notFound', `operation ${m[3]} not found`);
        // GCE answers when the operation is done or after up to 2 minutes; 10 s is plenty here.
        const deadline = Date.now() + 10_000;
        while (op.status !== 'DONE' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
        return { status: 200, body: opJson(op) };
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`${P}/zones$`),
      handle: (_req, m) =>
        badProject(m) ?? {
          status: 200,
          body: {
            kind: 'compute#zoneList',
            items: opts.zones.map((z) => ({ kind: 'compute#zone', name: z.zone, status: 'UP', region: link('regions', regionOf(z.zone)) })),
          },
        },
    },
    {
      method: 'GET',
      pattern: new RegExp(`${P}/regions/([^/]+)$`),
      handle: (_req, m) => {
        const region = m[2]!;
        if (!opts.zones.some((z) => regionOf(z.zone) === region)) return gceError(404, 'notFound', `region ${region} not found`);
        return {
          status: 200,
          body: {
            kind: 'compute#region',
            name: region,
            status: 'UP',
            zones: opts.zones.filter((z) => regionOf(z.zone) === region).map((z) => link('zones', z.zone)),
            quotas: [
              { metric: 'CPUS', limit: quotaOf(region), usage: usedCores(region) },
              { metric: 'PREEMPTIBLE_CPUS', limit: 0, usage: 0 },
            ],
          },
        };
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`${P}/zones/([^/]+)/machineTypes/([^/]+)$`),
      handle: (_req, m) => ({ status: 200, body: { kind: 'compute#machineType', name: m[3], guestCpus: coresOf(m[3]!), zone: m[2] } }),
    },
    gcpCatalogRoute(() => prices),
  ];

  const server = await serve(
    opts.port ?? 0,
    routes,
    (req: Req) => {
      calls.push(`${req.method} ${req.path}`);
      return /^Bearer \S+$/.test(String(req.headers.authorization ?? '')) ? null : gceError(401, 'required', 'Request is missing required authentication credential.');
    },
  );
  base = server.url;

  return {
    ...server,
    calls,
    setPrices: (p) => {
      prices = p;
    },
    inject: (i) => injections.add(i),
    async preempt(name) {
      const inst = [...instances.values()].find((i) => i.name === name);
      if (inst) await preempt(inst);
    },
    instances: () =>
      [...instances.values()].map((i) => ({ name: i.name, zone: i.zone, status: i.status, labels: (i.resource.labels ?? {}) as Record<string, string>, resource: i.resource })),
    async close() {
      await Promise.all([...instances.values()].map((i) => stop(i, 0, true)));
      await server.close();
      await metadata.close();
    },
  };
}
