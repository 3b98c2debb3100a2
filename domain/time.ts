/**
 * Timestamps as the wire spells them. Pure functions of their arguments (no clock), so they
 * are safe in workflow code.
 */
import { SpecError, showValue } from './errors';

/** ISO 8601 UTC with milliseconds and a trailing Z, e.g. 2026-01-02T03:04:05.678Z. */
export function isoTime(ms: number | null): string | null {
  if (ms === null) return null;
  return new Date(ms).toISOString();
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

const BILLING_DATE = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/;

/** Midnight UTC of a billing report date written MM/DD/YYYY, in ms since the epoch. */
export function parseBillingDate(text: string, field = 'date'): number {
  const match = BILLING_DATE.exec(text.trim());
  const month = Number(match?.[1]);
  const day = Number(match?.[2]);
  const year = Number(match?.[3]);
  if (!match || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    throw new SpecError(field, `invalid date ${showValue(text)}; expected MM/DD/YYYY, e.g. 01/31/2026`);
  }
  return Date.UTC(year, month - 1, day);
}

const ISO_TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)$/i;

/**
 * Ms since the epoch of an ISO 8601 date-time that carries its zone (Z or ±HH:MM), as the
 * v2 query language requires: without a zone the instant would depend on the server's.
 * Returns null for anything else.
 */
export function parseIsoTimestamp(text: string): number | null {
  const m = ISO_TIMESTAMP.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s ?? '0');
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  const ms = frac ? Math.floor(Number(`0.${frac}`) * 1000) : 0;
  let offsetMinutes = 0;
  if (zone && zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2) || '0');
    if (oh > 23 || om > 59) return null;
    offsetMinutes = sign * (oh * 60 + om);
  }
  return Date.UTC(year, month - 1, day, hour, minute, second, ms) - offsetMinutes * 60_000;
}
