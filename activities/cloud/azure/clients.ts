/**
 * The Resource Manager clients the worker driver and the cluster node driver share:
 * DefaultAzureCredential, or a fixed token over plain http for an emulator endpoint; retried
 * calls; deletes that succeed on what is already gone.
 */
import { ComputeManagementClient } from '@azure/arm-compute';
import { NetworkManagementClient } from '@azure/arm-network';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import type { Pipeline } from '@azure/core-rest-pipeline';
import type { CloudConfig } from '../../../config';
import { kindOf, withRetry, type CloudFailure } from '../retry';

const KNOWN_CODES = ['ZonalAllocationFailed', 'AllocationFailed', 'OverconstrainedAllocationRequest', 'SkuNotAvailable', 'OperationNotAllowed', 'QuotaExceeded', 'TooManyRequests'];
/** Long-running operations are polled this often (the SDK's default is seconds). */
export const POLL = { updateIntervalInMs: 250 };

export function readAzureError(err: unknown): CloudFailure {
  const e = (err ?? {}) as { statusCode?: unknown; code?: unknown; message?: unknown };
  const message = String(e.message ?? err);
  const code = (typeof e.code === 'string' ? e.code : null) ?? KNOWN_CODES.find((c) => message.includes(c)) ?? null;
  const status = typeof e.statusCode === 'number' ? e.statusCode : code ? 200 : null;
  return { status, code, message };
}

/** An emulator speaks plain http: its requests carry a fixed token without the https-only policy. */
function useEmulator(pipeline: Pipeline): void {
  pipeline.removePolicy({ name: 'bearerTokenAuthenticationPolicy' });
  pipeline.addPolicy({
    name: 'emulatorToken',
    sendRequest: (req, next) => {
      req.headers.set('authorization', 'Bearer emulator-token');
      req.allowInsecureConnection = true;
      return next(req);
    },
  });
}

export function azureClients(cloud: CloudConfig) {
  const a = cloud.azure;
  const credential: TokenCredential = a.armEndpoint ? { getToken: async () => ({ token: 'emulator-token', expiresOnTimestamp: Date.now() + 3600_000 }) } : new DefaultAzureCredential();
  const options = a.armEndpoint ? { endpoint: a.armEndpoint, allowInsecureConnection: true } : {};
  const compute = new ComputeManagementClient(credential, a.subscriptionId, options);
  const network = new NetworkManagementClient(credential, a.subscriptionId, options);
  if (a.armEndpoint) {
    useEmulator(compute.pipeline);
    useEmulator(network.pipeline);
  }
  const rg = a.resourceGroup;
  const retry = <T>(call: () => Promise<T>) => withRetry(call, readAzureError);
  const ignoreMissing = async (work: () => Promise<unknown>) => {
    try {
      await work();
    } catch (err) {
      if (kindOf(readAzureError(err)) !== 'not-found') throw err;
    }
  };

  async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
    const out: T[] = [];
    for await (const x of it) out.push(x);
    return out;
  }

  return { compute, network, rg, retry, ignoreMissing, collect };
}
