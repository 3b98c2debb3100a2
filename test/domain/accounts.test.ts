import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SpecError } from '../../domain/errors';
import {
  limitRefusal,
  membershipRefusal,
  parseCreateUser,
  parseLimit,
  parseProjectName,
  parseUsername,
  projectTransition,
  type ProjectAction,
  type ProjectStatus,
} from '../../domain/accounts';

function fieldOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof SpecError) return e.field;
    throw e;
  }
  throw new Error('expected a SpecError');
}

describe('usernames', () => {
  it.each(['alice', 'a', 'bob-2', 'svc_batch', 'a'.repeat(63)])('accepts %s', (u) => {
    expect(parseUsername(u)).toBe(u);
  });
  it.each(['', 'Alice', '1abc', '-x', 'has space', 'a/b', 'a'.repeat(64), 'ünï'])('refuses %j naming the field', (u) => {
    expect(fieldOf(() => parseUsername(u))).toBe('username');
  });
  it('refuses non-strings', () => {
    expect(() => parseUsername(42)).toThrow(/must be a string/);
    expect(fieldOf(() => parseUsername(null, 'user'))).toBe('user');
  });
});

describe('POST /users body', () => {
  it('defaults is_admin to false', () => {
    expect(parseCreateUser({ username: 'carol' })).toEqual({ username: 'carol', isAdmin: false });
    expect(parseCreateUser({ username: 'carol', is_admin: true })).toEqual({ username: 'carol', isAdmin: true });
  });
  it.each([
    [null, 'body'],
    [[], 'body'],
    [{}, 'username'],
    [{ username: 'Carol' }, 'username'],
    [{ username: 'carol', is_admin: 'yes' }, 'is_admin'],
    [{ username: 'carol', email: 'c@x' }, 'email'],
  ])('%j is refused naming %s', (body, field) => {
    expect(fieldOf(() => parseCreateUser(body))).toBe(field);
  });
});

describe('billing project names', () => {
  it.each(['test', 'Lab-1', 'a.b_c', '0'])('accepts %s', (n) => expect(parseProjectName(n)).toBe(n));
  it.each(['', '-x', '.hidden', 'a b', 'a/b', 'x'.repeat(101)])('refuses %j', (n) => {
    expect(fieldOf(() => parseProjectName(n))).toBe('billing_project');
  });
});

describe('limits', () => {
  it('takes a non-negative number or null', () => {
    expect(parseLimit({ limit: 0 })).toBe(0);
    expect(parseLimit({ limit: 12.5 })).toBe(12.5);
    expect(parseLimit({ limit: null })).toBeNull();
  });
  it.each([[{}], [{ limit: -1 }], [{ limit: '10' }], [{ limit: Number.POSITIVE_INFINITY }], [{ limit: true }], [null], [[1]]])(
    '%j is refused naming limit',
    (body) => {
      expect(fieldOf(() => parseLimit(body))).toBe('limit');
    },
  );
  it('accepts every finite non-negative number unchanged', () => {
    fc.assert(fc.property(fc.double({ min: 0, noNaN: true, noDefaultInfinity: true }), (n) => parseLimit({ limit: n }) === n));
  });
});

describe('billing project transitions', () => {
  const table: [ProjectStatus, ProjectAction, boolean, string][] = [
    ['open', 'close', false, 'set closed'],
    ['open', 'close', true, 'refused'],
    ['closed', 'close', true, 'unchanged'],
    ['deleted', 'close', false, 'refused'],
    ['open', 'reopen', false, 'unchanged'],
    ['closed', 'reopen', false, 'set open'],
    ['deleted', 'reopen', false, 'refused'],
    ['open', 'delete', false, 'refused'],
    ['closed', 'delete', false, 'set deleted'],
    ['deleted', 'delete', false, 'unchanged'],
  ];
  it.each(table)('%s + %s (open batches: %s) → %s', (status, action, open, expected) => {
    const t = projectTransition('p', status, action, open);
    expect(t.kind === 'set' ? `set ${t.status}` : t.kind).toBe(expected);
  });

  it('explains refusals as Hail does', () => {
    const closeBusy = projectTransition('p', 'open', 'close', true);
    expect(closeBusy.kind === 'refused' && closeBusy.message).toMatch(/cannot close billing project p: it has open or running batches/);
    const reopenDeleted = projectTransition('p', 'deleted', 'reopen', false);
    expect(reopenDeleted.kind === 'refused' && reopenDeleted.message).toMatch(/deleted and cannot be reopened/);
    const deleteOpen = projectTransition('p', 'open', 'delete', false);
    expect(deleteOpen.kind === 'refused' && deleteOpen.message).toMatch(/close it first/);
  });

  it('is idempotent: applying an allowed transition twice changes nothing the second time', () => {
    const statuses: ProjectStatus[] = ['open', 'closed', 'deleted'];
    const actions: ProjectAction[] = ['close', 'reopen', 'delete'];
    fc.assert(
      fc.property(fc.constantFrom(...statuses), fc.constantFrom(...actions), (status, action) => {
        const first = projectTransition('p', status, action, false);
        if (first.kind !== 'set') return true;
        return projectTransition('p', first.status, action, false).kind === 'unchanged';
      }),
    );
  });

  it('allows member changes only while open, limit edits unless deleted', () => {
    expect(membershipRefusal('p', 'open')).toBeNull();
    expect(membershipRefusal('p', 'closed')).toMatch(/closed/);
    expect(membershipRefusal('p', 'deleted')).toMatch(/deleted/);
    expect(limitRefusal('p', 'open')).toBeNull();
    expect(limitRefusal('p', 'closed')).toBeNull();
    expect(limitRefusal('p', 'deleted')).toMatch(/deleted/);
  });
});
