import type { Context } from 'hono';
import type { AppEnv, Caller, Services } from './context';
import { ApiError } from './errors';
import { getBatch, type BatchRow } from '../db/queries/batches';
import { getBillingProject, isProjectMember } from '../db/queries/users';
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

export function intParam(c: Context<AppEnv>, name: string): number {
  const raw = c.req.param(name) ?? '';
  if (!/^\d{1,15}$/.test(raw)) throw new ApiError('invalid_request', `${name} must be a positive integer`, name);
  return Number(raw);
}

export function optionalIntQuery(c: Context<AppEnv>, name: string): number | null {
  const raw = c.req.query(name);
  if (raw === undefined || raw === '') return null;
  if (!/^\d{1,15}$/.test(raw)) throw new ApiError('invalid_request', `${name} must be a non-negative integer`, name);
  return Number(raw);
}

export async function jsonBody(c: Context<AppEnv>): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') throw new ApiError('invalid_request', 'request body must be JSON');
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError('invalid_request', 'request body is not valid JSON');
  }
}

