/**
 * Hail's list-query languages (hail-batch-api §1). v1 is here; v2 is in query-v2.ts; both
 * produce the clause types of query-ast.ts. Errors are SpecErrors on the field `q`.
 *
 * v1: space-separated terms, all of which must hold; a leading `!` negates a term.
 */
import { SpecError, showValue } from './errors';
import {
  BATCH_STATE_TERMS,
  type AttributeClause,
  type HasAttributeClause,
  JOB_STATE_TERMS,
  isBatchStateTerm,
  isJobStateTerm,
  type BatchClause,
  type BatchQuery,
  type JobClause,
  type JobQuery,
} from './query-ast';

import { INT4_MAX } from './limits';
import { checkQueryText, parseBatchQueryV2, parseJobQueryV2 } from './query-v2';

export * from './query-ast';
export { parseBatchQueryV2, parseJobQueryV2 };

export const QUERY_FIELD = 'q';

function splitTerms(q: string): { word: string; negated: boolean }[] {
  return q
    .split(/\s+/)
    .filter((t) => t !== '')
    .map((t) => (t.startsWith('!') ? { word: t.slice(1), negated: true } : { word: t, negated: false }));
}

function prefixed(word: string, prefix: string): string | null {
  if (!word.startsWith(prefix)) return null;
  const value = word.slice(prefix.length);
  if (value === '') throw new SpecError(QUERY_FIELD, `search term ${showValue(word)} needs a value after the colon`);
  return value;
}

/** `k=v` and `has:k`, shared by batch and job queries and tried first, as Hail does. */
function attributeTerm(word: string): AttributeClause | HasAttributeClause | null {
  const eq = word.indexOf('=');
  if (eq >= 0) {
    const key = word.slice(0, eq);
    if (key === '') throw new SpecError(QUERY_FIELD, `search term ${showValue(word)} needs an attribute name before =`);
    return { kind: 'attribute', key, op: '=', value: word.slice(eq + 1) };
  }
  const has = prefixed(word, 'has:');
  return has === null ? null : { kind: 'has_attribute', key: has };
}

function invalidTerm(word: string, words: readonly string[]): SpecError {
  return new SpecError(
    QUERY_FIELD,
    `invalid search term ${showValue(word)}; expected k=v, has:k or one of ${words.join(', ')} (prefix ! to negate)`,
  );
}

function batchTerm(word: string): BatchClause {
  const attribute = attributeTerm(word);
  if (attribute) return attribute;
  const user = prefixed(word, 'user:');
  if (user !== null) return { kind: 'user', op: '=', value: user };
  const project = prefixed(word, 'billing_project:');
  if (project !== null) return { kind: 'billing_project', op: '=', value: project };
  const lower = word.toLowerCase();
  if (isBatchStateTerm(lower)) return { kind: 'state', op: '=', state: lower };
  throw invalidTerm(word, ['user:X', 'billing_project:X', ...BATCH_STATE_TERMS]);
}

function jobTerm(word: string): JobClause {
  if (word.startsWith('job_id=')) {
    const text = word.slice('job_id='.length);
    if (!/^\+?\d+$/.test(text)) {
      throw new SpecError(QUERY_FIELD, `invalid search term ${showValue(word)}; job_id must be a whole number`);
    }
    // Job ids are int4 in the database; a larger one would make the comparison overflow there.
    const value = Number(text);
    if (value > INT4_MAX) {
      throw new SpecError(QUERY_FIELD, `invalid search term ${showValue(word)}; job_id must be at most ${INT4_MAX}`);
    }
    return { kind: 'job_id', op: '=', value };
  }
  const attribute = attributeTerm(word);
  if (attribute) return attribute;
  const lower = word.toLowerCase();
  if (isJobStateTerm(lower)) return { kind: 'state', op: '=', term: lower, states: JOB_STATE_TERMS[lower] };
  throw invalidTerm(word, ['job_id=N', ...Object.keys(JOB_STATE_TERMS)]);
}

function parseV1<C>(q: string, term: (word: string) => C): (C | { kind: 'not'; clause: C })[] {
  checkQueryText(q);
  return splitTerms(q).map(({ word, negated }) => {
    if (word === '') throw new SpecError(QUERY_FIELD, 'a lone ! must be followed by a search term');
    const clause = term(word);
    return negated ? { kind: 'not', clause } : clause;
  });
}

/** v1 batch query: `k=v`, `has:k`, `user:X`, `billing_project:X` and the batch state words. */
export function parseBatchQueryV1(q: string): BatchQuery {
  return parseV1(q, batchTerm);
}

/** v1 job query: `job_id=N`, `k=v`, `has:k` and the job state words. */
export function parseJobQueryV1(q: string): JobQuery {
  return parseV1(q, jobTerm);
}

export function parseBatchQuery(q: string, version: 1 | 2): BatchQuery {
  return version === 1 ? parseBatchQueryV1(q) : parseBatchQueryV2(q);
}

export function parseJobQuery(q: string, version: 1 | 2): JobQuery {
  return version === 1 ? parseJobQueryV1(q) : parseJobQueryV2(q);
}
