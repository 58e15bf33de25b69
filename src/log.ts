/**
 * Structured logging as logfmt lines (`ts=… level=info msg="cycle" up=2 down=0`): one line per event,
 * greppable on a terminal and in journald, parseable by any logfmt reader. Secrets never reach it:
 * callers pass URLs through {@link maskUrl}.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerOptions {
  level: LogLevel;
  /** Where lines go; defaults to stderr so stdout stays clean for command output. */
  write?: (line: string) => void;
  /** journald stamps its own time; omit ours there to keep lines short. */
  timestamps?: boolean;
}

export function createLogger(opts: LoggerOptions, bound: LogFields = {}): Logger {
  const write = opts.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const timestamps = opts.timestamps ?? !process.env.JOURNAL_STREAM;
  const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (RANK[level] < RANK[opts.level]) return;
    const head = timestamps ? `ts=${new Date().toISOString()} ` : '';
    write(`${head}level=${level} msg=${formatValue(msg)}${formatFields({ ...bound, ...fields })}`);
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    child: (fields) => createLogger({ ...opts, write, timestamps }, { ...bound, ...fields }),
  };
}

/** A logger that drops everything (tests, `--quiet`). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
};

function formatFields(fields: LogFields): string {
  let out = '';
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    out += ` ${key}=${formatValue(value)}`;
  }
  return out;
}

function formatValue(value: unknown): string {
  if (value instanceof Error) return formatValue(errorText(value));
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return /^[\w.:/@%+-]+$/.test(text) ? text : JSON.stringify(text);
}

/** An error's message followed by its causes, one level each, so a log line tells the whole story. */
export function errorText(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    parts.push(current instanceof Error ? current.message : String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(': ');
}

/** A URL with its password (and any `password=` query parameter) replaced by `***`. */
export function maskUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    for (const key of [...url.searchParams.keys()]) {
      if (/pass|secret|token/i.test(key)) url.searchParams.set(key, '***');
    }
    return url.toString();
  } catch {
    return raw.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
  }
}
