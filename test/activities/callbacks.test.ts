/**
 * The delivery activity against a real PostgreSQL and real HTTP servers: one POST of the
 * stored JSON, no redirect followed, a request timeout, never a call to the service's own API,
 * and a bounded number of tries.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { useTestDatabase } from '../support/db-url';
import { startReceiver, type Receiver } from '../support/receiver';
import { loadConfig } from '../../config';
import { createLogger } from '../../cli/logger';
import { createCallbackActivities } from '../../activities/callbacks';
import { enqueueCallback, listCallbacks } from '../../db/queries/callbacks';
import { instances } from '../../db/schema';

const database = useTestDatabase('act_callbacks');
let receiver: Receiver;
let other: Receiver;
let api: Receiver;
let batchId = 1000;

beforeAll(async () => {
  [receiver, other, api] = await Promise.all([startReceiver(), startReceiver(), startReceiver()]);
});
afterAll(async () => {
  await Promise.all([receiver, other, api].map((r) => r?.close()));
});
afterEach(async () => {
  // Nothing a test left due may reach the next test's receivers.
  await database.db.execute(sql`UPDATE callbacks SET state = 'failed' WHERE state <> 'delivered'`);
  for (const r of [receiver, other, api]) {
    r.received.length = 0;
    r.answer = () => 200;
  }
});

function activities(env: Record<string, string> = {}) {
  const config = loadConfig({ HB_API_URL: api.url, HB_CALLBACK_TIMEOUT_MS: '500', ...env });
  return createCallbackActivities({ db: database.db, config, log: createLogger('error') }, [api.url]);
}

async function enqueue(url: string, body: Record<string, unknown> = { id: batchId, state: 'success' }): Promise<number> {
  const id = ++batchId;
  await database.db.transaction((tx) => enqueueCallback(tx, { batchId: id, jobGroupId: 0, url, body: { ...body, id } }));
  return id;
}

describe('callback delivery', () => {
  it('POSTs the stored body once as JSON and marks it delivered', async () => {
    const b = await enqueue(`${receiver.url}/hook?x=1`, { state: 'success', n_jobs: 2 });
    const pass = await activities().deliverCallbacks();
    expect(pass).toMatchObject({ claimed: 1, delivered: 1, retried: 0, failed: 0 });
    expect(receiver.received).toHaveLength(1);
    const got = receiver.received[0]!;
    expect(got).toMatchObject({ method: 'POST', path: '/hook?x=1' });
    expect(got.headers['content-type']).toBe('application/json');
    expect(JSON.parse(got.body)).toEqual({ id: b, state: 'success', n_jobs: 2 });
    expect((await listCallbacks(database.db, b))[0]).toMatchObject({ state: 'delivered', attempts: 1, lastStatus: 200 });
    expect(await activities().deliverCallbacks()).toMatchObject({ claimed: 0 });
    expect(receiver.received).toHaveLength(1);
  });

  it('does not follow a redirect: a 3xx is a failed try, retried later', async () => {
    receiver.answer = () => ({ status: 307, headers: { location: `${other.url}/elsewhere` } });
    const b = await enqueue(`${receiver.url}/hook`);
    expect(await activities().deliverCallbacks()).toMatchObject({ claimed: 1, retried: 1 });
    expect(receiver.received).toHaveLength(1);
    expect(other.received).toHaveLength(0);
    expect((await listCallbacks(database.db, b))[0]).toMatchObject({ state: 'pending', lastStatus: 307, lastError: 'HTTP 307: redirect not followed' });
  });

  it('gives up on a receiver that does not answer within the timeout', async () => {
    receiver.answer = () => 'hang';
    const b = await enqueue(`${receiver.url}/slow`);
    const t0 = Date.now();
    expect(await activities().deliverCallbacks()).toMatchObject({ retried: 1 });
    expect(Date.now() - t0).toBeLessThan(3000);
    expect((await listCallbacks(database.db, b))[0]).toMatchObject({ state: 'pending', lastError: 'no answer within 500 ms' });
  });

  it('never calls the service its own API, under any loopback name', async () => {
    const b1 = await enqueue(`${api.url}/api/v1alpha/batches/1/cancel`);
    const b2 = await enqueue(`http://localhost:${api.port}/api/v1alpha/batches`);
    expect(await activities().deliverCallbacks()).toMatchObject({ claimed: 2, failed: 2 });
    expect(api.received).toHaveLength(0);
    for (const b of [b1, b2]) {
      expect((await listCallbacks(database.db, b))[0]).toMatchObject({ state: 'failed', attempts: 1, lastError: 'not sent: the URL is the batch service itself' });
    }
  });

  it("never calls a worker VM's agent either", async () => {
    await database.db.insert(instances).values({
      name: 'vm-1', pool: 'standard', state: 'active', coresMcpu: 1000, freeCoresMcpu: 1000,
      address: other.url, activationTokenHash: 'x', timeCreated: 1,
    });
    const b = await enqueue(`${other.url}/api/v1alpha/batches/jobs/create`);
    expect(await activities().deliverCallbacks()).toMatchObject({ failed: 1 });
    expect(other.received).toHaveLength(0);
    expect((await listCallbacks(database.db, b))[0]).toMatchObject({ state: 'failed', lastError: 'not sent: the URL is the batch service itself' });
  });

  it('records the callback as failed once its tries are used up', async () => {
    receiver.answer = () => 503;
    const b = await enqueue(`${receiver.url}/down`);
    expect(await activities({ HB_CALLBACK_MAX_ATTEMPTS: '1' }).deliverCallbacks()).toMatchObject({ failed: 1 });
    expect((await listCallbacks(database.db, b))[0]).toMatchObject({ state: 'failed', attempts: 1, lastStatus: 503, lastError: 'HTTP 503: not a 2xx answer' });
  });
});
