/**
 * Readers for untrusted JSON values. Each one either returns the value in its TypeScript type
 * or throws a SpecError naming the dotted field path, so the spec parsers read top to bottom
 * like the schema they enforce. Hand-written rather than zod so every message can say what
 * was expected in the user's own terms.
 */
import { SpecError, showValue } from './errors';
import { INT4_MAX, INT4_MIN, MAX_NAME_LENGTH, MAX_TEXT_LENGTH, unstorableText } from './limits';

export function fieldPath(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${showValue(value)}`;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * An object with a closed set of keys. Null counts as absent for optional keys: JSON
 * encoders differ on whether they drop or null out unset fields, and both mean "not given".
 */
export function readObject(
  value: unknown,
  path: string,
  allowed: readonly string[],
  required: readonly string[] = [],
): Record<string, unknown> {
  const where = path === '' ? 'body' : path;
  if (!isPlainObject(value)) throw new SpecError(where, `expected an object, found ${kindOf(value)}`);
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw new SpecError(fieldPath(path, key), `unknown key '${key}'; allowed keys are ${allowed.join(', ')}`);
    }
  }
  for (const key of required) {
    if (value[key] === undefined || value[key] === null) {
      throw new SpecError(fieldPath(path, key), `'${key}' is required`);
    }
  }
  return value;
}

/** The value at `key`, or undefined when it is missing or null. */
export function optional(obj: Record<string, unknown>, key: string): unknown {
  const value = obj[key];
  return value === null ? undefined : value;
}

/** `read` applied to the value at `key` (with its field path), or `fallback` when absent. */
export function readOptional<T, D>(
  obj: Record<string, unknown>,
  path: string,
  key: string,
  read: (value: unknown, field: string) => T,
  fallback: D,
): T | D {
  const value = optional(obj, key);
  return value === undefined ? fallback : read(value, fieldPath(path, key));
}

export type StringOptions = { nonEmpty?: boolean; maxLength?: number };

/**
 * A string PostgreSQL can store (no NUL, no lone surrogate), at most `maxLength` UTF-16 units
 * (MAX_TEXT_LENGTH unless told).
 */
export function readString(value: unknown, field: string, opts: StringOptions = {}): string {
  if (typeof value !== 'string') throw new SpecError(field, `expected a string, found ${kindOf(value)}`);
  if (opts.nonEmpty && value.length === 0) throw new SpecError(field, 'must not be empty');
  const max = opts.maxLength ?? MAX_TEXT_LENGTH;
  if (value.length > max) throw new SpecError(field, `must be at most ${max} characters long, found ${value.length}`);
  const problem = unstorableText(value);
  if (problem !== null) throw new SpecError(field, problem);
  return value;
}

export function readBoolean(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') throw new SpecError(field, `expected true or false, found ${kindOf(value)}`);
  return value;
}

/**
 * An integer within [min, max]. Unless told otherwise the bounds are those of a PostgreSQL
 * integer column, which is where every wire integer of the specs ends up.
 */
export function readInteger(value: unknown, field: string, opts: { min?: number; max?: number } = {}): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new SpecError(field, `expected an integer, found ${kindOf(value)}`);
  }
  const min = opts.min ?? INT4_MIN;
  const max = opts.max ?? INT4_MAX;
  if (value < min) throw new SpecError(field, `must be at least ${min}, found ${value}`);
  if (value > max) throw new SpecError(field, `must be at most ${max}, found ${value}`);
  return value;
}

export function readNumber(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new SpecError(field, `expected a number, found ${kindOf(value)}`);
  }
  return value;
}

export function readList<T>(value: unknown, field: string, item: (value: unknown, field: string) => T): T[] {
  if (!Array.isArray(value)) throw new SpecError(field, `expected a list, found ${kindOf(value)}`);
  return value.map((v, i) => item(v, `${field}[${i}]`));
}

/**
 * A str→str map. Built with fromEntries so a '__proto__' key stays an ordinary key. Keys are
 * stored too (jsonb object keys), so they follow the string rules; a bad key is reported on
 * the map itself, since the key cannot be shown as a field path.
 */
export function readStringMap(value: unknown, field: string): Record<string, string> {
  if (!isPlainObject(value)) throw new SpecError(field, `expected an object of strings, found ${kindOf(value)}`);
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => {
      try {
        readString(k, field, { maxLength: MAX_NAME_LENGTH });
      } catch (e) {
        if (e instanceof SpecError) throw new SpecError(field, `key ${showValue(k)} ${e.detail}`);
        throw e;
      }
      // Hail's validator words a value of another type as "… is not <class 'str'>", which its
      // clients and tests match.
      if (typeof v !== 'string') throw new SpecError(fieldPath(field, k), `found ${kindOf(v)}, which is not <class 'str'>`);
      return [k, readString(v, fieldPath(field, k))];
    }),
  );
}
