import { describe, expect, it } from 'vitest';
import { bunchDepths, deriveJobGroupState, firstTooDeep, MAX_JOB_GROUPS_DEPTH } from '../../domain/job-group-tree';
import { parseJobGroups } from '../../domain/spec-job-group';

describe('the job-group tree', () => {
  it('finds depths within a bunch and from known parents, leaving unknown parents to the commit', () => {
    const specs = parseJobGroups(
      [{ job_group_id: 1 }, { job_group_id: 2, in_update_parent_id: 1 }, { job_group_id: 3, absolute_parent_id: 4 }, { job_group_id: 4, absolute_parent_id: 9 }],
      { startJobGroupId: 10, nJobGroupsInUpdate: 4 },
    );
    const depths = bunchDepths(specs, new Map([[4, 2]]));
    expect([...depths]).toEqual([[10, 1], [11, 2], [12, 3]]);
    expect(firstTooDeep(specs, depths)).toBe(2);
    expect(MAX_JOB_GROUPS_DEPTH).toBe(2);
  });

  it("takes in-update parent 0 as the root, as Hail's client sends it for a new batch", () => {
    const [g] = parseJobGroups([{ job_group_id: 1, in_update_parent_id: 0 }], { startJobGroupId: 5, nJobGroupsInUpdate: 1 });
    expect(g).toMatchObject({ job_group_id: 5, parent_id: 0 });
  });

  it('lets a later bunch of job-groups/create start past 1, and holds it to no gaps', () => {
    const ctx = { startJobGroupId: 1, nJobGroupsInUpdate: 2000, oneBunchOfMany: true };
    expect(parseJobGroups([{ job_group_id: 1025 }, { job_group_id: 1026 }], ctx).map((g) => g.job_group_id)).toEqual([1025, 1026]);
    expect(() => parseJobGroups([{ job_group_id: 1025 }, { job_group_id: 1027 }], ctx)).toThrow(/without gaps/);
    expect(() => parseJobGroups([{ job_group_id: 2 }], { startJobGroupId: 1, nJobGroupsInUpdate: 2 })).toThrow(/without gaps/);
  });

  it("derives a group's state as a batch's", () => {
    expect(deriveJobGroupState({ stored: 'running', cancelled: false, n_failed: 0, n_cancelled: 0 })).toBe('running');
    expect(deriveJobGroupState({ stored: 'complete', cancelled: true, n_failed: 0, n_cancelled: 1 })).toBe('cancelled');
    expect(deriveJobGroupState({ stored: 'complete', cancelled: false, n_failed: 1, n_cancelled: 1 })).toBe('failure');
  });
});
