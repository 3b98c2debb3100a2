import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { SpecError } from '../../domain/errors';
import {
  GIB,
  MAX_STORAGE_GIB,
  isValidCoresMcpu,
  parseCpu,
  parseMemory,
  parseSizeBytes,
  parseStorageGib,
  roundUpCoresMcpu,
} from '../../domain/resources';
import { specError } from './spec-error';


describe('parseCpu', () => {
  it.each([
    [0.25, 250],
    [0.5, 500],
    [1, 1000],
    [2, 2000],
    [16, 16000],
    [64, 64000],
    ['0.25', 250],
    ['1', 1000],
    ['8', 8000],
    ['.5', 500],
    ['+2', 2000],
    ['250m', 250],
    ['500m', 500],
    ['4000m', 4000],
    [' 1 ', 1000],
  ])('%j → %d mcpu', (input, mcpu) => {
    expect(parseCpu(input, 'cpu')).toBe(mcpu);
  });

  const badCpus = [0, -1, 0.3, 3, 6, 0.1, 0.125, '0', '-1', '3', '0.3', '300m', '125m', '1.5', 'one', '1 cpu', '', '1m'];
  it.each([...badCpus, NaN, Infinity, null, true, [1], { cpu: 1 }])('rejects %j', (input) => {
    const e = specError(() => parseCpu(input, 'bunch[0].resources.cpu'));
    expect(e.field).toBe('bunch[0].resources.cpu');
    expect(e.message).toMatch(/^bunch\[0\]\.resources\.cpu: invalid cpu .*0\.25 × a power of two/);
  });

  it('quotes the bad value in the message', () => {
    expect(specError(() => parseCpu('0.3', 'cpu')).message).toContain("'0.3'");
  });

  it('accepts exactly the quarter-core powers of two', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 12 }), (power) => {
        const mcpu = 250 * 2 ** power;
        expect(parseCpu(`${mcpu}m`, 'cpu')).toBe(mcpu);
        expect(parseCpu(mcpu / 1000, 'cpu')).toBe(mcpu);
      }),
    );
  });
});

describe('isValidCoresMcpu and roundUpCoresMcpu', () => {
  it('knows the valid slot sizes', () => {
    expect([250, 500, 1000, 2000, 4000, 8000, 16000, 32000].every(isValidCoresMcpu)).toBe(true);
    expect([0, -250, 125, 300, 750, 1500, 3000, 0.5, 250.5].some(isValidCoresMcpu)).toBe(false);
  });

  it('rounds up to the next slot', () => {
    expect(roundUpCoresMcpu(1)).toBe(250);
    expect(roundUpCoresMcpu(250)).toBe(250);
    expect(roundUpCoresMcpu(251)).toBe(500);
    expect(roundUpCoresMcpu(1000)).toBe(1000);
    expect(roundUpCoresMcpu(1001)).toBe(2000);
    expect(roundUpCoresMcpu(7761)).toBe(8000);
  });

  it('always lands on a valid slot no smaller than the request and less than twice it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000_000 }), (mcpu) => {
        const slot = roundUpCoresMcpu(mcpu);
        expect(isValidCoresMcpu(slot)).toBe(true);
        expect(slot).toBeGreaterThanOrEqual(mcpu);
        expect(slot === 250 || slot < 2 * mcpu).toBe(true);
      }),
    );
  });
});

describe('parseSizeBytes', () => {
  it.each([
    ['1024', 1024],
    [1024, 1024],
    [0, 0],
    ['0', 0],
    ['1K', 1000],
    ['1k', 1000],
    ['1Ki', 1024],
    ['500Mi', 500 * 1024 ** 2],
    ['500M', 500e6],
    ['7Gi', 7 * 1024 ** 3],
    ['7G', 7e9],
    ['2.5G', 2.5e9],
    ['2.5Gi', 2.5 * 1024 ** 3],
    ['1T', 1e12],
    ['1Ti', 1024 ** 4],
    ['1P', 1e15],
    ['1Pi', 1024 ** 5],
    ['7GiB', 7 * 1024 ** 3],
    ['7GB', 7e9],
    ['100B', 100],
    ['0.1Gi', Math.ceil(0.1 * 1024 ** 3)],
    ['1.5', 2],
    [1.5, 2],
  ])('%j → %d bytes', (input, bytes) => {
    expect(parseSizeBytes(input)).toBe(bytes);
  });

  const badSizes = ['7Gx', '7 Gi', 'Gi', '-1Gi', '7gi', '7iG', '1E', '', 'lots'];
  it.each([...badSizes, -5, NaN, null, {}, ['1Gi']])('rejects %j', (input) => {
    expect(parseSizeBytes(input)).toBeNull();
  });
});

describe('parseMemory', () => {
  it.each(['lowmem', 'standard', 'highmem'])('keeps the keyword %s', (keyword) => {
    expect(parseMemory(keyword, 'memory')).toEqual({ kind: 'keyword', keyword });
  });

  it('parses sizes to bytes', () => {
    expect(parseMemory('7Gi', 'memory')).toEqual({ kind: 'bytes', bytes: 7 * GIB });
    expect(parseMemory('3.75G', 'memory')).toEqual({ kind: 'bytes', bytes: 3.75e9 });
    expect(parseMemory(1024, 'memory')).toEqual({ kind: 'bytes', bytes: 1024 });
  });

  it('explains a bad memory value, naming the field', () => {
    const e = specError(() => parseMemory('7Gx', 'bunch[3].resources.memory'));
    expect(e.field).toBe('bunch[3].resources.memory');
    expect(e.message).toBe(
      "bunch[3].resources.memory: invalid memory '7Gx'; expected lowmem, standard, highmem or a size like 7Gi, 500Mi or 2.5G",
    );
  });

  it('is case-sensitive about keywords', () => {
    expect(() => parseMemory('Standard', 'memory')).toThrow(SpecError);
  });
});

describe('parseStorageGib', () => {
  it('rounds up to whole GiB', () => {
    expect(parseStorageGib('0Gi', 's')).toBe(0);
    expect(parseStorageGib('0', 's')).toBe(0);
    expect(parseStorageGib('1', 's')).toBe(1);
    expect(parseStorageGib('10Gi', 's')).toBe(10);
    expect(parseStorageGib('10G', 's')).toBe(10);
    expect(parseStorageGib('11G', 's')).toBe(11);
    expect(parseStorageGib('500Mi', 's')).toBe(1);
    expect(parseStorageGib('1Ti', 's')).toBe(1024);
    expect(parseStorageGib('64Ti', 's')).toBe(MAX_STORAGE_GIB);
  });

  it('rejects more than 64 TiB', () => {
    const e = specError(() => parseStorageGib('65Ti', 'bunch[0].resources.storage'));
    expect(e.field).toBe('bunch[0].resources.storage');
    expect(e.message).toContain('maximum of 64Ti');
  });

  it('rejects what is not a size', () => {
    const e = specError(() => parseStorageGib('big', 'bunch[0].resources.storage'));
    expect(e.message).toBe("bunch[0].resources.storage: invalid storage 'big'; expected a size like 10Gi, 500Mi or 20G");
  });

  it('never gives less than asked for', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 64 * 1024 ** 4 }), (bytes) => {
        const gib = parseStorageGib(String(bytes), 's');
        expect(gib * GIB).toBeGreaterThanOrEqual(bytes);
        expect((gib - 1) * GIB).toBeLessThan(bytes || 1);
      }),
    );
  });
});
