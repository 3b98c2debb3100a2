/**
 * Calls to a cloud API, tried again as each error deserves (domain/cloud-errors.ts): rate
 * limits and server errors after a pause, a few times; capacity and quota refusals surface as
 * CapacityError so the caller avoids the location and asks elsewhere.
 */
import { classifyCloudError, retryDelayMs, type CloudErrorKind } from '../../domain/cloud-errors';

/** The cloud refused a VM in this location for capacity or quota; try another. */
export class CapacityError extends Error {
  constructor(
    readonly location: string,
    readonly code: string,
    message: string,
  ) {
    super(`${location}: ${code}: ${message}`);
  }
}

export type CloudFailure = { status: number | null; code: string | null; message: string };

export function kindOf(f: CloudFailure): CloudErrorKind {
  return classifyCloudError(f.status, f.code);
}

export const TRIES = 5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `call`, trying again on 'retry' errors; `read` turns an SDK error into a CloudFailure. */
export async function withRetry<T>(call: () => Promise<T>, read: (err: unknown) => CloudFailure, tries = TRIES): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await call();
    } catch (err) {
      if (n >= tries || kindOf(read(err)) !== 'retry') throw err;
      await sleep(retryDelayMs(n));
    }
  }
}
