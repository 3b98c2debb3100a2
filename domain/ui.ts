/**
 * Pure helpers of the web UI: where a sign-in may send the user back to, how a pool form's
 * strings become a pool patch, and how durations and costs read on a page.
 */
import { DEFAULT_POOL_CONFIG, type PoolConfig } from './autoscaler';

export const DEFAULT_PAGE = '/batches';

/**
 * `next` after sign-in: only a path of this site. Anything else (another origin, `//host`,
 * `/\host`, which browsers read as an origin, control characters) sends the user to the
 * batches page instead, so the sign-in page cannot be used to bounce users elsewhere.
 */
export function safeNext(next: string | undefined | null): string {
  if (!next || next.length > 2000) return DEFAULT_PAGE;
  if (!next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return DEFAULT_PAGE;
  if (/[\u0000-\u001f\u007f\\]/.test(next)) return DEFAULT_PAGE;
  if (next === '/login' || next.startsWith('/login?') || next.startsWith('/logout')) return DEFAULT_PAGE;
  return next;
}

/**
 * A pool edit form to a PATCH body: checkboxes become booleans (an unticked box is absent from
 * a form, so every boolean field is set), whole numbers become numbers, and anything else is
 * passed on as typed so the pool validation names the field it is wrong for.
 */
export function poolFormPatch(form: Record<string, string>): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  for (const [field, dflt] of Object.entries(DEFAULT_POOL_CONFIG) as [keyof PoolConfig, unknown][]) {
    const raw = form[field];
    if (typeof dflt === 'boolean') {
      patch[field] = raw === 'on' || raw === 'true';
      continue;
    }
    if (raw === undefined) continue;
    const text = raw.trim();
    patch[field] = typeof dflt === 'number' && /^-?\d{1,15}$/.test(text) ? Number(text) : text;
  }
  return patch;
}

/** 1234567 ms → "20m 34s"; null (not finished) → "". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const parts = d > 0 ? [`${d}d`, `${h}h`] : h > 0 ? [`${h}h`, `${m}m`] : m > 0 ? [`${m}m`, `${s}s`] : [`${s}s`];
  return parts.join(' ');
}

/** Dollars as Hail's UI shows them: four decimals below a cent, else two. */
export function formatCost(cost: number | null | undefined): string {
  if (cost === null || cost === undefined || !Number.isFinite(cost)) return '';
  if (cost !== 0 && Math.abs(cost) < 0.01) return `$${cost.toFixed(4)}`;
  return `$${cost.toFixed(2)}`;
}
