/** Query values reach PostgreSQL as parameters: text it can hold, numbers its columns can hold. */
import { describe, expect, it } from 'vitest';
import { INT4_MAX } from '../../domain/limits';
import { parseBatchQuery, parseJobQuery } from '../../domain/query';
import { MAX_QUERY_LENGTH } from '../../domain/query-v2';
import { specError } from './spec-error';

const versions = [1, 2] as const;

describe('query text', () => {
  it.each(versions)('v%i refuses NUL and lone surrogates, naming q', (v) => {
    for (const q of ['name=a\u0000b', 'name=\uD800', '\uDC00']) {
      const text = v === 2 ? q.replace('=', ' = ') : q;
      expect(specError(() => parseBatchQuery(text, v)).field).toBe('q');
      expect(specError(() => parseJobQuery(text, v)).detail).toMatch(/NUL|surrogate/);
    }
  });

  it('accepts paired surrogates', () => {
    expect(parseBatchQuery('name=\u{1F600}', 1)).toEqual([{ kind: 'attribute', key: 'name', op: '=', value: '\u{1F600}' }]);
  });

  it.each(versions)('v%i refuses a query longer than the limit', (v) => {
    const e = specError(() => parseBatchQuery('a'.repeat(MAX_QUERY_LENGTH + 1), v));
    expect(e.field).toBe('q');
    expect(e.detail).toMatch(/at most 10000 characters/);
  });
});

describe('numeric terms', () => {
  it('v1 job_id fits an int4', () => {
    expect(parseJobQuery(`job_id=${INT4_MAX}`, 1)).toEqual([{ kind: 'job_id', op: '=', value: INT4_MAX }]);
    const e = specError(() => parseJobQuery('job_id=99999999999999999999', 1));
    expect(e.field).toBe('q');
    expect(e.detail).toMatch(/job_id must be at most 2147483647/);
    expect(specError(() => parseJobQuery('job_id=2147483648', 1)).field).toBe('q');
  });

  it.each(['job_id', 'exit_code'])('v2 %s fits an int4', (key) => {
    expect(parseJobQuery(`${key} >= -2147483648`, 2)).toEqual([{ kind: key, op: '>=', value: -2147483648 }]);
    expect(specError(() => parseJobQuery(`${key} < 2147483648`, 2)).detail).toMatch(/between -2147483648 and 2147483647/);
    expect(specError(() => parseJobQuery(`${key} = -2147483649`, 2)).field).toBe('q');
    expect(specError(() => parseJobQuery(`${key} = 99999999999999999999`, 2)).field).toBe('q');
  });

  it('v2 batch_id fits a bigint and a safe integer', () => {
    expect(parseBatchQuery('batch_id > 9007199254740991', 2)).toEqual([{ kind: 'batch_id', op: '>', value: 9007199254740991 }]);
    expect(specError(() => parseBatchQuery('batch_id > 9007199254740992', 2)).field).toBe('q');
  });

  it('v2 duration fits a safe integer of ms', () => {
    expect(parseJobQuery('duration > 1.5', 2)).toEqual([{ kind: 'duration', op: '>', duration_ms: 1500 }]);
    expect(specError(() => parseJobQuery('duration > 1e300', 2)).detail).toMatch(/duration is out of range/);
    expect(specError(() => parseBatchQuery('duration < 9007199254741', 2)).field).toBe('q');
    expect(specError(() => parseBatchQuery('duration < 1e999', 2)).detail).toMatch(/expected float, but found 1e999/);
  });

  it('v2 cost is finite', () => {
    expect(specError(() => parseBatchQuery('cost > 1e999', 2)).detail).toMatch(/expected float, but found 1e999 \(for cost\)/);
  });
});
