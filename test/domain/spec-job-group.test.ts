import { describe, expect, it } from 'vitest';
import { parseJobGroups, type JobGroupContext } from '../../domain/spec-job-group';
import { specError } from './spec-error';

const ctx: JobGroupContext = { startJobGroupId: 5, nJobGroupsInUpdate: 3 };

describe('parseJobGroups', () => {
  it('numbers groups from the update start and resolves parents', () => {
    expect(
      parseJobGroups(
        [
          { job_group_id: 1, attributes: { name: 'g1' }, callback: 'https://x.test/g1', cancel_after_n_failures: 2 },
          { job_group_id: 2, in_update_parent_id: 1 },
          { job_group_id: 3, absolute_parent_id: 4, callback: null },
        ],
        ctx,
      ),
    ).toEqual([
      { job_group_id: 5, parent_id: 0, attributes: { name: 'g1' }, callback: 'https://x.test/g1', cancel_after_n_failures: 2 },
      { job_group_id: 6, parent_id: 5, attributes: {}, callback: null, cancel_after_n_failures: null },
      { job_group_id: 7, parent_id: 4, attributes: {}, callback: null, cancel_after_n_failures: null },
    ]);
  });

  it.each([
    [[{ job_group_id: 1, callback: 'file:///etc/passwd' }], 'job_groups[0].callback', /scheme 'file'/],
    [[{ job_group_id: 1, callback: 'gopher://x:70/' }], 'job_groups[0].callback', /scheme 'gopher'/],
    [[{ job_group_id: 1, attributes: { k: 'a\u0000' } }], 'job_groups[0].attributes.k', /NUL/],
    [[{ job_group_id: 1, attributes: { foo: 1 } }], 'job_groups[0].attributes.foo', /found number .*, which is not <class 'str'>/],
    [[{ job_group_id: 2 }], 'job_groups[0].job_group_id', /expected 1, found 2/],
    [[{ job_group_id: 1 }, { job_group_id: 2 }, { job_group_id: 3 }, { job_group_id: 4 }], 'job_groups[3].job_group_id', /out of range/],
    [[{ job_group_id: 1, in_update_parent_id: 1 }], 'job_groups[0].in_update_parent_id', /at most 0/],
    [[{ job_group_id: 1, absolute_parent_id: 5 }], 'job_groups[0].absolute_parent_id', /at most 4/],
    [[{ job_group_id: 1, absolute_parent_id: 0, in_update_parent_id: 1 }], 'job_groups[0].in_update_parent_id', /./],
    [[{ job_group_id: 1, cancel_after_n_failures: 2 ** 31 }], 'job_groups[0].cancel_after_n_failures', /at most 2147483647/],
    [[{ job_group_id: 1, colour: 'red' }], 'job_groups[0].colour', /unknown key/],
    [{ job_group_id: 1 }, 'job_groups', /expected a list/],
  ])('refuses %j naming %s', (groups, field, message) => {
    const e = specError(() => parseJobGroups(groups, ctx));
    expect(e.field).toBe(field);
    expect(e.detail).toMatch(message);
  });
});
