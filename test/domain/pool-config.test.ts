import { describe, expect, it } from 'vitest';
import { localPoolSeeds, mergePoolConfig, poolDefinition } from '../../domain/pool-config';
import { DEFAULT_POOL_CONFIG, validatePoolConfig } from '../../domain/autoscaler';
import { choosePool } from '../../domain/pools';

describe('localPoolSeeds', () => {
  it('seeds every worker type, listed pools with their sizes and the rest closed', () => {
    const seeds = localPoolSeeds([{ pool: 'standard', count: 2, max: 5 }], 4);
    expect(seeds.map((s) => s.name).sort()).toEqual(['highcpu', 'highmem', 'standard']);
    const standard = seeds.find((s) => s.name === 'standard')!.config;
    expect(standard).toMatchObject({ worker_type: 'standard', worker_cores: 4, min_instances: 2, max_live_instances: 5, max_instances: 5 });
    const highmem = seeds.find((s) => s.name === 'highmem')!.config;
    expect(highmem).toMatchObject({ worker_type: 'highmem', min_instances: 0, max_live_instances: 0, max_instances: 0 });
  });

  it('produces configs that pass validation, for any small worker size', () => {
    for (const cores of [1, 2, 4, 16, 64]) {
      for (const s of localPoolSeeds([{ pool: 'standard', count: 3, max: 3 }, { pool: 'extra', count: 1, max: 2 }], cores)) {
        expect(validatePoolConfig(s.config), `${s.name} with ${cores} cores`).toEqual([]);
      }
    }
  });

  it('gives local workers the disk per core of a 16-core worker with 100 GB', () => {
    expect(localPoolSeeds([{ pool: 'standard', count: 1, max: 1 }], 16)[0]!.config.boot_disk_size_gb).toBe(100);
    expect(localPoolSeeds([{ pool: 'standard', count: 1, max: 1 }], 4).find((s) => s.name === 'standard')!.config.boot_disk_size_gb).toBe(25);
  });

  it('gives a pool named after no worker type standard workers', () => {
    const seeds = localPoolSeeds([{ pool: 'gpu-ish', count: 1, max: 1 }], 8);
    expect(seeds.find((s) => s.name === 'gpu-ish')!.config.worker_type).toBe('standard');
  });
});

describe('mergePoolConfig', () => {
  const current = { ...DEFAULT_POOL_CONFIG, min_instances: 1, max_live_instances: 4, max_instances: 4 };

  it('merges a partial update', () => {
    const r = mergePoolConfig(current, { worker_cores: 8, max_instances: 10, max_live_instances: 10 });
    expect(r).toEqual({ ok: true, config: { ...current, worker_cores: 8, max_instances: 10, max_live_instances: 10 } });
  });

  it('names unknown fields', () => {
    const r = mergePoolConfig(current, { worker_cores: 8, cores: 3 });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.map((e) => e.field)).toEqual(['cores']);
  });

  it('names the field a bad value breaks, the touched one first', () => {
    const r = mergePoolConfig(current, { min_instances: 9 });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]!.field).toBe('min_instances');
    const t = mergePoolConfig(current, { worker_cores: 'many' });
    expect(t.ok).toBe(false);
    if (!t.ok) expect(t.errors[0]).toMatchObject({ field: 'worker_cores', message: /positive integer/ });
  });

  it('rejects a body that is not an object', () => {
    for (const body of [null, [], 3, 'x']) expect(mergePoolConfig(current, body).ok).toBe(false);
  });
});

describe('poolDefinition', () => {
  it('rounds and refuses jobs against the stored worker cores', () => {
    const small = poolDefinition('standard', { ...DEFAULT_POOL_CONFIG, worker_cores: 2, standing_worker_cores: 2 });
    expect(() => choosePool({ cores_mcpu: 4000, memory: { kind: 'keyword', keyword: 'standard' } }, [small])).toThrow(/unsatisfiable/);
    const big = poolDefinition('standard', { ...DEFAULT_POOL_CONFIG, worker_cores: 8 });
    expect(choosePool({ cores_mcpu: 4000, memory: { kind: 'keyword', keyword: 'standard' } }, [big]).cores_mcpu).toBe(4000);
  });
});
