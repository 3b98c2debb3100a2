/**
 * The Compute Engine clients and calls the worker driver and the cluster node driver share:
 * clients over REST (application default credentials, or a fixed token for an emulator),
 * retried calls, zone operations waited on, instances listed by filter.
 */
import { InstancesClient, RegionsClient, ZoneOperationsClient, ZonesClient, type protos } from '@google-cloud/compute';
import { OAuth2Client } from 'google-auth-library';
import type { CloudConfig } from '../../../config';
import { CapacityError, kindOf, withRetry, type CloudFailure } from '../retry';
import type { Location } from '../../../domain/locations';

type IOperation = protos.google.cloud.compute.v1.IOperation;
type IInstance = protos.google.cloud.compute.v1.IInstance;

const GRPC_TO_HTTP: Record<number, number> = { 3: 400, 5: 404, 6: 409, 7: 403, 8: 429, 9: 400, 13: 500, 14: 503, 4: 504, 16: 401 };
const KNOWN_CODES = ['ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS', 'ZONE_RESOURCE_POOL_EXHAUSTED', 'QUOTA_EXCEEDED', 'RATE_LIMIT_EXCEEDED'];

/** An SDK error as status and GCE reason. */
export function readGcpError(err: unknown): CloudFailure {
  const e = (err ?? {}) as { code?: unknown; message?: unknown; errors?: { reason?: string }[]; reason?: string };
  const message = String(e.message ?? err);
  const code = e.errors?.[0]?.reason ?? e.reason ?? KNOWN_CODES.find((c) => message.includes(c)) ?? (/already exists/.test(message) ? 'alreadyExists' : null);
  const status = typeof e.code === 'number' ? (e.code >= 100 ? e.code : (GRPC_TO_HTTP[e.code] ?? 500)) : null;
  return { status, code, message };
}

export const gcpRegionOf = (zone: string) => zone.replace(/-[a-z]$/, '');

function clientOptions(endpoint: string | null) {
  if (!endpoint) return { fallback: 'rest' as const };
  const url = new URL(endpoint);
  const authClient = new OAuth2Client();
  // The emulator accepts any bearer token; a far expiry keeps the library from refreshing it.
  authClient.setCredentials({ access_token: 'emulator-token', expiry_date: Date.now() + 10 * 365 * 86_400_000 });
  return {
    fallback: 'rest' as const,
    apiEndpoint: url.hostname,
    port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
    protocol: url.protocol.replace(':', ''),
    // The same google-auth-library major as the SDK's, but a separate copy: the types differ in name only.
    authClient: authClient as unknown as NonNullable<ConstructorParameters<typeof InstancesClient>[0]>['authClient'],
  };
}

export function gcpCompute(cloud: CloudConfig) {
  const g = cloud.gcp;
  const opts = clientOptions(g.apiEndpoint);
  const instances = new InstancesClient(opts);
  const operations = new ZoneOperationsClient(opts);
  const zonesClient = new ZonesClient(opts);
  const regionsClient = new RegionsClient(opts);
  const project = g.project;
  const retry = <T>(call: () => Promise<T>) => withRetry(call, readGcpError);

  async function waitFor(op: IOperation | null | undefined, zone: string): Promise<void> {
    let o = op;
    while (o && String(o.status) !== 'DONE') {
      const name = o.name!;
      [o] = await retry(() => operations.wait({ project, zone, operation: name }));
    }
    const first = o?.error?.errors?.[0];
    if (first) {
      const failure: CloudFailure = { status: 200, code: first.code ?? null, message: first.message ?? '' };
      const kind = kindOf(failure);
      if (kind === 'capacity' || kind === 'quota') throw new CapacityError(zone, failure.code!, failure.message);
      throw new Error(`${zone}: ${failure.code}: ${failure.message}`);
    }
  }

  async function listZone(zone: string, filter: string): Promise<IInstance[]> {
    return retry(async () => {
      const out: IInstance[] = [];
      for await (const inst of instances.listAsync({ project, zone, filter, maxResults: 500 })) out.push(inst);
      return out;
    });
  }


  /** Deletes the instance and waits for it to go; succeeds when it is already gone. */
  async function deleteIn(zone: string, name: string): Promise<void> {
    try {
      const [op] = await retry(() => instances.delete({ project, zone, instance: name }));
      await waitFor(op.latestResponse as IOperation, zone);
    } catch (err) {
      if (kindOf(readGcpError(err)) !== 'not-found') throw err;
    }
  }

  /** The configured zones that are UP, with their region's CPUS quota left (no prices: the catalogue has them). */
  async function readLocations(): Promise<Location[]> {
    const zones: string[] = [];
    for await (const z of zonesClient.listAsync({ project })) if (z.name && g.zones.includes(z.name) && String(z.status) === 'UP') zones.push(z.name);
    const left = new Map<string, number>();
    for (const r of new Set(zones.map(gcpRegionOf))) {
      const [region] = await retry(() => regionsClient.get({ project, region: r }));
      const cpus = region.quotas?.find((q) => q.metric === 'CPUS');
      left.set(r, cpus ? (cpus.limit ?? 0) - (cpus.usage ?? 0) : 0);
    }
    return zones.map((z) => ({ name: z, region: gcpRegionOf(z), coresLeft: left.get(gcpRegionOf(z)) ?? 0, pricePerCoreHour: 0 }));
  }

  return { instances, operations, opts, project, retry, waitFor, listZone, deleteIn, readLocations };
}
