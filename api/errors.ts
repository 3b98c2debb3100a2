/**
 * The one error envelope: `{"error": {"code", "message", "field"?}}` with a closed set of codes
 * and one status per code. Domain and database failures are translated here and nowhere else.
 */
import type { ServerResponse } from 'node:http';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { SpecError } from '../domain/errors';
import { DbError, type DbErrorKind } from '../db/queries/errors';

const STATUS = {
  invalid_request: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unavailable: 503,
  internal: 500,
} as const;
export type ErrorCode = keyof typeof STATUS;
export const ERROR_CODES = Object.keys(STATUS) as [ErrorCode, ...ErrorCode[]];

export function statusOf(code: ErrorCode): (typeof STATUS)[ErrorCode] {
  return STATUS[code];
}

export class ApiError extends Error {
  constructor(
    public readonly code: ErrorCode,
    message: string,
    public readonly field?: string,
  ) {
    super(message);
  }
  get status(): (typeof STATUS)[ErrorCode] {
    return STATUS[this.code];
  }
}

const DB_KIND: Record<DbErrorKind, ErrorCode> = {
  not_found: 'not_found',
  invalid: 'invalid_request',
  conflict: 'conflict',
  forbidden: 'forbidden',
};

export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof SpecError) return new ApiError('invalid_request', e.message, e.field);
  if (e instanceof DbError) return new ApiError(DB_KIND[e.kind], e.message, e.field);
  // Hono's own refusals (a malformed request it could not route or read) are the caller's.
  if (e instanceof HTTPException && e.status < 500) {
    const code = (Object.keys(STATUS) as ErrorCode[]).find((k) => STATUS[k] === e.status) ?? 'invalid_request';
    return new ApiError(code, e.message || 'bad request');
  }
  return new ApiError('internal', 'internal server error');
}

export function errorResponse(c: Context, e: ApiError): Response {
  setReasonPhrase(c, e.message);
  const body = { error: { code: e.code, message: e.message, ...(e.field ? { field: e.field } : {}) } };
  return c.json(body, e.status);
}

/**
 * Hail's services raise errors with aiohttp's `reason=`, so the text travels in the HTTP reason
 * phrase too, and hailtop's `ClientResponseError` shows it as `message='…'`: what its users see
 * and what its tests match, quoting intact (the JSON body's `"` makes Python escape a `'`).
 * The body stays the envelope. Only served requests have a Node response (`c.env.outgoing`).
 */
function setReasonPhrase(c: Context, message: string): void {
  const out = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
  if (out && !out.headersSent) out.statusMessage = reasonPhrase(message);
}

/** A reason phrase Node accepts: printable ASCII (a control byte would make writeHead throw), bounded. */
export function reasonPhrase(message: string): string {
  const text = message.replace(/[^\x20-\x7e]+/g, ' ').trim().slice(0, 512);
  return text || 'error';
}
