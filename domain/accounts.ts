/**
 * Rules for users and billing projects, free of I/O: what a valid username, project name and
 * spending limit look like, and which billing-project transitions are allowed (hail-batch-api §1).
 * Every failure is a SpecError naming the offending field, so the API answers 400 with it.
 */
import { SpecError, showValue } from './errors';

/** Lower-case, starting with a letter: usernames end up in paths, queries and container labels. */
const USERNAME = /^[a-z][a-z0-9_-]{0,62}$/;
/** Project names appear in paths and in the `billing_project:` query term, so no spaces or slashes. */
const PROJECT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

export function parseUsername(value: unknown, field = 'username'): string {
  if (typeof value !== 'string') throw new SpecError(field, `must be a string, not ${showValue(value)}`);
  if (!USERNAME.test(value)) {
    throw new SpecError(field, `${showValue(value)} is not a valid username (a lower-case letter, then up to 62 of a-z, 0-9, _ or -)`);
  }
  return value;
}

export function parseProjectName(value: unknown, field = 'billing_project'): string {
  if (typeof value !== 'string') throw new SpecError(field, `must be a string, not ${showValue(value)}`);
  if (!PROJECT_NAME.test(value)) {
    throw new SpecError(field, `${showValue(value)} is not a valid billing project name (up to 100 of A-Z, a-z, 0-9, _, . or -, not starting with _ . or -)`);
  }
  return value;
}

export type CreateUser = { username: string; isAdmin: boolean };

/** Body of POST /users: `{username, is_admin?}`; nothing else is accepted. */
export function parseCreateUser(body: unknown): CreateUser {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new SpecError('body', 'must be an object {username, is_admin?}');
  }
  const { username, is_admin: isAdmin, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw new SpecError(unknown, 'unknown key');
  if (isAdmin !== undefined && typeof isAdmin !== 'boolean') {
    throw new SpecError('is_admin', `must be true or false, not ${showValue(isAdmin)}`);
  }
  return { username: parseUsername(username), isAdmin: isAdmin ?? false };
}

/** Body of billing_limits/{bp}/edit: `{limit}` with a non-negative dollar amount, or null for none. */
export function parseLimit(body: unknown): number | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new SpecError('limit', 'body must be an object {limit}');
  }
  if (!('limit' in body)) throw new SpecError('limit', 'is required (a non-negative number, or null for no limit)');
  const limit = (body as { limit: unknown }).limit;
  if (limit === null) return null;
  if (typeof limit !== 'number' || !Number.isFinite(limit) || limit < 0) {
    throw new SpecError('limit', `must be a non-negative number or null, not ${showValue(limit)}`);
  }
  return limit;
}

export type ProjectStatus = 'open' | 'closed' | 'deleted';
export type ProjectAction = 'close' | 'reopen' | 'delete';

/**
 * What an action does to a project in a given status. Repeating a transition that already
 * happened is `unchanged` (Hail answers it with success), so retried admin calls are harmless.
 */
export type Transition = { kind: 'set'; status: ProjectStatus } | { kind: 'unchanged' } | { kind: 'refused'; message: string };

export function projectTransition(
  name: string,
  status: ProjectStatus,
  action: ProjectAction,
  hasOpenBatches: boolean,
): Transition {
  switch (action) {
    case 'close':
      if (status === 'closed') return { kind: 'unchanged' };
      if (status === 'deleted') return { kind: 'refused', message: `billing project ${name} has been deleted` };
      if (hasOpenBatches) return { kind: 'refused', message: `cannot close billing project ${name}: it has open or running batches` };
      return { kind: 'set', status: 'closed' };
    case 'reopen':
      if (status === 'open') return { kind: 'unchanged' };
      if (status === 'deleted') return { kind: 'refused', message: `billing project ${name} has been deleted and cannot be reopened` };
      return { kind: 'set', status: 'open' };
    case 'delete':
      if (status === 'deleted') return { kind: 'unchanged' };
      if (status === 'open') return { kind: 'refused', message: `billing project ${name} is open and cannot be deleted; close it first` };
      return { kind: 'set', status: 'deleted' };
  }
}

/** Members change only while a project is open (Hail refuses closed or deleted ones). */
export function membershipRefusal(name: string, status: ProjectStatus): string | null {
  return status === 'open' ? null : `billing project ${name} is ${status} and its members cannot be changed`;
}

/** A closed project's limit may still be edited (it applies again on reopening); a deleted one's not. */
export function limitRefusal(name: string, status: ProjectStatus): string | null {
  return status === 'deleted' ? `billing project ${name} has been deleted` : null;
}
