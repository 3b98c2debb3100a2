import type { Context } from 'hono';
import type { AppEnv, Caller, Services } from './context';
import { ApiError } from './errors';
import { getBatch, type BatchRow } from '../db/queries/batches';
import { getBillingProject, isProjectMember, projectsOf } from '../db/queries/users';
import { inArray, sql, type SQL } from 'drizzle-orm';
import { batches } from '../db/schema';
import { accruedCosts } from '../db/queries/billing';
import { overLimit } from '../domain/billing';

/**
 * A batch the caller may see: one in a billing project they belong to, else 404, as Hail. Being
 * its creator is not enough: removing a user from a project hides its batches from them too.
 */
export async function visibleBatch(s: Services, caller: Caller, batchId: number): Promise<BatchRow> {
  const b = await getBatch(s.db, batchId);
  if (!b) throw new ApiError('not_found', `batch ${batchId} not found`);
  if (caller.isAdmin) return b;
  if (await isProjectMember(s.db, b.billingProject, caller.username)) return b;
  throw new ApiError('not_found', `batch ${batchId} not found`);
}

/** Batches a caller may list: those of their billing projects (as visibleBatch); admins see all. */
export async function batchVisibility(s: Services, caller: Caller): Promise<SQL | undefined> {
  if (caller.isAdmin) return undefined;
  const projects = await projectsOf(s.db, caller.username);
  return projects.length > 0 ? inArray(batches.billingProject, projects) : sql`false`;
}

/** Only the creator may add to a batch (hail-batch-api §1: 404 unless the caller created it). */
export async function ownBatch(s: Services, caller: Caller, batchId: number): Promise<BatchRow> {
  const b = await visibleBatch(s, caller, batchId);
  if (b.user !== caller.username) throw new ApiError('not_found', `batch ${batchId} not found`);
  return b;
}

export async function checkBillingProject(s: Services, caller: Caller, name: string): Promise<void> {
  const bp = await getBillingProject(s.db, name);
  if (!bp || bp.status === 'deleted') throw new ApiError('forbidden', `unknown billing project ${name}`, 'billing_project');
  if (bp.status === 'closed') throw new ApiError('forbidden', `billing project ${name} is closed`, 'billing_project');
  if (!caller.isAdmin && !(await isProjectMember(s.db, name, caller.username))) {
    throw new ApiError('forbidden', `unknown billing project ${name}`, 'billing_project');
  }
  await checkBillingLimit(s, name, bp.limit);
}

/** New work in a project that has spent its limit is refused (403), as Hail refuses it. */
export async function checkBillingLimit(s: Services, name: string, limit?: number | null): Promise<void> {
  const max = limit === undefined ? ((await getBillingProject(s.db, name))?.limit ?? null) : limit;
  if (max === null) return;
  const accrued = (await accruedCosts(s.db, [name], Date.now())).get(name) ?? 0;
  if (overLimit(accrued, max)) {
    throw new ApiError(
      'forbidden',
      `billing project ${name} has exceeded its budget: accrued $${accrued.toFixed(4)} of a $${max} limit`,
      'billing_project',
    );
  }
}

/**
 * The request's JSON. A NUL character in any string or key is refused with 400 naming where it
 * is: PostgreSQL can store it neither in text nor in jsonb, so it would otherwise fail deep in a
 * query as a 500. Reports from agents pass `nul: 'strip'` instead, since an agent retries a
 * refused report forever.
 */
export async function jsonBody(c: Context<AppEnv>, opts: { nul?: 'reject' | 'strip' } = {}): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') throw new ApiError('invalid_request', 'request body must be JSON');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ApiError('invalid_request', 'request body is not valid JSON');
  }
  if (!text.includes('\\u0000')) return value;
  if (opts.nul === 'strip') return withoutNul(value);
  const at = nulPath(value, '');
  if (at !== null) throw new ApiError('invalid_request', `${at || 'body'}: text may not contain NUL characters`, at || undefined);
  return value;
}

/** Where the first NUL is: the dotted path of the string holding it, or of the key. */
export function nulPath(value: unknown, path: string): string | null {
  if (typeof value === 'string') return value.includes('\0') ? path : null;
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) {
      const at = nulPath(v, `${path}[${i}]`);
      if (at !== null) return at;
    }
    return null;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      const here = path === '' ? k : `${path}.${k}`;
      if (k.includes('\0')) return here;
      const at = nulPath(v, here);
      if (at !== null) return at;
    }
  }
  return null;
}

function withoutNul(value: unknown): unknown {
  if (typeof value === 'string') return value.replaceAll('\0', '');
  if (Array.isArray(value)) return value.map(withoutNul);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.replaceAll('\0', ''), withoutNul(v)]));
  }
  return value;
}

