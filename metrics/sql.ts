/**
 * SQL metrics at one point: the Db handed to a role is wrapped, so every statement any query
 * function runs is timed under that function's name (`scheduling.poolDemand`), never under
 * its SQL text. The name is read from the call stack when the query function starts a
 * builder (`select`, `insert`, `update`, `delete`, `execute`), which happens synchronously
 * inside it; drizzle runs the statement later, from a microtask, where the caller is gone.
 * So the builder chain is followed and its `then`/`execute` timed under the name taken at
 * the start. Names are code locations, so their number is bounded by the code.
 */
import type { Db } from '../db/client';
import type { SqlMetrics } from './registry';

const BUILDER_STARTS = new Set(['select', 'selectDistinct', 'selectDistinctOn', 'insert', 'update', 'delete', 'execute', 'with']);
const QUERY_FRAME = /at (?:async )?(?:[\w$]+\.)?([\w$]+) \(.*\/db\/queries\/([\w-]+)\.[jt]s:/;
const QUERY_FILE = /\/db\/queries\/([\w-]+)\.[jt]s:/;

/** `module.function` of the innermost named frame in db/queries/, else where the call came from. */
export function queryNameFromStack(stack: string): string {
  const lines = stack.split('\n');
  for (const line of lines) {
    const m = QUERY_FRAME.exec(line);
    if (m && m[1] !== 'Object' && m[1] !== 'anonymous') return `${m[2]}.${m[1]}`;
  }
  for (const line of lines) {
    const m = QUERY_FILE.exec(line);
    if (m) return `${m[1]}.anonymous`;
  }
  return 'unnamed';
}

function callerName(): string {
  const holder: { stack?: string } = {};
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 12;
  Error.captureStackTrace(holder, callerName);
  Error.stackTraceLimit = limit;
  return queryNameFromStack(holder.stack ?? '');
}

type AnyFn = (...args: unknown[]) => unknown;

function timed(metrics: SqlMetrics, name: string, run: () => PromiseLike<unknown>): Promise<unknown> {
  const end = metrics.duration.startTimer({ query: name });
  return Promise.resolve(run()).then(
    (v) => {
      end();
      return v;
    },
    (e: unknown) => {
      end();
      metrics.errors.inc({ query: name });
      throw e;
    },
  );
}

const isChainable = (v: unknown): v is object =>
  typeof v === 'object' && v !== null && (typeof (v as { then?: unknown }).then === 'function' || typeof (v as { from?: unknown }).from === 'function' || typeof (v as { values?: unknown }).values === 'function' || typeof (v as { set?: unknown }).set === 'function');

/** A builder whose execution is timed under `name`; its chained builders are too. */
function chain<T extends object>(target: T, metrics: SqlMetrics, name: string): T {
  let executed: Promise<unknown> | undefined;
  const proxy: T = new Proxy(target, {
    get(t, prop, receiver) {
      const v = Reflect.get(t, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      if (prop === 'then') {
        return (ok?: AnyFn, fail?: AnyFn) => {
          // One statement per builder, however many times it is awaited.
          executed ??= timed(metrics, name, () => (t as unknown as { execute(): Promise<unknown> }).execute());
          return executed.then(ok, fail);
        };
      }
      if (prop === 'execute') return (...args: unknown[]) => timed(metrics, name, () => (v as AnyFn).apply(t, args) as Promise<unknown>);
      return (...args: unknown[]) => {
        const out = (v as AnyFn).apply(t, args);
        if (out === t) return proxy;
        return isChainable(out) ? chain(out, metrics, name) : out;
      };
    },
  });
  return proxy;
}

/** `db` (or a transaction) with every statement timed in `metrics`. */
export function instrumentDb<T extends object = Db>(db: T, metrics: SqlMetrics): T {
  return new Proxy(db, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      if (prop === 'transaction') {
        return (cb: (tx: object) => unknown, ...rest: unknown[]) =>
          (v as AnyFn).call(target, (tx: object) => cb(instrumentDb(tx, metrics)), ...rest);
      }
      if (typeof prop === 'string' && BUILDER_STARTS.has(prop)) {
        return (...args: unknown[]) => {
          const name = callerName();
          const out = (v as AnyFn).apply(target, args);
          return isChainable(out) ? chain(out, metrics, name) : out;
        };
      }
      return (v as AnyFn).bind(target);
    },
  });
}
