/** The cluster API as the cluster tests call it, and cluster images through it. */
import { expect } from 'vitest';
import { waitFor } from './service';

type Call = (method: string, path: string, body?: unknown) => Promise<{ status: number; json: Record<string, unknown> }>;

/**
 * `call(method, path, body)` under /api/v1alpha with the service's token. A pooled keep-alive
 * connection the server had just closed fails once (seen after a long pause, or while
 * spawnSync blocked the loop); reads are safe to send again.
 */
export function apiCaller(service: () => { api(pathname: string, init?: RequestInit & { json?: unknown }): Promise<Response> }): Call {
  return async (method, path, body) => {
    const send = () => service().api(`/api/v1alpha${path}`, { method, ...(body !== undefined ? { json: body } : {}) });
    const res = await send().catch((e: unknown) => {
      if (method !== 'GET') throw e;
      return send();
    });
    return { status: res.status, json: (await res.json().catch(() => ({}))) as Record<string, unknown> };
  };
}

/**
 * Asks for the image's build (202) and waits until it is no longer building; returns the
 * image. A request lost on a pooled connection the server had just closed is sent again, and
 * then a 409 means the lost one was taken.
 */
export async function buildClusterImage(call: Call, name: string, billingProject = 'test'): Promise<Record<string, unknown>> {
  const ask = () => call('POST', '/cluster-images', { name, billing_project: billingProject });
  const built = await ask().catch(async () => {
    const again = await ask();
    return again.status === 409 ? { ...again, status: 202 } : again;
  });
  expect(built.status).toBe(202);
  return waitFor('image build', async () => {
    const i = (await call('GET', `/cluster-images/${name}`)).json;
    return i.state === 'building' ? null : i;
  }, 3_600_000, 1000);
}
