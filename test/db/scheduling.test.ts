/**
 * The scheduling round's two statements against a real PostgreSQL: per-user demand per pool,
 * and per-user candidates up to a budget in Hail's order.
 */
import { describe, expect, it } from 'vitest';
import { and, eq } from 'drizzle-orm';
import { ensureBillingProject } from '../../db/queries/users';
import { useTestDatabase } from '../support/db-url';
import { createBatch, createUpdate } from '../../db/queries/batches';
import { claimReadyJobs, commitUpdate, insertJobs } from '../../db/queries/jobs';
import { endAttempt, listAttempts, reserveAttempt, reserveAttempts } from '../../db/queries/attempts';
import { activateInstance, insertInstance } from '../../db/queries/instances';
import { candidateJobs, poolDemand } from '../../db/queries/scheduling';
import { instances, jobs } from '../../db/schema';
import { parseJobBunch } from '../../domain/spec';
import { definePools } from '../../domain/pools';

const database = useTestDatabase('db_scheduling', async (db) => {
  // Batches belong to an open billing project.
  await ensureBillingProject(db, 'p');
  await insertInstance(db, { name: 'i1', pool: 'standard', coresMcpu: 16_000, activationTokenHash: 'x', now: 1 });
  await activateInstance(db, 'i1', { address: 'http://127.0.0.1:1', tokenHash: 'y', now: 1 });
});

const pools = definePools(16);
let seq = 0;

/** A committed batch of `user` whose jobs are claimed by a job workflow (so schedulable). */
async function batchOf(user: string, specs: Record<string, unknown>[], opts: { claim?: boolean } = {}) {
  const db = database.db;
  const { batch } = await createBatch(db, { user, billingProject: 'p', token: `t${++seq}`, attributes: {}, callback: null, cancelAfterNFailures: null }, 1);
  const update = await createUpdate(db, batch.id, `t${seq}`, specs.length, 1);
  const bunch = specs.map((s, i) => ({ job_id: i + 1, process: { type: 'docker', image: 'x', command: ['true'] }, ...s }));
  await insertJobs(db, batch.id, update.updateId, parseJobBunch(bunch, { startJobId: 1, nJobsInUpdate: specs.length, pools, user, regions: ['local', 'us-east1', 'us-west1'] }));
  await commitUpdate(db, batch.id, update.updateId, 2);
  if (opts.claim ?? true) await claimReadyJobs(db, batch.id, `claim-${seq}`, 1000);
  return batch.id;
}

describe('scheduling queries', () => {
  it('sum running cores by open attempt and schedulable Ready cores, per pool and user', async () => {
    const db = database.db;
    const one = { resources: { cpu: '1', memory: 'standard' } };
    const a = await batchOf('ann', [one, one, one, { resources: { cpu: '2', memory: 'highmem' } }]);
    // Not yet owned by a job workflow: not schedulable, so not demand.
    await batchOf('ann', [one], { claim: false });
    await batchOf('ben', [{ resources: { cpu: '4', memory: 'standard' } }]);
    expect(await reserveAttempt(db, { batchId: a, jobId: 1, attemptId: 'a1', instanceName: 'i1', coresMcpu: 1000, now: 3 })).toBe(true);
    expect(await reserveAttempt(db, { batchId: a, jobId: 2, attemptId: 'a2', instanceName: 'i1', coresMcpu: 1000, now: 3 })).toBe(true);
    // Job 2's attempt is over (its cores are back) though the job is not recorded finished yet.
    await endAttempt(db, { batchId: a, jobId: 2, attemptId: 'a2' }, { endTime: 4, outcome: 'succeeded', exitCode: 0 });
    // A cancelled Ready job is no demand.
    await db.update(jobs).set({ cancelled: true }).where(and(eq(jobs.batchId, a), eq(jobs.jobId, 3)));

    const demand = (await poolDemand(db)).sort((x, y) => (x.pool + x.user < y.pool + y.user ? -1 : 1));
    expect(demand).toEqual([
      { pool: 'highmem', user: 'ann', runningCoresMcpu: 0, readyCoresMcpu: 2000, readyAlwaysRun: 0 },
      { pool: 'standard', user: 'ann', runningCoresMcpu: 1000, readyCoresMcpu: 0, readyAlwaysRun: 0 },
      { pool: 'standard', user: 'ben', runningCoresMcpu: 0, readyCoresMcpu: 4000, readyAlwaysRun: 0 },
    ]);
  });

  it('give each user up to its budget: always_run first, then by batch and job id, with regions', async () => {
    const db = database.db;
    const first = await batchOf('cat', [{}, {}, { always_run: true }, { regions: ['us-east1', 'us-west1'] }]);
    const second = await batchOf('cat', [{ always_run: true }, {}]);
    await batchOf('dan', [{}, {}, {}]);
    // Flagged for cancellation: skipped unless always_run.
    await db.update(jobs).set({ cancelled: true }).where(and(eq(jobs.batchId, first), eq(jobs.jobId, 1)));
    await db.update(jobs).set({ cancelled: true }).where(and(eq(jobs.batchId, second), eq(jobs.jobId, 1)));

    const demand = await poolDemand(db);
    expect(demand.find((d) => d.user === 'cat')).toMatchObject({ readyAlwaysRun: 2 });
    const always = new Set(demand.filter((d) => d.readyAlwaysRun > 0).map((d) => d.user));
    const got = await candidateJobs(db, 'standard', new Map([['cat', 5], ['dan', 2]]), always);
    expect(got.get('cat')!.map((j) => [j.batchId, j.jobId])).toEqual([
      [first, 3],
      [second, 1],
      [first, 2],
      [first, 4],
      [second, 2],
    ]);
    expect(got.get('cat')!.find((j) => j.jobId === 4 && j.batchId === first)!.regions).toEqual(['us-east1', 'us-west1']);
    expect(got.get('cat')![0]).toMatchObject({ user: 'cat', pool: 'standard', coresMcpu: 1000, regions: null, alwaysRun: true });
    expect(got.get('dan')!.map((j) => j.jobId)).toEqual([1, 2]);

    const small = await candidateJobs(db, 'standard', new Map([['cat', 1]]), always);
    expect(small.get('cat')!.map((j) => [j.batchId, j.jobId])).toEqual([[first, 3]]);
    expect((await candidateJobs(db, 'highcpu', new Map([['cat', 5]]), always)).get('cat')).toEqual([]);
    // Told a user has no always_run jobs, the query does not look for them.
    expect((await candidateJobs(db, 'standard', new Map([['cat', 1]]))).get('cat')!.map((j) => j.jobId)).toEqual([2]);
  });

  it("reserves a round's placements together, skipping jobs no longer schedulable", async () => {
    const db = database.db;
    await insertInstance(db, { name: 'r1', pool: 'standard', coresMcpu: 4000, activationTokenHash: 'x', now: 1 });
    await activateInstance(db, 'r1', { address: 'http://127.0.0.1:1', tokenHash: 'y', now: 1 });
    const b = await batchOf('eve', [{}, {}, {}]);
    await db.update(jobs).set({ cancelled: true }).where(and(eq(jobs.batchId, b), eq(jobs.jobId, 2)));
    const want = (jobId: number, attemptId: string) => ({ batchId: b, jobId, attemptId, instanceName: 'r1', coresMcpu: 1000 });
    const made = await reserveAttempts(db, [want(1, 'x1'), want(2, 'x2'), want(3, 'x3')], 5);
    expect(made.map((r) => r.jobId)).toEqual([1, 3]);
    const rows = await db.select({ jobId: jobs.jobId, state: jobs.state, attemptId: jobs.attemptId, n: jobs.nAttempts }).from(jobs).where(eq(jobs.batchId, b));
    expect(rows.sort((x, y) => x.jobId - y.jobId)).toEqual([
      { jobId: 1, state: 'Running', attemptId: 'x1', n: 1 },
      { jobId: 2, state: 'Ready', attemptId: null, n: 0 },
      { jobId: 3, state: 'Running', attemptId: 'x3', n: 1 },
    ]);
    expect((await listAttempts(db, b, 3)).map((a) => [a.attemptId, a.instanceName, a.timeScheduled])).toEqual([['x3', 'r1', 5]]);
    const [inst] = await db.select({ free: instances.freeCoresMcpu }).from(instances).where(eq(instances.name, 'r1'));
    expect(inst?.free).toBe(2000);
    // Run again (a retried round with the same ids): nothing is placed twice.
    expect(await reserveAttempts(db, [want(1, 'x1'), want(3, 'x3')], 6)).toEqual([]);
  });

  it('places job by job when an instance lost the room the round planned on', async () => {
    const db = database.db;
    await insertInstance(db, { name: 'r2', pool: 'standard', coresMcpu: 2000, activationTokenHash: 'x', now: 1 });
    await activateInstance(db, 'r2', { address: 'http://127.0.0.1:1', tokenHash: 'y', now: 1 });
    const b = await batchOf('fay', [{}, {}, {}]);
    const want = (jobId: number) => ({ batchId: b, jobId, attemptId: `y${jobId}`, instanceName: 'r2', coresMcpu: 1000 });
    const made = await reserveAttempts(db, [want(1), want(2), want(3)], 5);
    expect(made.map((r) => r.jobId)).toEqual([1, 2]);
    const states = await db.select({ jobId: jobs.jobId, state: jobs.state }).from(jobs).where(eq(jobs.batchId, b));
    expect(states.sort((x, y) => x.jobId - y.jobId).map((r) => r.state)).toEqual(['Running', 'Running', 'Ready']);
    const [inst] = await db.select({ free: instances.freeCoresMcpu }).from(instances).where(eq(instances.name, 'r2'));
    expect(inst?.free).toBe(0);
  });
});
