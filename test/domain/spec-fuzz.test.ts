/**
 * Arbitrary input to the spec and query parsers: each returns a value or throws a SpecError
 * (which the API answers with 400 naming the field), never anything else, and whatever it
 * returns holds only strings PostgreSQL can store and integers its int4 columns can hold.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SpecError } from '../../domain/errors';
import { INT4_MAX, unstorableText } from '../../domain/limits';
import { DEFAULT_POOLS } from '../../domain/pools';
import { parseBatchQuery, parseJobQuery } from '../../domain/query';
import { parseBatchSpec, parseJobBunch, parseUpdateSpec, type BunchContext } from '../../domain/spec';
import { parseJobGroups } from '../../domain/spec-job-group';
import { parseCreateUser, parseLimit, parseProjectName, parseUsername } from '../../domain/accounts';
import { parseNewRate } from '../../domain/billing-catalogue';

const RUNS = 400;

/** Characters that break things: NUL, lone surrogates, separators of every grammar involved. */
const tricky = fc.constantFrom('\u0000', '\uD800', '\uDC00', '\u{1F600}', ' ', '\n', '/', '.', '..', ':', '@', '=', '!', '"', '$', '-', '_', 'A', 'a', '0', '9');
const nastyString = fc.string({ unit: fc.oneof(tricky, fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 40 });
const nastyNumber = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -0, 1, -1, INT4_MAX, INT4_MAX + 1, 2 ** 53 - 1, 2 ** 53, 1e308, Number.MAX_VALUE, Number.MIN_VALUE, NaN, Infinity, -Infinity),
);
const leaf = fc.oneof(nastyString, nastyNumber, fc.boolean(), fc.constant(null));
const anyValue = fc.anything({ key: nastyString, values: [leaf], maxDepth: 4, withNullPrototype: true, withSparseArray: true });

const ctx: BunchContext = { startJobId: 1, nJobsInUpdate: 3, pools: DEFAULT_POOLS, user: 'alice', regions: ['local'] };

const validJob = (id: number) => ({
  job_id: id,
  process: { type: 'docker', image: 'ubuntu:24.04', command: ['bash', '-c', 'echo hi'] },
  resources: { cpu: '1', memory: 'standard', storage: '10Gi', preemptible: true },
  env: [{ name: 'A', value: 'b' }],
  attributes: { name: `job-${id}` },
  input_files: [{ from: 'gs://b/in', to: '/io/in' }],
  output_files: [{ from: '/io/out', to: 'gs://b/out' }],
  in_update_parent_ids: id > 1 ? [id - 1] : [],
  n_max_attempts: 3,
  timeout: 60,
  regions: ['local'],
  cloudfuse: [{ bucket: 'my-bucket', mount_path: '/data', read_only: true }],
  port: 8080,
  always_run: false,
});
const validBunch = [validJob(1), validJob(2), validJob(3)];
const validBatch = { billing_project: 'test', n_jobs: 3, token: 'tok', attributes: { a: 'b' }, callback: 'https://x.test/cb', cancel_after_n_failures: 1, n_job_groups: 0 };
const validUpdate = { token: 'tok', n_jobs: 3, n_job_groups: 0 };
const validJobGroups = [
  { job_group_id: 1, attributes: { name: 'g' }, callback: 'https://x.test/g', cancel_after_n_failures: 1 },
  { job_group_id: 2, in_update_parent_id: 1 },
  { job_group_id: 3, absolute_parent_id: 0 },
];

type Path = (string | number)[];

function paths(value: unknown, prefix: Path = []): Path[] {
  if (value === null || typeof value !== 'object') return [prefix];
  const keys = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
  return [prefix, ...keys.flatMap((k) => paths((value as Record<string | number, unknown>)[k], [...prefix, k]))];
}

/** A copy of `value` with the node at `path` replaced (or removed, or, an object, given an extra key). */
function mutate(value: unknown, path: Path, how: 'replace' | 'remove' | 'add', replacement: unknown, key: string): unknown {
  const copy = structuredClone(value);
  if (path.length === 0) return how === 'replace' ? replacement : copy;
  let node = copy as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (how === 'replace') node[last] = replacement;
  else if (how === 'remove') delete node[last];
  // An extra key on an array is something no JSON body can carry (it could shadow `map` or
  // `length`), so only objects are given one.
  else if (typeof node[last] === 'object' && node[last] !== null && !Array.isArray(node[last])) (node[last] as Record<string, unknown>)[key] = replacement;
  return copy;
}

function mutated(base: unknown): fc.Arbitrary<unknown> {
  const all = paths(base);
  return fc
    .tuple(fc.nat({ max: all.length - 1 }), fc.constantFrom('replace', 'remove', 'add'), anyValue, nastyString, fc.nat({ max: 3 }))
    .map(([i, how, replacement, key]) => mutate(base, all[i]!, how as 'replace', replacement, key));
}

/** Every string in the result is storable and every number finite and, if an integer, an int4 or a safe one. */
function expectStorable(value: unknown): void {
  if (typeof value === 'string') expect(unstorableText(value)).toBeNull();
  else if (typeof value === 'number') expect(Number.isFinite(value)).toBe(true);
  else if (Array.isArray(value)) value.forEach(expectStorable);
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      expect(unstorableText(k)).toBeNull();
      expectStorable(v);
    }
  }
}

/** Runs the parser: a value that is storable, or a SpecError whose message starts with its field. */
function resultOrSpecError(parse: () => unknown): void {
  let result: unknown;
  try {
    result = parse();
  } catch (e) {
    if (!(e instanceof SpecError)) throw e;
    expect(typeof e.field).toBe('string');
    expect(e.message.startsWith(e.field === '' ? e.detail : `${e.field}: `)).toBe(true);
    return;
  }
  expectStorable(result);
}

const property = (arb: fc.Arbitrary<unknown>, parse: (v: unknown) => unknown) =>
  fc.assert(fc.property(arb, (v) => resultOrSpecError(() => parse(v))), { numRuns: RUNS });

const parsers: [string, (v: unknown) => unknown, unknown][] = [
  ['parseBatchSpec', (v) => parseBatchSpec(v), validBatch],
  ['parseBatchSpec (create-fast)', (v) => parseBatchSpec(v, 'batch'), validBatch],
  ['parseUpdateSpec', (v) => parseUpdateSpec(v), validUpdate],
  ['parseJobBunch', (v) => parseJobBunch(v, ctx), validBunch],
  ['parseJobBunch (ci user)', (v) => parseJobBunch(v, { ...ctx, user: 'ci' }), validBunch],
  ['parseJobGroups', (v) => parseJobGroups(v, { startJobGroupId: 1, nJobGroupsInUpdate: 3 }), validJobGroups],
];

describe('spec parsers on arbitrary input', () => {
  it('the valid bases parse', () => {
    expect(parseJobBunch(validBunch, ctx)).toHaveLength(3);
    expect(parseBatchSpec(validBatch).n_jobs).toBe(3);
    expect(parseUpdateSpec(validUpdate).n_jobs).toBe(3);
    expect(parseJobGroups(validJobGroups, { startJobGroupId: 1, nJobGroupsInUpdate: 3 })).toHaveLength(3);
  });

  it.each(parsers)('%s: arbitrary JSON', (_name, parse) => {
    property(fc.json().map((text) => JSON.parse(text) as unknown), parse);
  });

  it.each(parsers)('%s: arbitrary values', (_name, parse) => {
    property(anyValue, parse);
  });

  it.each(parsers)('%s: mutated valid specs', (_name, parse, base) => {
    property(mutated(base), parse);
  });

  it('parseJobBunch: valid jobs with hostile strings in every string field', () => {
    const stringPaths = paths(validBunch).filter((p) => {
      let node: unknown = validBunch;
      for (const k of p) node = (node as Record<string | number, unknown>)[k];
      return typeof node === 'string';
    });
    const arb = fc
      .tuple(fc.constantFrom(...stringPaths), nastyString)
      .map(([p, s]) => mutate(validBunch, p, 'replace', s, ''));
    property(arb, (v) => parseJobBunch(v, ctx));
  });
});

describe('query parsers on arbitrary text', () => {
  const queryText = fc.oneof(
    nastyString,
    fc.string({ unit: 'binary' }),
    fc
      .tuple(fc.constantFrom('job_id', 'batch_id', 'exit_code', 'duration', 'cost', 'start_time', 'state', 'user', 'name', 'has:'), fc.constantFrom('=', '==', '!=', '<', '>=', '=~', ':', ' = '), fc.oneof(nastyString, nastyNumber.map(String)))
      .map(([k, op, v]) => `${k}${op}${v}`),
  );

  it.each([1, 2] as const)('v%i batch and job queries', (version) => {
    fc.assert(
      fc.property(fc.array(queryText, { maxLength: 4 }), (terms) => {
        const q = terms.join(version === 1 ? ' ' : '\n');
        resultOrSpecError(() => parseBatchQuery(q, version));
        resultOrSpecError(() => parseJobQuery(q, version));
      }),
      { numRuns: RUNS },
    );
  });
});

describe('account and catalogue parsers on arbitrary input', () => {
  it('user names, project names, new users, limits and new rates', () => {
    fc.assert(
      fc.property(anyValue, (v) => {
        resultOrSpecError(() => parseUsername(v));
        resultOrSpecError(() => parseProjectName(v));
        resultOrSpecError(() => parseCreateUser(v));
        resultOrSpecError(() => parseLimit(v));
        resultOrSpecError(() => parseNewRate(v));
      }),
      { numRuns: RUNS },
    );
  });
});
