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
const QUERY_FILE = /\/db\/queries\/([\w-]+)\.[jt]s$/;

/** A frame as the stack gives it: the function's name and its file. */
export type Frame = { functionName: string | null; fileName: string | null };

/** `module.function` of the innermost named frame in db/queries/, else where the call came from. */
export function queryNameFromFrames(frames: readonly Frame[]): string {
  let anonymousIn: string | undefined;
  for (const f of frames) {
    const m = f.fileName ? QUERY_FILE.exec(f.fileName) : null;
    if (!m) continue;
    const fn = f.functionName?.split('.').pop();
    if (fn && fn !== 'Object' && fn !== 'anonymous') return `${m[1]}.${fn}`;
    anonymousIn ??= m[1];
  }
  return anonymousIn ? `${anonymousIn}.anonymous` : 'unnamed';
}

/**
 * The calling query function, from V8's structured call sites: no stack text is formatted,
 * so no source map is consulted (formatting a stack through a loader's source maps cost more
 * than the statements it named).
 */
function callerName(): string {
  const prepare = Error.prepareStackTrace;
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 12;
  Error.prepareStackTrace = (_e, sites) => sites;
  const holder: { stack?: unknown } = {};
  try {
    Error.captureStackTrace(holder, callerName);
    const sites = (holder.stack ?? []) as NodeJS.CallSite[];
    return queryNameFromFrames(sites.map((c) => ({ functionName: c.getFunctionName(), fileName: fileOf(c) })));
  } finally {
    Error.prepareStackTrace = prepare;
    Error.stackTraceLimit = limit;
  }
}

function fileOf(c: NodeJS.CallSite): string | null {
  const f = c.getFileName() ?? null;
  // Loaders may name modules by URL and add a query string.
  return f === null ? null : f.replace(/^file:\/\//, '').replace(/\?.*$/, '');
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
