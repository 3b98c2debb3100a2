/**
 * An instance whose machine still exists but stops answering (a hung VM): its heartbeats stop,
 * the driver calls it, each unanswered call is a failed request, and past five it is deleted;
 * the job it was running gets a new attempt on a healthy instance and succeeds.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { job, startTestService, waitFor, waitForBatch, type TestService } from '../support/service';
import { agentProcesses } from '../support/agents';
import { getInstance } from '../../db/queries/instances';

let svc: TestService | undefined;
let stopped: number | undefined;
afterEach(async () => {
  // A stopped process ignores everything but SIGKILL and SIGCONT.
  if (stopped !== undefined) {
    try {
      process.kill(stopped, 'SIGKILL');
    } catch {
      // Already gone: the driver deleted it.
    }
  }
  await svc?.stop();
  svc = undefined;
});

type Attempt = { instance_name: string; reason: string | null };

describe('instance health', () => {
  it('deletes an instance that stops answering and reruns its job elsewhere', async () => {
    svc = await startTestService({
      name: 'life_unheard',
      pools: 'standard:1',
      env: { HB_AUTOSCALER_LOOP_MS: '500', HB_INSTANCE_UNHEARD_MS: '2000', HB_AGENT_HEARTBEAT_MS: '500' },
    });
    const marker = path.join(svc.config.dataDir, 'ran-once');
    // Slow the first time (long enough to hang its VM under it), quick after.
    const spec = job(1, ['sh', '-c', `if [ -f ${marker} ]; then exit 0; fi; touch ${marker}; sleep 120`]);
    const res = await svc.api('/api/v1alpha/batches/create-fast', {
      method: 'POST',
      json: { batch: { billing_project: 'test', n_jobs: 1, token: `unheard-${Date.now()}` }, bunch: [spec] },
    });
    expect(res.status).toBe(200);
    const { id } = (await res.json()) as { id: number };
    await waitFor('the job to be running', async () => existsSync(marker), 60_000, 100);

    const [first] = ((await (await svc.api(`/api/v1alpha/batches/${id}/jobs/1/attempts`)).json()) as Attempt[]) ?? [];
    const victim = first!.instance_name;
    const row = await getInstance(svc.database.db, victim);
    stopped = Number(row!.handle);
    expect(Number.isInteger(stopped) && stopped > 0).toBe(true);
    process.kill(stopped, 'SIGSTOP');

    const gone = await waitFor(
      'the silent instance to be deleted',
      async () => {
        const r = await getInstance(svc!.database.db, victim);
        return r?.state === 'deleted' ? r : null;
      },
      90_000,
      250,
    );
    expect(gone.reason).toBe('failed requests');
    expect(gone.failedRequests).toBeGreaterThan(5);
    expect(agentProcesses(svc.config.dataDir)).not.toContain(victim);

    const batch = await waitForBatch(svc, id, 120_000);
    expect(batch).toMatchObject({ state: 'success', n_succeeded: 1 });
    const attempts = (await (await svc.api(`/api/v1alpha/batches/${id}/jobs/1/attempts`)).json()) as Attempt[];
    expect(attempts).toHaveLength(2);
    expect(attempts[0]).toMatchObject({ instance_name: victim, reason: 'failed requests' });
    expect(attempts[1]!.instance_name).not.toBe(victim);
  }, 5 * 60_000);
});
