/**
 * The published wire-spec schemas (api/contracts/spec.ts) against the domain parsers, which
 * stay the authority: the same keys at every level, and nothing the parsers accept refused.
 * The parsers' key sets are read from their own "allowed keys are …" messages, so neither side
 * can gain or lose a key without this failing.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { ZodType } from 'zod';
import { SpecError } from '../../domain/errors';
import { DEFAULT_POOLS } from '../../domain/pools';
import { parseBatchSpec, parseJobBunch, parseUpdateSpec, type BunchContext } from '../../domain/spec';
import { CreateFastBody, DockerProcess, JobResources, UpdateFastBody, WireBatchSpec, WireJobSpec, WireUpdateSpec } from '../../api/contracts/spec';

const ctx: BunchContext = { startJobId: 1, nJobsInUpdate: 10, pools: DEFAULT_POOLS, user: 'ci', regions: ['local'] };
const docker = { type: 'docker', image: 'ubuntu:24.04', command: ['echo', 'hi'] };

/** The keys a parser allows, from the message it gives for an unknown one. */
function allowedKeys(parse: () => unknown): string[] {
  try {
    parse();
  } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    const m = /allowed keys are (.*)$/.exec((e as SpecError).detail);
    expect(m, (e as SpecError).message).not.toBeNull();
    return m![1]!.split(', ').sort();
  }
  throw new Error('the parser accepted an unknown key');
}

const keysOf = (schema: ZodType) => Object.keys((schema as unknown as { shape: Record<string, unknown> }).shape).sort();
const elementOf = (schema: ZodType): ZodType => {
  // maybe(z.array(x)) is optional(nullable(array(x))): unwrap to x.
  let s = schema as unknown as { unwrap?: () => unknown; element?: unknown; def: { innerType?: unknown } };
  while (s.def.innerType) s = s.def.innerType as typeof s;
  return (s.element ?? s) as ZodType;
};
const field = (key: string) => elementOf((WireJobSpec.shape as Record<string, ZodType>)[key]!);
const bunchWith = (extra: Record<string, unknown>) => () => parseJobBunch([{ job_id: 1, process: docker, ...extra }], ctx);
const probe = { zz_probe: 1 };

describe('the wire-spec schemas have the parsers’ keys', () => {
  it.each([
    ['BatchSpec', WireBatchSpec, () => parseBatchSpec({ ...probe })],
    ['UpdateSpec', WireUpdateSpec, () => parseUpdateSpec({ ...probe })],
    ['JobSpec', WireJobSpec, () => parseJobBunch([{ ...probe }], ctx)],
    ['process', DockerProcess, bunchWith({ process: { ...probe } })],
    ['resources', JobResources, bunchWith({ resources: { ...probe } })],
    ['env[]', field('env'), bunchWith({ env: [{ ...probe }] })],
    ['input_files[]', field('input_files'), bunchWith({ input_files: [{ ...probe }] })],
    ['output_files[]', field('output_files'), bunchWith({ output_files: [{ ...probe }] })],
    ['cloudfuse[]', field('cloudfuse'), bunchWith({ cloudfuse: [{ ...probe }] })],
    ['gcsfuse[]', field('gcsfuse'), bunchWith({ gcsfuse: [{ ...probe }] })],
    ['secrets[]', field('secrets'), bunchWith({ secrets: [{ ...probe }] })],
    ['service_account', field('service_account'), bunchWith({ service_account: { ...probe } })],
  ])('%s', (_what, schema, parse) => {
    expect(keysOf(schema)).toEqual(allowedKeys(parse));
  });

  it('create-fast and update-fast bodies are the spec plus bunch and job_groups', () => {
    expect(keysOf(CreateFastBody)).toEqual(['batch', 'bunch', 'job_groups']);
    expect(keysOf(UpdateFastBody)).toEqual(['bunch', 'job_groups', 'update']);
  });
});

const fullJob = {
  job_id: 1,
  process: { ...docker, mount_docker_socket: false },
  resources: { cpu: 0.5, memory: '2Gi', storage: '10Gi', preemptible: false },
  always_run: true,
  always_copy_output: false,
  n_max_attempts: 3,
  timeout: 1.5,
  env: [{ name: 'A', value: '' }],
  attributes: { name: 'one' },
  input_files: [{ from: 'gs://a/b', to: '/io/b' }],
  output_files: [{ from: '/io/c', to: 'gs://a/c' }],
  parent_ids: [],
  absolute_parent_ids: [],
  in_update_parent_ids: [],
  absolute_job_group_id: 0,
  gcsfuse: [{ bucket: 'bucket-1', mount_path: '/mnt/b', read_only: true }],
  port: 8080,
  regions: ['local'],
  requester_pays_project: 'p',
  user_code: 'print(1)',
  mount_tokens: true,
  secrets: [{ namespace: 'n', name: 's', mount_path: '/s' }],
  service_account: { namespace: 'n', name: 'sa' },
  unconfined: false,
  network: 'private',
};

describe('the schemas accept what the parsers accept', () => {
  it.each([
    ['a minimal job', { job_id: 1, process: docker }],
    ['every field at once', fullJob],
    ['nulls for the optional fields', Object.fromEntries(Object.entries(fullJob).map(([k, v]) => [k, k === 'job_id' || k === 'process' ? v : null]))],
    ['a machine type', { job_id: 1, process: docker, resources: { machine_type: 'n1-standard-4', storage: 20 } }],
    ['millicores and a memory keyword', { job_id: 1, process: docker, resources: { cpu: '250m', memory: 'highmem' } }],
  ])('%s', (_what, spec) => {
    expect(() => parseJobBunch([spec], ctx)).not.toThrow();
    expect(WireJobSpec.safeParse(spec).error?.issues ?? []).toEqual([]);
  });

  it('batch and update specs, with and without their optional fields', () => {
    const specs = [
      [WireBatchSpec, parseBatchSpec, { billing_project: 'p', n_jobs: 0, token: 't' }],
      [WireBatchSpec, parseBatchSpec, { billing_project: 'p', n_jobs: 2, token: 't', attributes: { a: 'b' }, callback: 'http://x', cancel_after_n_failures: 1, n_job_groups: 0 }],
      [WireBatchSpec, parseBatchSpec, { billing_project: 'p', n_jobs: 2, token: 't', attributes: null, callback: null, cancel_after_n_failures: null, n_job_groups: null }],
      [WireUpdateSpec, parseUpdateSpec, { token: 't', n_jobs: 1 }],
      [WireUpdateSpec, parseUpdateSpec, { token: 't', n_jobs: 0, n_job_groups: 1 }],
    ] as const;
    for (const [schema, parse, spec] of specs) {
      expect(() => parse(spec)).not.toThrow();
      expect(schema.safeParse(spec).success, JSON.stringify(spec)).toBe(true);
    }
  });

  it('holds for generated jobs: whatever the parser accepts, the schema accepts', () => {
    const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(fc.oneof(arb, fc.constant(null)), { nil: undefined });
    const ids = fc.array(fc.integer({ min: -2, max: 3 }), { maxLength: 3 });
    const job = fc.record(
      {
        job_id: fc.integer({ min: 0, max: 2 }),
        process: fc.record({
          type: fc.constantFrom('docker', 'jvm'),
          image: fc.oneof(fc.constantFrom('ubuntu:24.04', 'hail-batch-busybox:latest'), fc.string()),
          command: fc.array(fc.string()),
        }),
        resources: optional(
          fc.record(
            {
              cpu: optional(fc.oneof(fc.constantFrom('1', '0.25', '250m', 'x'), fc.double({ noNaN: true }))),
              memory: optional(fc.constantFrom('standard', 'lowmem', '1Gi', 'bad', 3)),
              storage: optional(fc.constantFrom('0Gi', '10G', 7, 'x')),
              preemptible: optional(fc.boolean()),
            },
            { requiredKeys: [] },
          ),
        ),
        always_run: optional(fc.boolean()),
        n_max_attempts: optional(fc.integer({ min: -1, max: 30 })),
        timeout: optional(fc.double({ noNaN: true, min: -1, max: 100 })),
        env: optional(fc.array(fc.record({ name: fc.oneof(fc.constantFrom('HOME', 'X_1'), fc.string()), value: fc.string() }), { maxLength: 2 })),
        attributes: optional(fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 })),
        absolute_parent_ids: optional(ids),
        in_update_parent_ids: optional(ids),
        in_update_job_group_id: optional(fc.integer({ min: -1, max: 2 })),
        port: optional(fc.integer({ min: 0, max: 70000 })),
        regions: optional(fc.array(fc.constantFrom('local', ''), { maxLength: 2 })),
        network: optional(fc.constantFrom('public', 'private', 'other')),
      },
      { requiredKeys: ['job_id', 'process'] },
    );
    let accepted = 0;
    fc.assert(
      fc.property(job, (spec) => {
        try {
          parseJobBunch([spec], ctx);
        } catch (e) {
          if (e instanceof SpecError) return;
          throw e;
        }
        accepted++;
        expect(WireJobSpec.safeParse(spec).error?.issues ?? []).toEqual([]);
      }),
      { numRuns: 2000, seed: 7 },
    );
    // The generator must reach accepted specs for the property to say anything.
    expect(accepted).toBeGreaterThan(50);
  });
});
