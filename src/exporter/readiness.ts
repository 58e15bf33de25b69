/**
 * /readyz: ready when the scheduler ticks and the database answers. Each check gives one line, so the
 * body says what is wrong (and what is fine) either way:
 * - scheduler: a tick within two intervals and a second;
 * - database: a cycle stored within the last 30 s, or else a `SELECT 1` answered within 2 s (one at a
 *   time: while one is out, further checks wait for it rather than pile queries on a hung server).
 * Ages are measured on a monotonic clock.
 */
import { errorText } from '../log.js';
import type { Queryable } from '../store/types.js';

export const WRITE_FRESH_MS = 30_000;
export const SELECT_TIMEOUT_MS = 2_000;

export interface ReadinessDeps {
  /** The interval running now. */
  readonly intervalMs: () => number;
  readonly reader: Queryable;
  /** Monotonic milliseconds. */
  readonly now: () => number;
}

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface Readiness {
  /** The scheduler ticked now. */
  ticked(): void;
  /** A write attempt ended now. */
  wrote(ok: boolean): void;
  check(): Promise<readonly Check[]>;
}

export function readiness(deps: ReadinessDeps): Readiness {
  let lastTick: number | null = null;
  let lastWrite: number | null = null;
  let select: Promise<string | null> | null = null;

  const scheduler = (): Check => {
    const limit = 2 * deps.intervalMs() + 1000;
    if (lastTick === null) return { name: 'scheduler', ok: false, detail: 'no tick yet' };
    const age = deps.now() - lastTick;
    const detail = `last tick ${secs(age)} ago (limit ${secs(limit)})`;
    return { name: 'scheduler', ok: age <= limit, detail };
  };

  const database = async (): Promise<Check> => {
    if (lastWrite !== null && deps.now() - lastWrite <= WRITE_FRESH_MS)
      return { name: 'database', ok: true, detail: `last cycle stored ${secs(deps.now() - lastWrite)} ago` };
    const started = deps.now();
    select ??= selectOne(deps.reader).finally(() => {
      select = null;
    });
    const failure = await select;
    const stored =
      lastWrite === null ? 'no cycle stored yet' : `no cycle stored in the last ${secs(WRITE_FRESH_MS)}`;
    return failure === null
      ? {
          name: 'database',
          ok: true,
          detail: `${stored}; SELECT 1 answered in ${secs(deps.now() - started)}`,
        }
      : { name: 'database', ok: false, detail: `${stored}, and SELECT 1 failed: ${failure}` };
  };

  return {
    ticked: () => {
      lastTick = deps.now();
    },
    wrote: (ok) => {
      if (ok) lastWrite = deps.now();
    },
    check: async () => [scheduler(), await database()],
  };
}

/** `SELECT 1` with a deadline: null when it answered, else why not. */
async function selectOne(reader: Queryable): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${secs(SELECT_TIMEOUT_MS)}`), SELECT_TIMEOUT_MS);
  });
  const query = reader.query('SELECT 1').then(
    () => null,
    // A refused connection to every address of a name is an AggregateError without a message.
    (err: unknown) => errorText(err) || String((err as { code?: unknown }).code ?? 'unknown error'),
  );
  try {
    return await Promise.race([query, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The body of /readyz: a verdict line, then one line per check. */
export function readinessText(checks: readonly Check[]): string {
  const ready = checks.every((c) => c.ok);
  const lines = checks.map((c) => `${c.name}: ${c.ok ? 'ok' : 'FAILING'}: ${c.detail}`);
  return `${ready ? 'ready' : 'not ready'}\n${lines.join('\n')}\n`;
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}
