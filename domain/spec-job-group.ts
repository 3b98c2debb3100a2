/**
 * Hail's JobGroupSpec (hail-batch-api §2): `job_group_id` (the in-update id, contiguous from
 * 1), one parent given as `absolute_parent_id` or `in_update_parent_id` (default: the root
 * group 0), `attributes`, `callback`, `cancel_after_n_failures`. Job groups are held to the
 * same rules as their batch, so a hostile group (a `file:` callback, a NUL attribute) is refused.
 */
import { SpecError } from './errors';
import { parseHttpUrl } from './urls';
import { fieldPath, readInteger, readObject, readOptional, readString, readStringMap } from './wire';

export type JobGroupSpec = {
  /** Absolute id: startJobGroupId + job_group_id - 1. */
  job_group_id: number;
  /** Absolute id of the parent group; 0 is the batch's root group. */
  parent_id: number;
  attributes: Record<string, string>;
  callback: string | null;
  cancel_after_n_failures: number | null;
};

export type JobGroupContext = {
  /** Absolute id of the update's first job group. */
  startJobGroupId: number;
  nJobGroupsInUpdate: number;
  path?: string;
  /**
   * A bunch of POST …/job-groups/create, one of several: its ids run without gaps from any
   * first id. create-fast and update-fast carry all of an update's groups, from 1.
   */
  oneBunchOfMany?: boolean;
};

const KEYS = ['job_group_id', 'absolute_parent_id', 'in_update_parent_id', 'attributes', 'callback', 'cancel_after_n_failures'];

function parseJobGroup(value: unknown, path: string, ctx: JobGroupContext, expected: number): JobGroupSpec {
  const obj = readObject(value, path, KEYS, ['job_group_id']);
  const at = (key: string) => fieldPath(path, key);
  const inUpdateId = readInteger(obj.job_group_id, at('job_group_id'));
  if (inUpdateId !== expected) {
    throw new SpecError(at('job_group_id'), `job group ids must run from 1 without gaps; expected ${expected}, found ${inUpdateId}`);
  }
  if (inUpdateId > ctx.nJobGroupsInUpdate) {
    throw new SpecError(at('job_group_id'), `job group ${inUpdateId} is out of range; this update has ${ctx.nJobGroupsInUpdate} job groups`);
  }
  const absolute = readOptional(obj, path, 'absolute_parent_id', (v, f) => readInteger(v, f, { min: 0, max: ctx.startJobGroupId - 1 }), null);
  // Hail's client names a new batch's root group as in-update group 0.
  const inUpdate = readOptional(obj, path, 'in_update_parent_id', (v, f) => readInteger(v, f, { min: 0, max: inUpdateId - 1 }), null);
  if (absolute !== null && inUpdate !== null) {
    throw new SpecError(at('in_update_parent_id'), 'give absolute_parent_id or in_update_parent_id, not both');
  }
  return {
    job_group_id: ctx.startJobGroupId + inUpdateId - 1,
    parent_id: inUpdate !== null && inUpdate > 0 ? ctx.startJobGroupId + inUpdate - 1 : (absolute ?? 0),
    attributes: readOptional(obj, path, 'attributes', readStringMap, {}),
    callback: readOptional(obj, path, 'callback', (v, f) => parseHttpUrl(readString(v, f, { nonEmpty: true }), f), null),
    cancel_after_n_failures: readOptional(obj, path, 'cancel_after_n_failures', (v, f) => readInteger(v, f, { min: 1 }), null),
  };
}

/** The `job_groups` of create-fast / update-fast (path 'job_groups'). */
export function parseJobGroups(value: unknown, ctx: JobGroupContext): JobGroupSpec[] {
  const path = ctx.path ?? 'job_groups';
  if (!Array.isArray(value)) throw new SpecError(path, 'expected a list of job group specs');
  let first = 1;
  if (ctx.oneBunchOfMany && value.length > 0 && typeof value[0] === 'object' && value[0] !== null) {
    const id = (value[0] as Record<string, unknown>).job_group_id;
    if (Number.isSafeInteger(id) && (id as number) >= 1) first = id as number;
  }
  return value.map((v, i) => parseJobGroup(v, `${path}[${i}]`, ctx, first + i));
}
