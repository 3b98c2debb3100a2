/**
 * Batch callbacks on the real service with a real local receiver: one POST per completion with
 * the batch JSON that GET batch returns; a receiver that fails (500, then refusing connections)
 * gets the callback once, with backoff; and a driver killed -9 between the completion and the
 * POST sends it after its restart, exactly once.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { job, startTestService, waitFor, waitForBatch, type TestService } from '../support/service';
import { startProcessService, type ProcessService } from '../support/processes';
import { startReceiver, type Receiver } from '../support/receiver';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../support/temporal';
import { listCallbacks } from '../../db/queries/callbacks';
import { callbacksWorkflowId } from '../../workflows/definitions';

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));
let seq = 0;

async function createFast(api: TestService['api'] | ProcessService['api'], callback: string, bunch: unknown[]): Promise<number> {
  const res = await api('/api/v1alpha/batches/create-fast', {
    method: 'POST',
    json: { batch: { billing_project: 'test', n_jobs: bunch.length, token: `cb${++seq}-${Date.now()}`, callback, attributes: { name: 'cb' } }, bunch },
  });
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { id: number }).id;
}

describe('callbacks on a running service', () => {
  let s: TestService;
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver();
    s = await startTestService({ name: 'e2e_callbacks', executor: 'process', pools: 'standard:1', coresPerAgent: 8 });
  });
  afterAll(async () => {
    await s?.stop();
    await receiver?.close();
  });
  afterEach(() => {
    receiver.received.length = 0;
    receiver.answer = () => 200;
  });

  it('POSTs the batch JSON once per completion, and again when an update completes it again', async () => {
    const id = await createFast(s.api, `${receiver.url}/done/${seq + 1}`, [job(1, ['true']), job(2, ['true'], { in_update_parent_ids: [1] })]);
    const batch = await waitForBatch(s, id);
    await waitFor('the callback', async () => receiver.received.length >= 1, 30_000);
    const first = receiver.received[0]!;
    expect(first.method).toBe('POST');
    expect(first.path).toBe(`/done/${seq}`);
    expect(first.headers['content-type']).toBe('application/json');
    expect(JSON.parse(first.body)).toEqual(batch);
    expect(batch).toMatchObject({ id, state: 'success', complete: true, n_jobs: 2, n_succeeded: 2, attributes: { name: 'cb' } });

    const res = await s.api(`/api/v1alpha/batches/${id}/update-fast`, {
      method: 'POST',
      json: { update: { token: `cb-u2-${id}`, n_jobs: 1 }, bunch: [job(1, ['sh', '-c', 'exit 3'], { absolute_parent_ids: [2] })] },
    });
    expect(res.status, await res.clone().text()).toBe(200);
    const again = await waitFor('the batch to complete again', async () => {
      const b = (await (await s.api(`/api/v1alpha/batches/${id}`)).json()) as Record<string, unknown>;
      return b['complete'] === true && b['n_jobs'] === 3 ? b : null;
    });
    await waitFor('the second callback', async () => receiver.received.length >= 2, 30_000);
    expect(JSON.parse(receiver.received[1]!.body)).toEqual(again);
    expect(again).toMatchObject({ state: 'failure', n_jobs: 3, n_failed: 1 });
    await settle(3000);
    expect(receiver.received).toHaveLength(2);
    expect((await listCallbacks(s.database.db, id)).map((r) => [r.completion, r.state, r.attempts])).toEqual([
      [1, 'delivered', 1],
      [2, 'delivered', 1],
    ]);
  });

  it('retries a failing receiver with backoff (500, then connection refused) and delivers once', async () => {
    receiver.answer = (n) => (n === 0 ? 500 : 200);
    const id = await createFast(s.api, `${receiver.url}/flaky`, [job(1, ['true'])]);
    await waitForBatch(s, id);
    await waitFor('the first try', async () => receiver.received.length >= 1, 30_000);
    // Refuse connections until the second try has failed against the closed port.
    await receiver.close();
    await waitFor('the second try to be refused', async () => {
      const [row] = await listCallbacks(s.database.db, id);
      return row && row.attempts >= 2 && row.state === 'pending' ? row : null;
    }, 30_000, 50);
    const [refused] = await listCallbacks(s.database.db, id);
    expect(refused!.lastError).toBe('ECONNREFUSED');
    await receiver.listen();
    await waitFor('the third try', async () => receiver.received.length >= 2, 30_000);
    await settle(3000);
    expect(receiver.received).toHaveLength(2);
    expect(JSON.parse(receiver.received[1]!.body)).toMatchObject({ id, state: 'success', complete: true });
    // 1 s after the first failure, 2 s after the second.
    expect(receiver.received[1]!.at - receiver.received[0]!.at).toBeGreaterThanOrEqual(2900);
    const [row] = await listCallbacks(s.database.db, id);
    expect(row).toMatchObject({ state: 'delivered', attempts: 3, lastStatus: 200 });
  });

  it("keeps the delivery loop's history replayable", async () => {
    const workflowId = callbacksWorkflowId(s.config.temporal.taskQueue);
    const history = await s.client.workflow.getHandle(workflowId).fetchHistory();
    expect(history.events?.some((e) => e.activityTaskCompletedEventAttributes)).toBe(true);
    for await (const r of Worker.runReplayHistories({ workflowBundle: workflowBundle() }, [{ workflowId, history }])) {
      expect(r.error, String(r.error)).toBeUndefined();
    }
  });
});

describe('callbacks across a driver crash', () => {
  let p: ProcessService | undefined;
  let receiver: Receiver | undefined;
  afterAll(async () => {
    await p?.stop();
    await receiver?.close();
  });

  it('sends a callback left by a driver killed -9 after the completion, exactly once', async () => {
    receiver = await startReceiver();
    // The delivery loop looks only every 10 minutes (and when a driver starts), so the kill
    // surely comes between the completion and the POST.
    p = await startProcessService({ name: 'e2e_callbacks_kill', executor: 'process', pools: 'standard:1', env: { HB_CALLBACK_INTERVAL_MS: '600000' } });
    await p.start('api');
    await p.start('driver');
    // Its first pass, at start, is over before the batch exists.
    await settle(2000);
    const id = await createFast(p.api, `${receiver.url}/after-crash`, [job(1, ['true'])]);
    await waitFor('the batch to complete', async () => {
      const b = (await (await p!.api(`/api/v1alpha/batches/${id}`)).json()) as Record<string, unknown>;
      return b['complete'] === true ? b : null;
    }, 60_000, 100);
    const [pending] = await listCallbacks(p.database.db, id);
    expect(pending).toMatchObject({ state: 'pending', attempts: 0 });
    expect(receiver.received).toHaveLength(0);
    p.kill9('driver');
    await settle(1000);
    expect(receiver.received).toHaveLength(0);
    await p.start('driver');
    await waitFor('the callback after the restart', async () => receiver!.received.length >= 1, 60_000);
    await settle(3000);
    expect(receiver.received).toHaveLength(1);
    const batch = (await (await p.api(`/api/v1alpha/batches/${id}`)).json()) as Record<string, unknown>;
    expect(JSON.parse(receiver.received[0]!.body)).toEqual(batch);
    expect((await listCallbacks(p.database.db, id))[0]).toMatchObject({ state: 'delivered', attempts: 1 });
  });
});
