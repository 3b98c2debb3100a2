/**
 * Resource requests as Hail spells them (cpu `0.25`/`250m`, memory `7Gi`/`standard`, storage
 * `10Gi`) turned into exact integers, plus the rounding every pool applies.
 */
import { SpecError, UnsatisfiableError, showValue } from './errors';

export const MEMORY_KEYWORDS = ['lowmem', 'standard', 'highmem'] as const;
export type MemoryKeyword = (typeof MEMORY_KEYWORDS)[number];

export type MemoryRequest = { kind: 'keyword'; keyword: MemoryKeyword } | { kind: 'bytes'; bytes: number };

/** The smallest slot a job can get: packing below a quarter core wastes more than it saves. */
export const MIN_CORES_MCPU = 250;
export const GIB = 1024 ** 3;
export const MIB = 1024 ** 2;
/** Largest extra storage a job may ask for (a GCP persistent disk's limit). */
export const MAX_STORAGE_GIB = 64 * 1024;

const CPU_PATTERN = /^\+?((?:\d*\.)?\d+)(m)?$/;
/** A size as Kubernetes writes it (the memory and storage grammar). */
export const SIZE_PATTERN = /^\+?((?:\d*\.)?\d+)(?:([kKMGTP])(i)?)?(B)?$/;

const DECIMAL: Record<string, number> = { k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15 };
const BINARY: Record<string, number> = { k: 1024, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4, P: 1024 ** 5 };

/** True when `mcpu` is 0.25 core × a power of two (250, 500, 1000, 2000, ...). */
export function isValidCoresMcpu(mcpu: number): boolean {
  if (!Number.isSafeInteger(mcpu) || mcpu <= 0 || mcpu % MIN_CORES_MCPU !== 0) return false;
  const quarters = mcpu / MIN_CORES_MCPU;
  return (quarters & (quarters - 1)) === 0 && quarters <= 2 ** 30;
}

/** Rounds a core count up to the next valid slot size (a power-of-two multiple of 250 mcpu). */
export function roundUpCoresMcpu(mcpu: number): number {
  let slot = MIN_CORES_MCPU;
  while (slot < mcpu) slot *= 2;
  return slot;
}

/** Thousandths of a core from `1`, `0.25`, `"0.5"` or `"250m"`; must be 0.25 × a power of two. */
export function parseCpu(value: unknown, field: string): number {
  const invalid = () =>
    new SpecError(
      field,
      `invalid cpu ${showValue(value)}; expected 0.25 × a power of two, such as 0.25, 0.5, 1, 2, 4 or 250m`,
    );
  let mcpu: number;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw invalid();
    mcpu = value * 1000;
  } else if (typeof value === 'string') {
    const match = CPU_PATTERN.exec(value.trim());
    if (!match?.[1]) throw invalid();
    const n = Number(match[1]);
    mcpu = match[2] === 'm' ? n : n * 1000;
  } else {
    throw invalid();
  }
  // Decimal fractions like 0.1 are not exact in binary; anything that is not a whole number of
  // mcpu after rounding away float noise is not a valid request.
  const rounded = Math.round(mcpu);
  if (Math.abs(rounded - mcpu) > 1e-6 || !isValidCoresMcpu(rounded)) throw invalid();
  return rounded;
}

/**
 * Bytes from a Kubernetes-style quantity: a plain number of bytes, or a number with K/M/G/T/P
 * (powers of 1000) or Ki/Mi/Gi/Ti/Pi (powers of 1024), optionally followed by B. Fractions
 * round up to a whole byte. Returns null when the text is not a size.
 */
export function parseSizeBytes(value: unknown): number | null {
  if (typeof value === 'number') {
    return Number.isFinite(value) && value >= 0 ? Math.ceil(value) : null;
  }
  if (typeof value !== 'string') return null;
  const match = SIZE_PATTERN.exec(value.trim());
  if (!match?.[1]) return null;
  const [, digits, unit, binary] = match;
  const n = Number(digits);
  const factor = unit === undefined ? 1 : ((binary ? BINARY : DECIMAL)[unit] ?? 1);
  const bytes = Math.ceil(n * factor);
  return Number.isSafeInteger(bytes) ? bytes : null;
}

/** Memory: a worker-type keyword or a size. */
export function parseMemory(value: unknown, field: string): MemoryRequest {
  if (typeof value === 'string' && (MEMORY_KEYWORDS as readonly string[]).includes(value)) {
    return { kind: 'keyword', keyword: value as MemoryKeyword };
  }
  const bytes = parseSizeBytes(value);
  if (bytes === null) {
    throw new SpecError(
      field,
      `invalid memory ${showValue(value)}; expected lowmem, standard, highmem or a size like 7Gi, 500Mi or 2.5G`,
    );
  }
  return { kind: 'bytes', bytes };
}

/** Extra storage in whole GiB, rounded up; 0 means none. */
export function parseStorageGib(value: unknown, field: string): number {
  const bytes = parseSizeBytes(value);
  // A well-formed size past 2^53 bytes is a valid request that no disk holds, as in Hail.
  if (bytes === null && typeof value === 'string' && SIZE_PATTERN.test(value.trim())) {
    throw new UnsatisfiableError(field, `storage ${showValue(value)} is more than the maximum of ${MAX_STORAGE_GIB / 1024}Ti`);
  }
  if (bytes === null) {
    throw new SpecError(field, `invalid storage ${showValue(value)}; expected a size like 10Gi, 500Mi or 20G`);
  }
  const gib = Math.ceil(bytes / GIB);
  if (gib > MAX_STORAGE_GIB) {
    throw new UnsatisfiableError(field, `storage ${showValue(value)} is more than the maximum of ${MAX_STORAGE_GIB / 1024}Ti`);
  }
  return gib;
}
