import { describe, it, expect } from 'vitest';
import { SpecError } from '../../domain/errors';
import {
  JOB_STATE_TERMS,
  parseBatchQuery,
  parseBatchQueryV1,
  parseBatchQueryV2,
  parseJobQuery,
  parseJobQueryV1,
  parseJobQueryV2,
} from '../../domain/query';

function queryError(fn: () => unknown): SpecError {
  try {
    fn();
  } catch (e) {
    if (e instanceof SpecError) {
      expect(e.field).toBe('q');
      return e;
    }
    throw e;
  }
  throw new Error('expected a SpecError');
}

describe('v1 batch queries', () => {
  it('parses every kind of term', () => {
    const q = 'name=foo has:tag user:alice billing_project:bp open closed complete running cancelled failure success';
    expect(parseBatchQueryV1(q)).toEqual([
      { kind: 'attribute', key: 'name', op: '=', value: 'foo' },
      { kind: 'has_attribute', key: 'tag' },
      { kind: 'user', op: '=', value: 'alice' },
      { kind: 'billing_project', op: '=', value: 'bp' },
      { kind: 'state', op: '=', state: 'open' },
      { kind: 'state', op: '=', state: 'closed' },
      { kind: 'state', op: '=', state: 'complete' },
      { kind: 'state', op: '=', state: 'running' },
      { kind: 'state', op: '=', state: 'cancelled' },
      { kind: 'state', op: '=', state: 'failure' },
      { kind: 'state', op: '=', state: 'success' },
    ]);
  });

  it('negates with !', () => {
    expect(parseBatchQueryV1('!success !name=x')).toEqual([
      { kind: 'not', clause: { kind: 'state', op: '=', state: 'success' } },
      { kind: 'not', clause: { kind: 'attribute', key: 'name', op: '=', value: 'x' } },
    ]);
  });

  it('splits on any whitespace and allows an empty query', () => {
    expect(parseBatchQueryV1('  user:a \t\n running ')).toHaveLength(2);
    expect(parseBatchQueryV1('')).toEqual([]);
  });

  it('splits k=v on the first = only, and reads = before prefixes as Hail does', () => {
    expect(parseBatchQueryV1('url=a=b')).toEqual([{ kind: 'attribute', key: 'url', op: '=', value: 'a=b' }]);
    expect(parseBatchQueryV1('user:x=y')).toEqual([{ kind: 'attribute', key: 'user:x', op: '=', value: 'y' }]);
    expect(parseBatchQueryV1('k=')).toEqual([{ kind: 'attribute', key: 'k', op: '=', value: '' }]);
  });

  it('rejects unknown words and empty pieces', () => {
    expect(queryError(() => parseBatchQueryV1('user:a bogus')).message).toMatch(
      /^q: invalid search term 'bogus'; expected k=v, has:k/,
    );
    expect(queryError(() => parseBatchQueryV1('pending')).message).toContain('invalid search term');
    expect(queryError(() => parseBatchQueryV1('user:')).message).toContain('needs a value');
    expect(queryError(() => parseBatchQueryV1('=v')).message).toContain('needs an attribute name');
    expect(queryError(() => parseBatchQueryV1('!')).message).toContain('lone !');
  });
});

describe('v1 job queries', () => {
  it('parses job ids, attributes and state words', () => {
    expect(parseJobQueryV1('job_id=12 name=step has:shard')).toEqual([
      { kind: 'job_id', op: '=', value: 12 },
      { kind: 'attribute', key: 'name', op: '=', value: 'step' },
      { kind: 'has_attribute', key: 'shard' },
    ]);
  });

  it('maps each state word to its states', () => {
    const words = ['pending', 'ready', 'creating', 'running', 'live', 'cancelled', 'error', 'failed', 'bad', 'success', 'done'];
    const clauses = parseJobQueryV1(words.join(' '));
    expect(clauses.map((c) => (c.kind === 'state' ? [c.term, c.states] : null))).toEqual(
      words.map((w) => [w, JOB_STATE_TERMS[w as keyof typeof JOB_STATE_TERMS]]),
    );
    expect(JOB_STATE_TERMS.live).toEqual(['Ready', 'Creating', 'Running']);
    expect(JOB_STATE_TERMS.bad).toEqual(['Error', 'Failed']);
    expect(JOB_STATE_TERMS.done).toEqual(['Cancelled', 'Error', 'Failed', 'Success']);
  });

  it('negates terms', () => {
    expect(parseJobQueryV1('!done')).toEqual([
      { kind: 'not', clause: { kind: 'state', op: '=', term: 'done', states: ['Cancelled', 'Error', 'Failed', 'Success'] } },
    ]);
  });

  it('requires an integer job id and known words', () => {
    expect(queryError(() => parseJobQueryV1('job_id=abc')).message).toContain('job_id must be a whole number');
    expect(queryError(() => parseJobQueryV1('job_id=1.5')).message).toContain('job_id must be a whole number');
    expect(queryError(() => parseJobQueryV1('open')).message).toMatch(/^q: invalid search term 'open'/);
    expect(queryError(() => parseJobQueryV1('user:alice')).message).toContain('invalid search term');
  });
});

describe('v2 batch queries', () => {
  it('parses each key with its operators', () => {
    const q = [
      'batch_id >= 10',
      'state = running',
      'user == alice',
      'billing_project != bp',
      'start_time > 2026-01-02T03:04:05Z',
      'end_time <= 2026-01-02T03:04:05.678+01:00',
      'duration < 90.5',
      'cost >= $1.25',
      'name =~ foo',
      'tag !~ bar',
    ].join('\n');
    expect(parseBatchQueryV2(q)).toEqual([
      { kind: 'batch_id', op: '>=', value: 10 },
      { kind: 'state', op: '=', state: 'running' },
      { kind: 'user', op: '=', value: 'alice' },
      { kind: 'billing_project', op: '!=', value: 'bp' },
      { kind: 'start_time', op: '>', time_ms: Date.UTC(2026, 0, 2, 3, 4, 5) },
      { kind: 'end_time', op: '<=', time_ms: Date.UTC(2026, 0, 2, 2, 4, 5, 678) },
      { kind: 'duration', op: '<', duration_ms: 90500 },
      { kind: 'cost', op: '>=', value: 1.25 },
      { kind: 'attribute', key: 'name', op: '=~', value: 'foo' },
      { kind: 'attribute', key: 'tag', op: '!~', value: 'bar' },
    ]);
  });

  it('does not need spaces around operators', () => {
    expect(parseBatchQueryV2('batch_id>=10\nname=foo\nx!=y')).toEqual([
      { kind: 'batch_id', op: '>=', value: 10 },
      { kind: 'attribute', key: 'name', op: '=', value: 'foo' },
      { kind: 'attribute', key: 'x', op: '!=', value: 'y' },
    ]);
  });

  it('reads bare and quoted words as keyword matches', () => {
    expect(parseBatchQueryV2('foo\n"exact"')).toEqual([
      { kind: 'keyword', text: 'foo', exact: false },
      { kind: 'keyword', text: 'exact', exact: true },
    ]);
  });

  it('skips blank lines', () => {
    expect(parseBatchQueryV2('\n  user = a  \n\n')).toEqual([{ kind: 'user', op: '=', value: 'a' }]);
    expect(parseBatchQueryV2('')).toEqual([]);
  });

  it('reports the three Hail errors', () => {
    expect(queryError(() => parseBatchQueryV2('user = a b')).message).toBe('q: could not parse term "user = a b"');
    expect(queryError(() => parseBatchQueryV2('two words')).message).toContain('could not parse term');
    expect(queryError(() => parseBatchQueryV2('a=b=c')).message).toContain('could not parse term');
    expect(queryError(() => parseBatchQueryV2('state > running')).message).toBe(
      'q: unexpected operator ">" expected one of = == != (for state)',
    );
    expect(queryError(() => parseBatchQueryV2('user =~ al')).message).toContain('unexpected operator "=~"');
    expect(queryError(() => parseBatchQueryV2('name < 3')).message).toContain('unexpected operator "<"');
    expect(queryError(() => parseBatchQueryV2('a ~ b')).message).toContain('unexpected operator "~"');
    expect(queryError(() => parseBatchQueryV2('state = pending')).message).toMatch(
      /^q: unknown state "pending"; expected one of open/,
    );
  });

  it('checks value types with Hail\'s texts', () => {
    expect(queryError(() => parseBatchQueryV2('batch_id = x')).message).toBe('q: expected int, but found x (for batch_id)');
    expect(queryError(() => parseBatchQueryV2('batch_id >= 1.5')).message).toContain('expected int, but found 1.5');
    expect(queryError(() => parseBatchQueryV2('cost > cheap')).message).toBe('q: expected float, but found cheap (for cost)');
    expect(queryError(() => parseBatchQueryV2('cost > $x')).message).toContain('expected float, but found x');
    expect(queryError(() => parseBatchQueryV2('duration >= abcd')).message).toContain('expected float, but found abcd');
    expect(queryError(() => parseBatchQueryV2('start_time > 2026-01-02')).message).toMatch(
      /^q: expected date, but found 2026-01-02 .*with a time zone/,
    );
    expect(queryError(() => parseBatchQueryV2('end_time >= 1')).message).toContain('expected date, but found 1');
    expect(queryError(() => parseBatchQueryV2(`batch_id = ${'y'.repeat(500)}`)).message.length).toBeLessThan(200);
  });

  it('checks quoted and bare words with Hail\'s texts', () => {
    expect(queryError(() => parseBatchQueryV2('"unterminated')).message).toBe(
      `q: expected the last character of the string to be '"'`,
    );
    expect(queryError(() => parseBatchQueryV2('stray"')).message).toBe(
      `q: expected the last character of the string to not be '"'`,
    );
    expect(queryError(() => parseBatchQueryV2('""')).message).toBe('q: expected a string of minimum length 3. Found ""');
  });
});

describe('v2 job queries', () => {
  it('parses the job keys', () => {
    const q = [
      'instance = batch-worker-1',
      'instance_collection =~ standard',
      'job_id < 100',
      'state != done',
      'exit_code != 0',
      'duration > 1',
      'shard = 3',
      'step',
    ].join('\n');
    expect(parseJobQueryV2(q)).toEqual([
      { kind: 'instance', op: '=', value: 'batch-worker-1' },
      { kind: 'instance_collection', op: '=~', value: 'standard' },
      { kind: 'job_id', op: '<', value: 100 },
      { kind: 'state', op: '!=', term: 'done', states: ['Cancelled', 'Error', 'Failed', 'Success'] },
      { kind: 'exit_code', op: '!=', value: 0 },
      { kind: 'duration', op: '>', duration_ms: 1000 },
      { kind: 'attribute', key: 'shard', op: '=', value: '3' },
      { kind: 'keyword', text: 'step', exact: false },
    ]);
  });

  it('accepts state words in any case', () => {
    expect(parseJobQueryV2('state = Running')).toEqual([{ kind: 'state', op: '=', term: 'running', states: ['Running'] }]);
  });

  it('treats batch keys as attributes', () => {
    expect(parseJobQueryV2('user = alice')).toEqual([{ kind: 'attribute', key: 'user', op: '=', value: 'alice' }]);
  });

  it('rejects bad operators and states', () => {
    expect(queryError(() => parseJobQueryV2('instance > a')).message).toContain('unexpected operator ">" expected one of');
    expect(queryError(() => parseJobQueryV2('instance_collection >= 1')).message).toContain('(for instance_collection)');
    expect(queryError(() => parseJobQueryV2('job_id =~ 1')).message).toContain('unexpected operator "=~" expected one of');
    expect(queryError(() => parseJobQueryV2('state = open')).message).toContain('unknown state "open"');
    expect(queryError(() => parseJobQueryV2('state = 1')).message).toContain('unknown state "1"');
    expect(queryError(() => parseJobQueryV2('exit_code = one')).message).toContain('expected int, but found one');
    expect(queryError(() => parseJobQueryV2('job_id >= abcd')).message).toContain('expected int, but found abcd');
  });
});

describe('parseBatchQuery / parseJobQuery', () => {
  it('dispatch on the version', () => {
    expect(parseBatchQuery('user:a', 1)).toEqual([{ kind: 'user', op: '=', value: 'a' }]);
    expect(parseBatchQuery('user = a', 2)).toEqual([{ kind: 'user', op: '=', value: 'a' }]);
    expect(parseJobQuery('success', 1)).toEqual([{ kind: 'state', op: '=', term: 'success', states: ['Success'] }]);
    expect(parseJobQuery('job_id = 3', 2)).toEqual([{ kind: 'job_id', op: '=', value: 3 }]);
  });
});
