/**
 * What the storage and the runtime can hold, as the wire parsers enforce it. A value past one
 * of these would reach PostgreSQL or a timer and fail there (a 500, or a timer that fires at
 * once), so it is refused at submission with a 400 naming the field instead.
 */

/** Largest value of a PostgreSQL `integer` (int4): job ids, counts, attempts, exit codes. */
export const INT4_MAX = 2_147_483_647;
export const INT4_MIN = -2_147_483_648;

/**
 * Longest job timeout accepted: 366 days. Timeouts are seconds in the stored spec (a float in
 * jsonb, so any length fits); the bound only keeps absurd values such as 1e300 out, and it is
 * far past the 2^31 − 1 ms (about 24.8 days) a single Node timer can wait, so the runner must
 * chain timers for long ones.
 */
export const MAX_TIMEOUT_SECONDS = 366 * 24 * 60 * 60;

/** Longest string accepted in a spec where no tighter bound applies (commands, values). */
export const MAX_TEXT_LENGTH = 1024 * 1024;
/** Names and keys: attribute keys, tokens, regions, bucket and secret names. */
export const MAX_NAME_LENGTH = 1024;
/** URLs and container paths. */
export const MAX_URL_LENGTH = 4096;
/** Hail's limit: fewer than 64 regions per job. */
export const MAX_REGIONS = 63;

/**
 * Why `text` cannot be stored in a PostgreSQL `text` or `jsonb` value, or null when it can.
 * PostgreSQL refuses NUL in both, and jsonb refuses a `\u` escape of an unpaired UTF-16
 * surrogate (node-postgres sends such a string as invalid UTF-8, which text refuses too).
 */
export function unstorableText(text: string): string | null {
  if (text.includes('\u0000')) return 'must not contain a NUL character (\\u0000)';
  if (LONE_SURROGATE.test(text)) return 'must not contain an unpaired UTF-16 surrogate';
  return null;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
