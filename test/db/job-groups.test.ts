/**
 * The job-group tree in PostgreSQL: creation in updates, the ancestors table, counts rolling
 * up to every ancestor, cancellation of a subtree, cancel_after_n_failures, Hail's errors.
 */
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db-url';
import { createBatch, createUpdate, getBatch } from '../../db/queries/batches';
import { commitUpdate, finishJob, getJob, insertJobs } from '../../db/queries/jobs';
import { cancelJobGroup, getJobGroup, insertJobGroups, listChildJobGroups } from '../../db/queries/job-groups';
import { parseJobBunch } from '../../domain/spec';
import { parseJobGroups } from '../../domain/spec-job-group';
import { ensureBillingProject } from '../../db/queries/users';
import { definePools } from '../../domain/pools';
import { deriveJobGroupState } from '../../domain/job-group-tree';
import { listCallbacks } from '../../db/queries/callbacks';

const database = useTestDatabase('db_job_groups', async (db) => {
  await ensureBillingProject(db, 'p');
});

const pools = definePools(16);
let seq = 0;

type Group = Record<string, unknown>;
type Job = Record<string, unknown>;

async function newBatch() {
  const { batch } = await createBatch(database.db, { user: 'u', billingProject: 'p', token: `t${++seq}`, attributes: {}, callback: null, cancelAfterNFailures: null }, 1);
  return batch.id;
}

/** Reserves an update, inserts `groups` and `jobs` (in-update ids), and optionally commits. */
async function update(batchId: number, groups: Group[], jobs: Job[], opts: { commit?: boolean } = {}) {
  const db = database.db;
  const u = await createUpdate(db, batchId, `u${++seq}`, jobs.length, 1, groups.length);
  const gs = parseJobGroups(groups, { startJobGroupId: u.startJobGroupId, nJobGroupsInUpdate: groups.length });
  await insertJobGroups(db, batchId, u.updateId, gs, 1);
  const bunch = jobs.map((j, i) => ({ job_id: i + 1, process: { type: 'docker', image: 'x', command: ['true'] }, ...j }));
  const specs = parseJobBunch(bunch, {
    startJobId: u.startJobId, nJobsInUpdate: jobs.length, pools, user: 'u', regions: ['local'],
    startJobGroupId: u.startJobGroupId, nJobGroupsInUpdate: groups.length,
  });
  await insertJobs(db, batchId, u.updateId, specs);
  if (opts.commit !== false) await commitUpdate(db, batchId, u.updateId, 2);
  return u;
}

async function group(batchId: number, id: number) {
  const g = await getJobGroup(database.db, batchId, id);
  if (!g) throw new Error(`no group ${id}`);
  return { ...g, state: deriveJobGroupState({ stored: g.storedState, cancelled: g.cancelled, n_failed: g.nFailed, n_cancelled: g.nCancelled }) };
}

describe('job groups in the database', () => {
  it('nests groups, counts jobs in every ancestor and derives their states as a batch', async () => {
    const b = await newBatch();
    const u = await update(
      b,
      [{ job_group_id: 1 }, { job_group_id: 2, in_update_parent_id: 1 }, { job_group_id: 3 }],
      [{ in_update_job_group_id: 2 }, { in_update_job_group_id: 1 }, { in_update_job_group_id: 3 }, {}],
    );
    expect(u.startJobGroupId).toBe(1);
    expect((await group(b, 1)).nJobs).toBe(2);
    expect((await group(b, 2)).nJobs).toBe(1);
    expect((await group(b, 3)).state).toBe('running');
    expect((await getJob(database.db, b, 1))!.jobGroupId).toBe(2);
    await finishJob(database.db, b, 1, 'Success', { now: 5 });
    expect((await group(b, 2)).state).toBe('success');
    const g1 = await group(b, 1);
    expect([g1.nCompleted, g1.nSucceeded, g1.state]).toEqual([1, 1, 'running']);
    await finishJob(database.db, b, 2, 'Failed', { now: 6 });
    expect((await group(b, 1)).state).toBe('failure');
    expect((await group(b, 3)).state).toBe('running');
    expect((await getBatch(database.db, b))!.nFailed).toBe(1);
    const top = await listChildJobGroups(database.db, { batchId: b, parentId: 0, lastJobGroupId: null, limit: 50 });
    expect(top.map((g) => g.jobGroupId)).toEqual([1, 3]);
    const after = await listChildJobGroups(database.db, { batchId: b, parentId: 0, lastJobGroupId: 1, limit: 50 });
    expect(after.map((g) => g.jobGroupId)).toEqual([3]);
  });

  it('a group without jobs is complete when its update commits; later updates add groups under earlier ones', async () => {
    const b = await newBatch();
    await update(b, [{ job_group_id: 1 }], []);
    expect((await group(b, 1)).state).toBe('success');
    const u2 = await update(b, [{ job_group_id: 1, absolute_parent_id: 1 }], [{ in_update_job_group_id: 1 }]);
    expect(u2.startJobGroupId).toBe(2);
    expect((await group(b, 2)).parentId).toBe(1);
    // The new job reopens its group and the ancestor.
    expect((await group(b, 1)).state).toBe('running');
    await finishJob(database.db, b, 1, 'Success', { now: 5 });
    expect((await group(b, 1)).state).toBe('success');
  });

  it('cancelling a group cancels it and its descendants, never its parent or siblings', async () => {
    const b = await newBatch();
    await update(
      b,
      [{ job_group_id: 1 }, { job_group_id: 2, in_update_parent_id: 1 }, { job_group_id: 3, in_update_parent_id: 1 }, { job_group_id: 4 }],
      [{ in_update_job_group_id: 1 }, { in_update_job_group_id: 2 }, { in_update_job_group_id: 3 }, { in_update_job_group_id: 4 }, {}],
    );
    const r = await cancelJobGroup(database.db, b, 2, 9);
    expect(r.cancelled).toBe(true);
    expect((await getJob(database.db, b, 2))!.state).toBe('Cancelled');
    for (const j of [1, 3, 4, 5]) expect((await getJob(database.db, b, j))!.state).toBe('Ready');
    expect((await group(b, 2)).state).toBe('cancelled');
    expect((await group(b, 3)).cancelled).toBe(false);
    // The parent counts the cancelled job, but is not itself cancelled.
    const g1 = await group(b, 1);
    expect([g1.cancelled, g1.nCancelled]).toEqual([false, 1]);
    expect((await cancelJobGroup(database.db, b, 2, 10)).cancelled).toBe(false);
    await cancelJobGroup(database.db, b, 1, 11);
    expect((await group(b, 3)).cancelled).toBe(true);
    expect((await getJob(database.db, b, 3))!.state).toBe('Cancelled');
    expect((await getJob(database.db, b, 4))!.state).toBe('Ready');
    // No jobs or groups can be added to a cancelled group.
    await expect(update(b, [], [{ absolute_job_group_id: 1 }])).rejects.toThrow('bunch contains job where the job group has already been cancelled');
    await expect(update(b, [{ job_group_id: 1, absolute_parent_id: 3 }], [])).rejects.toThrow(/cancelled job group/);
    await expect(cancelJobGroup(database.db, b, 99, 12)).rejects.toThrow(/not found/);
  });

  it('cancels a group once its failures reach cancel_after_n_failures, and only that group', async () => {
    const b = await newBatch();
    await update(
      b,
      [{ job_group_id: 1, cancel_after_n_failures: 1 }, { job_group_id: 2 }],
      [{ in_update_job_group_id: 1 }, { in_update_job_group_id: 1 }, { in_update_job_group_id: 2 }],
    );
    await finishJob(database.db, b, 1, 'Failed', { now: 5 });
    expect((await getJob(database.db, b, 2))!.state).toBe('Cancelled');
    expect((await getJob(database.db, b, 3))!.state).toBe('Ready');
    const g1 = await group(b, 1);
    expect([g1.cancelled, g1.nCompleted, g1.state]).toEqual([true, 2, 'failure']);
    const batch = (await getBatch(database.db, b))!;
    expect([batch.nCompleted, batch.nCancelled, batch.cancelled]).toEqual([2, 1, false]);
  });

  it('refuses too deep nesting, groups beyond the reservation, missing groups and wrong counts', async () => {
    const b = await newBatch();
    await expect(
      update(b, [{ job_group_id: 1 }, { job_group_id: 2, in_update_parent_id: 1 }, { job_group_id: 3, in_update_parent_id: 2 }], []),
    ).rejects.toThrow(/maximum level of nesting/);
    const b2 = await newBatch();
    await update(b2, [{ job_group_id: 1 }, { job_group_id: 2, in_update_parent_id: 1 }], []);
    await expect(update(b2, [{ job_group_id: 1, absolute_parent_id: 2 }], [])).rejects.toThrow(/maximum level of nesting/);

    const b3 = await newBatch();
    const u = await createUpdate(database.db, b3, `r${++seq}`, 0, 1, 1);
    const two = parseJobGroups([{ job_group_id: 1 }, { job_group_id: 2 }], { startJobGroupId: u.startJobGroupId, nJobGroupsInUpdate: 2 });
    await expect(insertJobGroups(database.db, b3, u.updateId, two, 1)).rejects.toThrow(/reserved 1/);
    await expect(commitUpdate(database.db, b3, u.updateId, 2)).rejects.toThrow('wrong number of job groups: expected 1, actual 0');
    await expect(update(b3, [], [{ absolute_job_group_id: 7 }])).rejects.toThrow(/job group 7.*does not exist/);
  });

  it("refuses a group whose parent has not arrived (as Hail), takes resent bunches as no-ops", async () => {
    const b = await newBatch();
    const u = await createUpdate(database.db, b, `o${++seq}`, 1, 1, 2);
    const gs = parseJobGroups([{ job_group_id: 1 }, { job_group_id: 2, in_update_parent_id: 1 }], { startJobGroupId: 1, nJobGroupsInUpdate: 2 });
    await expect(insertJobGroups(database.db, b, u.updateId, [gs[1]!], 1)).rejects.toThrow('job group parent 1 does not exist');
    await insertJobGroups(database.db, b, u.updateId, [gs[0]!], 1);
    await insertJobGroups(database.db, b, u.updateId, [gs[1]!], 1);
    await insertJobGroups(database.db, b, u.updateId, [gs[1]!], 1);
    const specs = parseJobBunch([{ job_id: 1, process: { type: 'docker', image: 'x', command: ['true'] }, in_update_job_group_id: 2 }], {
      startJobId: 1, nJobsInUpdate: 1, pools, user: 'u', regions: ['local'], startJobGroupId: 1, nJobGroupsInUpdate: 2,
    });
    await insertJobs(database.db, b, u.updateId, specs);
    await commitUpdate(database.db, b, u.updateId, 2);
    expect((await group(b, 1)).nJobs).toBe(1);
    expect((await group(b, 2)).parentId).toBe(1);
  });

  it("records a group's callback in the transaction that completes it, with the group's JSON", async () => {
    const b = await newBatch();
    await update(
      b,
      [{ job_group_id: 1, callback: 'https://example.test/g1' }, { job_group_id: 2, callback: 'https://example.test/empty' }],
      [{ in_update_job_group_id: 1 }],
    );
    // The empty group is complete at commit and calls back at once; group 1 only when its job ends.
    expect((await listCallbacks(database.db, b)).map((c) => c.jobGroupId)).toEqual([2]);
    await finishJob(database.db, b, 1, 'Success', { now: 7 });
    const rows = await listCallbacks(database.db, b);
    const g1 = rows.find((c) => c.jobGroupId === 1);
    expect(g1?.url).toBe('https://example.test/g1');
    expect(g1?.body).toMatchObject({ batch_id: b, job_group_id: 1, state: 'success', complete: true, n_jobs: 1, n_succeeded: 1 });
    await finishJob(database.db, b, 1, 'Success', { now: 8 });
    expect((await listCallbacks(database.db, b)).filter((c) => c.jobGroupId === 1)).toHaveLength(1);
  });
});
