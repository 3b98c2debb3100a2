/** Path and query numbers of UI pages; a bad one is a 400 page naming it. */
import { ApiError } from '../errors';
import { BATCH_ID_MAX } from '../contract';

const INT4_MAX = 2 ** 31 - 1;

export function idOf(raw: string | undefined, field: string, max = INT4_MAX): number {
  if (raw === undefined || !/^\d{1,16}$/.test(raw)) throw new ApiError('not_found', `${field}: no such page`, field);
  const n = Number(raw);
  if (n > max) throw new ApiError('not_found', `${field}: no such page`, field);
  return n;
}

export function cursorOf(raw: string | undefined, field: string, max = INT4_MAX): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d{1,16}$/.test(raw) || Number(raw) > max) throw new ApiError('invalid_request', `${field} must be a whole number`, field);
  return Number(raw);
}

export const batchIdOf = (raw: string | undefined) => idOf(raw, 'batch_id', BATCH_ID_MAX);
