import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { SpecError } from '../../domain/errors';
import {
  DEFAULT_POOLS,
  JOB_PRIVATE_POOL,
  MEMORY_PER_CORE_MIB,
  choosePool,
  definePools,
  fitToPool,
  parseMachineType,
  type PoolDefinition,
} from '../../domain/pools';
import { GIB, MIB, isValidCoresMcpu } from '../../domain/resources';

const bytes = (n: number) => ({ kind: 'bytes', bytes: n }) as const;
const keyword = (k: 'lowmem' | 'standard' | 'highmem') => ({ kind: 'keyword', keyword: k }) as const;

describe('pool definitions', () => {
  it('has the three shared pools with Hail memory per core and 16-core workers by default', () => {
    expect(DEFAULT_POOLS.map((p) => [p.name, p.worker_type, p.memory_per_core_mib, p.worker_cores])).toEqual([
      ['highcpu', 'highcpu', 924, 16],
      ['standard', 'standard', 3840, 16],
      ['highmem', 'highmem', 6656, 16],
    ]);
  });

  it('takes the real worker size', () => {
    expect(definePools(8).every((p) => p.worker_cores === 8)).toBe(true);
  });
});

describe('choosePool with a memory keyword', () => {
  it('puts standard memory in the standard pool at 3840 MiB per core', () => {
    expect(choosePool({ cores_mcpu: 1000, memory: keyword('standard') }, DEFAULT_POOLS)).toEqual({
      pool: 'standard',
      cores_mcpu: 1000,
      memory_bytes: 3840 * MIB,
    });
  });

  it('puts lowmem in highcpu and highmem in highmem', () => {
    expect(choosePool({ cores_mcpu: 2000, memory: keyword('lowmem') }, DEFAULT_POOLS)).toEqual({
      pool: 'highcpu',
      cores_mcpu: 2000,
      memory_bytes: 2 * 924 * MIB,
    });
    expect(choosePool({ cores_mcpu: 4000, memory: keyword('highmem') }, DEFAULT_POOLS)).toEqual({
      pool: 'highmem',
      cores_mcpu: 4000,
      memory_bytes: 4 * 6656 * MIB,
    });
  });

  it('gives a quarter core a quarter of the per-core memory', () => {
    expect(choosePool({ cores_mcpu: 250, memory: keyword('standard') }, DEFAULT_POOLS)).toEqual({
      pool: 'standard',
      cores_mcpu: 250,
      memory_bytes: 960 * MIB,
    });
  });

  it('is unsatisfiable when the cores exceed a worker', () => {
    const e = (() => {
      try {
        choosePool({ cores_mcpu: 32000, memory: keyword('standard') }, DEFAULT_POOLS, 'bunch[2].resources');
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(SpecError);
    expect((e as SpecError).field).toBe('bunch[2].resources');
    expect((e as SpecError).message).toMatch(/^bunch\[2\]\.resources: .*unsatisfiable/);
  });

  it('is unsatisfiable when the pool of that type does not exist', () => {
    const onlyStandard = DEFAULT_POOLS.filter((p) => p.name === 'standard');
    expect(() => choosePool({ cores_mcpu: 1000, memory: keyword('highmem') }, onlyStandard)).toThrow(/unsatisfiable/);
  });
});

describe('choosePool with an explicit size', () => {
  it('gives 1 cpu + 7Gi two standard cores', () => {
    expect(choosePool({ cores_mcpu: 1000, memory: bytes(7 * GIB) }, DEFAULT_POOLS)).toEqual({
      pool: 'standard',
      cores_mcpu: 2000,
      memory_bytes: 2 * 3840 * MIB,
    });
  });

  it('prefers highcpu for small memory', () => {
    expect(choosePool({ cores_mcpu: 1000, memory: bytes(500 * MIB) }, DEFAULT_POOLS)).toEqual({
      pool: 'highcpu',
      cores_mcpu: 1000,
      memory_bytes: 924 * MIB,
    });
  });

  it('prefers highmem when memory dominates', () => {
    // 12 GiB: highcpu needs 16 cores, standard 4 (cost 4×1.50), highmem 2 (cost 2×1.87).
    expect(choosePool({ cores_mcpu: 1000, memory: bytes(12 * GIB) }, DEFAULT_POOLS)).toEqual({
      pool: 'highmem',
      cores_mcpu: 2000,
      memory_bytes: 2 * 6656 * MIB,
    });
  });

  it('gives at least a quarter core even for tiny requests', () => {
    expect(choosePool({ cores_mcpu: 250, memory: bytes(0) }, DEFAULT_POOLS)).toEqual({
      pool: 'highcpu',
      cores_mcpu: 250,
      memory_bytes: 231 * MIB,
    });
  });

  it('falls back to a pool with more memory per core when cheaper pools cannot fit', () => {
    // 100 GiB needs 111 highcpu or 27 standard cores but only 16 highmem cores.
    expect(choosePool({ cores_mcpu: 1000, memory: bytes(100 * GIB) }, DEFAULT_POOLS).pool).toBe('highmem');
  });

  it('is unsatisfiable when no worker is big enough', () => {
    expect(() => choosePool({ cores_mcpu: 1000, memory: bytes(200 * GIB) }, DEFAULT_POOLS)).toThrow(
      /resources: .*unsatisfiable/,
    );
    expect(() => choosePool({ cores_mcpu: 32000, memory: bytes(GIB) }, DEFAULT_POOLS)).toThrow(/unsatisfiable/);
  });

  it('fits bigger requests on bigger workers', () => {
    expect(choosePool({ cores_mcpu: 32000, memory: bytes(GIB) }, definePools(32))).toMatchObject({ cores_mcpu: 32000 });
  });

  it('always returns a power-of-two slot with at least the cores and memory asked for, within the worker', () => {
    const pools: PoolDefinition[] = definePools(64);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 8 }).map((p) => 250 * 2 ** p),
        fc.integer({ min: 0, max: 400 * 1024 }).map((mib) => mib * MIB),
        (cores, memory) => {
          let choice;
          try {
            choice = choosePool({ cores_mcpu: cores, memory: bytes(memory) }, pools);
          } catch (e) {
            expect(e).toBeInstanceOf(SpecError);
            expect(memory).toBeGreaterThan(64 * 6656 * MIB);
            return;
          }
          expect(isValidCoresMcpu(choice.cores_mcpu)).toBe(true);
          expect(choice.cores_mcpu % 250).toBe(0);
          expect(choice.cores_mcpu).toBeGreaterThanOrEqual(cores);
          expect(choice.cores_mcpu).toBeLessThanOrEqual(64_000);
          expect(choice.memory_bytes).toBeGreaterThanOrEqual(memory);
          const pool = pools.find((p) => p.name === choice.pool);
          expect(choice.memory_bytes).toBe(Math.floor((choice.cores_mcpu / 1000) * (pool?.memory_per_core_mib ?? 0) * MIB));
        },
      ),
    );
  });
});

describe('fitToPool', () => {
  const standard = DEFAULT_POOLS[1] as PoolDefinition;
  it('takes the larger of the requested cores and the cores the memory needs', () => {
    expect(fitToPool(standard, 4000, GIB)?.cores_mcpu).toBe(4000);
    expect(fitToPool(standard, 250, 3840 * MIB)?.cores_mcpu).toBe(1000);
    expect(fitToPool(standard, 250, 3840 * MIB + 1)?.cores_mcpu).toBe(2000);
  });
  it('returns null past the worker size', () => {
    expect(fitToPool(standard, 16000, 0)).not.toBeNull();
    expect(fitToPool(standard, 16001, 0)).toBeNull();
  });
});

describe('machine types', () => {
  it('send the job to its own VM with the machine shape', () => {
    expect(choosePool({ machine_type: 'n1-highmem-8' }, DEFAULT_POOLS)).toEqual({
      pool: JOB_PRIVATE_POOL,
      cores_mcpu: 8000,
      memory_bytes: 8 * 6656 * MIB,
    });
    expect(choosePool({ machine_type: 'n1-standard-96' }, DEFAULT_POOLS)).toMatchObject({ cores_mcpu: 96000 });
  });

  it('parse n1 names only', () => {
    expect(parseMachineType('n1-highcpu-16')).toEqual({ worker_type: 'highcpu', cores: 16 });
    expect(parseMachineType('n1-standard-3')).toBeNull();
    expect(parseMachineType('e2-standard-4')).toBeNull();
    expect(parseMachineType('n1-ultramem-4')).toBeNull();
  });

  it('reject unknown machine types naming the field', () => {
    expect(() => choosePool({ machine_type: 'huge' }, DEFAULT_POOLS, 'bunch[0].resources')).toThrow(
      "bunch[0].resources.machine_type: unknown machine type 'huge'",
    );
  });

  it('use the Hail memory per core constants', () => {
    expect(MEMORY_PER_CORE_MIB).toEqual({ highcpu: 924, standard: 3840, highmem: 6656 });
  });
});
