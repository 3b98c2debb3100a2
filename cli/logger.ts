/** A small structured logger: one JSON line per event, so decisions can be grepped later. */
export type Logger = {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
};

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type LogLevel = keyof typeof LEVELS;

export function createLogger(level: LogLevel = 'info', base: Record<string, unknown> = {}): Logger {
  const emit = (l: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (LEVELS[l] < LEVELS[level]) return;
    const line = JSON.stringify({ t: new Date().toISOString(), level: l, msg, ...base, ...fields });
    (l === 'error' || l === 'warn' ? process.stderr : process.stdout).write(line + '\n');
  };
  return {
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    debug: (m, f) => emit('debug', m, f),
    child: (f) => createLogger(level, { ...base, ...f }),
  };
}
