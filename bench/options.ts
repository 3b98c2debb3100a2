/**
 * Flags every bench part reads the same way: parsed strictly, --help printing the part's usage,
 * whole numbers checked with the flag's name in the message.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

const COMMON = {
  'temporal-port': { type: 'string', default: '7833' },
  keep: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies Options;

/** The part's own options plus --temporal-port, --keep and --help; --help prints `usage` and exits. */
export function parseBenchArgs<O extends Options>(argv: string[], options: O, usage: string) {
  const { values } = parseArgs({ args: argv, options: { ...options, ...COMMON } as O & typeof COMMON, strict: true, allowPositionals: false });
  if ((values as { help?: boolean }).help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  return values;
}

export function wholeNumber(name: string, v: string | undefined, min = 1): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be a whole number >= ${min}, got ${v}`);
  return n;
}
