/**
 * Job workflows keep no timer: they wait for a poke. A report that is stored but whose poke
 * never leaves (its sender died between the write and the signal) must still end the job; the
 * autoscaler's loop finds such reports and pokes their jobs again.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { job, startTestService, waitFor, waitForBatch, type TestService } from '../support/service';
import { endAttempt, unappliedAttemptEnds } from '../../db/queries/attempts';
import { getJob } from '../../db/queries/jobs';

let s: TestService;
beforeAll(async () => {
  s = await startTestService({ name: 'lost_pokes', executor: 'process', pools: 'standard:1', env: { HB_REPORT_REPOKE_MS: '2000' } });
});
afterAll(async () => {
  await s?.stop();
});

it('applies a stored attempt end whose poke was lost', async () => {
  const res = await s.api('/api/v1alpha/batches/create-fast', {
    method: 'POST',
    json: { batch: { billing_project: 'test', n_jobs: 1, token: `lp-${Date.now()}` }, bunch: [job(1, ['sleep', '300'])] },
  });
  expect(res.status).toBe(200);
  const { id } = (await res.json()) as { id: number };
  const running = await waitFor('the job to run', async () => {
    const j = await getJob(s.database.db, id, 1);
    return j?.state === 'Running' && j.attemptId ? j : null;
  });

  // What the report route stores, without the poke that follows it.
  const now = Date.now();
  expect(await endAttempt(s.database.db, { batchId: id, jobId: 1, attemptId: running.attemptId! }, { endTime: now, outcome: 'succeeded', exitCode: 0, startTime: now - 100 })).toBe(true);
  // Not yet old enough to be sent again: a report normally reaches its workflow at once.
  expect(await unappliedAttemptEnds(s.database.db, now - 2000, 100)).not.toContainEqual({ batchId: id, jobId: 1 });
  expect(await unappliedAttemptEnds(s.database.db, now + 1, 100)).toContainEqual({ batchId: id, jobId: 1 });

  expect(await waitForBatch(s, id, 30_000)).toMatchObject({ state: 'success', n_succeeded: 1 });
  expect((await getJob(s.database.db, id, 1))?.state).toBe('Success');
  expect(await unappliedAttemptEnds(s.database.db, Date.now() + 1, 100)).not.toContainEqual({ batchId: id, jobId: 1 });
});
