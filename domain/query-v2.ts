/**
 * Hail's v2 list-query language: one clause per line, all of which must hold. A line is
 * either `key op value` (spaces around op optional) or one word: a bare word matches
 * attribute keys and values by substring, a "quoted" word matches them exactly.
 */
import { SpecError, showValue } from './errors';
import {
  BATCH_STATE_TERMS,
  JOB_STATE_TERMS,
  isBatchStateTerm,
  isJobStateTerm,
  type BatchClause,
  type BatchQuery,
  type ComparisonOp,
  type ExactOp,
  type JobClause,
  type JobQuery,
  type KeywordClause,
  type MatchOp,
  type SharedClause,
} from './query-ast';
import { INT4_MAX, INT4_MIN, unstorableText } from './limits';
import { parseIsoTimestamp } from './time';

const FIELD = 'q';
/** Longest query accepted: far more than any hand-written filter, short of one that makes huge SQL. */
export const MAX_QUERY_LENGTH = 10_000;

/** Every query value is sent to PostgreSQL as a text parameter, which cannot hold NUL or lone surrogates. */
export function checkQueryText(q: string): void {
  if (q.length > MAX_QUERY_LENGTH) {
    throw new SpecError(FIELD, `the query must be at most ${MAX_QUERY_LENGTH} characters long, found ${q.length}`);
  }
  const problem = unstorableText(q);
  if (problem !== null) throw new SpecError(FIELD, `the query ${problem}`);
}

/** Longest first, so `a>=b` splits on `>=` rather than `>` (the order Hail tries them in). */
const OPERATORS = ['>=', '<=', '>', '<', '!~', '=~', '!=', '==', '='] as const;
const EXACT_OPS = ['=', '==', '!='];
const MATCH_OPS = ['=', '==', '!=', '=~', '!~'];
const COMPARISON_OPS = ['=', '==', '!=', '<', '<=', '>', '>='];

/**
 * A word of the query as Hail's messages show it (bare, since its clients match on the
 * wording), cut short so a huge query does not come back whole in the error.
 */
function shown(word: string): string {
  return word.length > 60 ? `${word.slice(0, 57)}...` : word;
}

type Statement = { kind: 'word'; word: string } | { kind: 'clause'; key: string; op: string; value: string };

/** Pads the first operator found with spaces, then splits on whitespace, as Hail does. */
function splitLine(line: string): Statement {
  let padded = line;
  const symbol = OPERATORS.find((op) => line.includes(op));
  if (symbol) padded = line.split(symbol).map((part) => part.trim()).join(` ${symbol} `);
  const tokens = padded.split(/\s+/).filter((t) => t !== '');
  if (tokens.length === 1 && tokens[0] !== undefined) return { kind: 'word', word: tokens[0] };
  const [key, op, value] = tokens;
  if (tokens.length === 3 && key !== undefined && op !== undefined && value !== undefined) {
    return { kind: 'clause', key, op, value };
  }
  throw new SpecError(FIELD, `could not parse term "${shown(line.trim())}"`);
}

function keyword(word: string): KeywordClause {
  if (word.startsWith('"')) {
    if (word.length < 3) throw new SpecError(FIELD, `expected a string of minimum length 3. Found ${shown(word)}`);
    if (!word.endsWith('"')) throw new SpecError(FIELD, `expected the last character of the string to be '"'`);
    return { kind: 'keyword', text: word.slice(1, -1), exact: true };
  }
  if (word.endsWith('"')) throw new SpecError(FIELD, `expected the last character of the string to not be '"'`);
  return { kind: 'keyword', text: word, exact: false };
}

function operator<T extends string>(key: string, op: string, allowed: readonly string[]): T {
  if (!allowed.includes(op)) {
    throw new SpecError(FIELD, `unexpected operator "${shown(op)}" expected one of ${allowed.join(' ')} (for ${shown(key)})`);
  }
  return (op === '==' ? '=' : op) as T;
}

const exact = (key: string, op: string) => operator<ExactOp>(key, op, EXACT_OPS);
const match = (key: string, op: string) => operator<MatchOp>(key, op, MATCH_OPS);
const compare = (key: string, op: string) => operator<ComparisonOp>(key, op, COMPARISON_OPS);

/** A whole number within what the compared column holds (ids and exit codes are int4; batch ids bigint). */
function integer(key: string, text: string, min = -Number.MAX_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^[+-]?\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new SpecError(FIELD, `expected int, but found ${shown(text)} (for ${key})`);
  }
  const n = Number(text);
  if (n < min || n > max) throw new SpecError(FIELD, `${key} must be between ${min} and ${max}, found ${showValue(text)}`);
  return n;
}

function decimal(key: string, text: string): number {
  const n = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(n)) throw new SpecError(FIELD, `expected float, but found ${shown(text)} (for ${key})`);
  return n;
}

/** Durations are compared with a bigint of ms, so they must be a safe integer once in ms. */
function durationMs(key: string, text: string): number {
  const ms = Math.trunc(decimal(key, text) * 1000);
  if (!Number.isSafeInteger(ms)) throw new SpecError(FIELD, `${key} is out of range, found ${showValue(text)}`);
  return ms === 0 ? 0 : ms;
}

function time(key: string, text: string): number {
  const ms = parseIsoTimestamp(text);
  if (ms === null) {
    throw new SpecError(
      FIELD,
      `expected date, but found ${shown(text)} (for ${key}: a date-time with a time zone, like 2026-01-02T03:04:05Z)`,
    );
  }
  return ms;
}

function unknownState(text: string, states: readonly string[]): SpecError {
  return new SpecError(FIELD, `unknown state "${shown(text)}"; expected one of ${states.join(', ')}`);
}

/** Clauses batch and job queries spell the same way. */
function sharedClause(key: string, op: string, value: string): SharedClause {
  switch (key) {
    case 'start_time':
    case 'end_time':
      return { kind: key, op: compare(key, op), time_ms: time(key, value) };
    case 'duration':
      // Durations are written in seconds; Hail truncates to whole milliseconds.
      return { kind: 'duration', op: compare(key, op), duration_ms: durationMs(key, value) };
    case 'cost':
      return { kind: 'cost', op: compare(key, op), value: decimal(key, value.replace(/^\$/, '')) };
    default:
      return { kind: 'attribute', key, op: match(key, op), value };
  }
}

function batchClause(s: Statement): BatchClause {
  if (s.kind === 'word') return keyword(s.word);
  const { key, op, value } = s;
  switch (key) {
    case 'batch_id':
      return { kind: 'batch_id', op: compare(key, op), value: integer(key, value) };
    case 'user':
    case 'billing_project':
      return { kind: key, op: exact(key, op), value };
    case 'state': {
      const checkedOp = exact(key, op);
      const state = value.toLowerCase();
      if (!isBatchStateTerm(state)) throw unknownState(value, BATCH_STATE_TERMS);
      return { kind: 'state', op: checkedOp, state };
    }
    default:
      return sharedClause(key, op, value);
  }
}

function jobClause(s: Statement): JobClause {
  if (s.kind === 'word') return keyword(s.word);
  const { key, op, value } = s;
  switch (key) {
    case 'job_id':
    case 'exit_code':
      return { kind: key, op: compare(key, op), value: integer(key, value, INT4_MIN, INT4_MAX) };
    case 'instance':
    case 'instance_collection':
      return { kind: key, op: match(key, op), value };
    case 'state': {
      const checkedOp = exact(key, op);
      const term = value.toLowerCase();
      if (!isJobStateTerm(term)) throw unknownState(value, Object.keys(JOB_STATE_TERMS));
      return { kind: 'state', op: checkedOp, term, states: JOB_STATE_TERMS[term] };
    }
    default:
      return sharedClause(key, op, value);
  }
}

function lines(q: string): Statement[] {
  return q
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map(splitLine);
}

/** Keys: batch_id, state, user, billing_project, start_time, end_time, duration, cost; others are attributes. */
export function parseBatchQueryV2(q: string): BatchQuery {
  checkQueryText(q);
  return lines(q).map(batchClause);
}

/**
 * Keys: instance, instance_collection, job_id, state, start_time, end_time, duration, cost,
 * exit_code; others are attributes.
 */
export function parseJobQueryV2(q: string): JobQuery {
  checkQueryText(q);
  return lines(q).map(jobClause);
}
