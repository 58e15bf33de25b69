/**
 * Grafana's expansion of a PostgreSQL panel query, step by step as Grafana does it, so tests can run a
 * dashboard's SQL exactly as Grafana would send it to the server:
 *
 *  1. the browser: template variables (`$agent`, `${agent}`, `[[agent]]`) and the panel's scoped
 *     variables (`$__interval`, `$__interval_ms`), each formatted by the SQL data source's
 *     `interpolateVariable`: a multi-value or include-All variable becomes comma-separated
 *     single-quoted literals (quotes doubled), a single-value variable its text with quotes doubled;
 *  2. the server, `sqleng.Interpolate`: `$__interval_ms`, `$__interval`, `$__unixEpochFrom()`,
 *     `$__unixEpochTo()`;
 *  3. the server, the PostgreSQL macro engine (pkg/tsdb/grafana-postgresql-datasource/macros.go):
 *     `$__timeFilter(col)` → `col BETWEEN '<from>' AND '<to>'` (RFC 3339, UTC, fraction only when
 *     non-zero), `$__timeFrom()`, `$__timeTo()`, `$__timeGroup(col, interval)` →
 *     `floor(extract(epoch from col)/N)*N` (N in seconds as Go's %v prints a float), `$__timeGroupAlias`
 *     (the same plus ` AS "time"`), `$__time`, `$__timeEpoch`, `$__unixEpochFilter`; any other
 *     `$__name(...)` is an error, as in Grafana.
 *
 * Also Grafana's choice of `$__interval` for a panel: the range divided by the panel's max data points,
 * rounded to a "nice" interval (rangeutil.roundInterval), raised to the data source's minimum interval.
 *
 * Not implemented (the dashboards do not use them): explicit variable formats (`${var:csv}`), fill
 * modes of $__timeGroup, TimescaleDB's time_bucket form, the nanosecond macros.
 */

export interface TimeRange {
  readonly from: Date;
  readonly to: Date;
}

/** A dashboard template variable as the query runner sees it. */
export interface TemplateVariable {
  readonly multi?: boolean;
  readonly includeAll?: boolean;
  /** A custom "All" value: inserted as written, not quoted (Grafana skips formatting it). */
  readonly allValue?: string | null;
  /** The values the variable offers (its query's answer), without "All". */
  readonly options?: readonly string[];
  /** The selection: `$__all` (or ['$__all']) for All, else the selected value or values. */
  readonly current: string | number | readonly string[];
}

export const ALL = '$__all';

/** Everything one panel query's expansion depends on. */
export interface QueryContext {
  readonly range: TimeRange;
  readonly intervalMs: number;
  readonly variables: Readonly<Record<string, TemplateVariable>>;
  /** Values that replace a variable for one panel (a repeated panel's own value). */
  readonly scoped?: Readonly<Record<string, string | number>>;
}

/** The full expansion: browser, then `sqleng.Interpolate`, then the PostgreSQL macro engine. */
export function expandQuery(sql: string, ctx: QueryContext): string {
  const interval = secondsToHms(ctx.intervalMs / 1000);
  const scoped: Record<string, string | number> = {
    __interval: interval,
    __interval_ms: ctx.intervalMs,
    __from: ctx.range.from.getTime(),
    __to: ctx.range.to.getTime(),
    ...ctx.scoped,
  };
  const browser = replaceVariables(sql, ctx.variables, scoped);
  const global = interpolateGlobal(browser, ctx.range, ctx.intervalMs);
  return interpolateMacros(global, ctx.range);
}

// --- 1. the browser: templateSrv.replace with the SQL data source's interpolateVariable -------------

/** Grafana's variableRegex (public/app/features/variables/utils.ts). */
const VARIABLE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}/g;

/** `quoteLiteral` of the PostgreSQL query model. */
export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** The SQL data source's `interpolateVariable` (public/app/features/plugins/sql/datasource/SqlDatasource.ts). */
export function formatSqlValue(
  value: string | number | readonly string[],
  variable: { multi?: boolean; includeAll?: boolean },
): string {
  if (typeof value === 'string') {
    return variable.multi || variable.includeAll ? quoteLiteral(value) : value.replace(/'/g, "''");
  }
  if (typeof value === 'number') return String(value);
  return value.map(quoteLiteral).join(',');
}

/** Names the browser replaces that are not dashboard variables. */
export const BUILTIN_VARIABLES = ['__interval', '__interval_ms', '__from', '__to'] as const;

/** templateSrv.replace: unknown names (macros such as `$__timeFrom`) are left for the server. */
export function replaceVariables(
  sql: string,
  variables: Readonly<Record<string, TemplateVariable>>,
  scoped: Readonly<Record<string, string | number>> = {},
): string {
  return sql.replace(VARIABLE, (match, v1, v2, fmt2, v3, fieldPath, fmt3) => {
    const name: string = v1 ?? v2 ?? v3;
    if (fmt2 || fmt3 || fieldPath) {
      throw new Error(`${match}: explicit variable formats and field paths are not implemented here`);
    }
    const variable = variables[name];
    const own = scoped[name];
    if (own !== undefined) return formatSqlValue(own, variable ?? {});
    if (!variable) return match;
    const current = variable.current;
    const isAll = current === ALL || (Array.isArray(current) && current.includes(ALL));
    if (isAll) {
      if (!variable.includeAll) throw new Error(`$${name} is All but the variable has no All option`);
      // A custom All value goes in as written (templateSrv skips formatting it), variables expanded.
      if (variable.allValue) return replaceVariables(variable.allValue, variables, scoped);
      return formatSqlValue(variable.options ?? [], variable);
    }
    return formatSqlValue(current, variable);
  });
}

// --- 2. the server: sqleng.Interpolate ----------------------------------------------------------------

export function interpolateGlobal(sql: string, range: TimeRange, intervalMs: number): string {
  return sql
    .replaceAll('$__interval_ms', String(Math.trunc(intervalMs)))
    .replaceAll('$__interval', formatGoInterval(intervalMs))
    .replaceAll('$__unixEpochFrom()', String(Math.floor(range.from.getTime() / 1000)))
    .replaceAll('$__unixEpochTo()', String(Math.floor(range.to.getTime() / 1000)));
}

// --- 3. the server: the PostgreSQL macro engine ---------------------------------------------------------

/** `\$([_a-zA-Z0-9]+)\(([^\)]*)\)`: the arguments end at the first `)`. */
const MACRO = /\$([_a-zA-Z0-9]+)\(([^)]*)\)/g;

export function interpolateMacros(sql: string, range: TimeRange): string {
  const original = sql;
  return sql.replace(MACRO, (whole: string, macro: string, rawArgs: string) => {
    let name = macro;
    // Before Grafana 5.3, `$__timeGroup(...)` followed directly by a comma meant `$__timeGroupAlias`:
    // Grafana still checks the first occurrence of the call in the query.
    if (name === '__timeGroup') {
      const at = original.indexOf(whole);
      if (at >= 0 && original[at + whole.length] === ',') name = '__timeGroupAlias';
    }
    const args = rawArgs.split(',').map((a) => a.replace(/^ +| +$/g, ''));
    return evaluateMacro(name, args, range);
  });
}

function evaluateMacro(name: string, args: readonly string[], range: TimeRange): string {
  const from = formatRFC3339Nano(range.from);
  const to = formatRFC3339Nano(range.to);
  const column = () => {
    if (args.length === 0) throw new Error(`missing time column argument for macro ${name}`);
    return args[0] as string;
  };
  switch (name) {
    case '__time':
      return `${column()} AS "time"`;
    case '__timeEpoch':
      return `extract(epoch from ${column()}) as "time"`;
    case '__timeFilter':
      return `${column()} BETWEEN '${from}' AND '${to}'`;
    case '__timeFrom':
      return `'${from}'`;
    case '__timeTo':
      return `'${to}'`;
    case '__timeGroup': {
      if (args.length < 2)
        throw new Error(`macro ${name} needs time column and interval and optional fill value`);
      if (args.length === 3) throw new Error(`macro ${name}: fill modes are not implemented here`);
      const seconds = parseGoInterval((args[1] as string).replace(/^'+|'+$/g, '')) / 1000;
      return `floor(extract(epoch from ${args[0]})/${formatGoFloat(seconds)})*${formatGoFloat(seconds)}`;
    }
    case '__timeGroupAlias':
      return `${evaluateMacro('__timeGroup', args, range)} AS "time"`;
    case '__unixEpochFilter': {
      const c = column();
      const lo = Math.floor(range.from.getTime() / 1000);
      const hi = Math.floor(range.to.getTime() / 1000);
      return `${c} >= ${lo} AND ${c} <= ${hi}`;
    }
    default:
      throw new Error(`unknown macro "${name}"`);
  }
}

// --- formats, as Go and Grafana write them --------------------------------------------------------------

/** Go's time.RFC3339Nano of a UTC time: "2026-10-01T00:00:00Z", "2026-10-01T00:09:30.5Z". */
export function formatRFC3339Nano(date: Date): string {
  return date.toISOString().replace(/\.(\d*?)0*Z$/, (_m, digits: string) => (digits ? `.${digits}Z` : 'Z'));
}

/** Go's `%v` of a float64 (strconv 'g', shortest): 60 → "60", 2592000 → "2.592e+06", 0.5 → "0.5". */
export function formatGoFloat(value: number): string {
  if (value === 0) return '0';
  const [mantissa = '', exp = '0'] = value.toExponential().split('e');
  const exponent = Number(exp);
  // strconv.FormatFloat(v, 'g', -1, 64): %e when the exponent is < -4 or >= 6 (shortest precision).
  if (exponent < -4 || exponent >= 6) {
    const sign = exponent < 0 ? '-' : '+';
    return `${mantissa}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  return String(value);
}

/** gtime.FormatInterval (the server's `$__interval`): the largest whole unit, truncated. */
export function formatGoInterval(ms: number): string {
  const units: [number, string][] = [
    [365 * 86_400_000, 'y'],
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'm'],
    [1000, 's'],
    [1, 'ms'],
  ];
  for (const [size, unit] of units) if (ms >= size) return `${Math.floor(ms / size)}${unit}`;
  return '1ms';
}

/** rangeutil.secondsToHms (the browser's `$__interval`). */
export function secondsToHms(seconds: number): string {
  const years = Math.floor(seconds / 31_536_000);
  if (years) return `${years}y`;
  const days = Math.floor((seconds % 31_536_000) / 86_400);
  if (days) return `${days}d`;
  const hours = Math.floor(((seconds % 31_536_000) % 86_400) / 3600);
  if (hours) return `${hours}h`;
  const minutes = Math.floor((((seconds % 31_536_000) % 86_400) % 3600) / 60);
  if (minutes) return `${minutes}m`;
  const secs = Math.floor((((seconds % 31_536_000) % 86_400) % 3600) % 60);
  if (secs) return `${secs}s`;
  const ms = Math.floor(seconds * 1000);
  if (ms) return `${ms}ms`;
  return 'less than a millisecond';
}

/**
 * gtime.ParseInterval, in ms: Go durations (ms, s, m, h, and combinations such as 1h30m) and the date
 * units d, w (fixed lengths, as in UTC), M and y (calendar lengths from now, as Grafana computes them).
 */
export function parseGoInterval(text: string): number {
  const date = /^(\d+)([dwMy])$/.exec(text);
  if (date) {
    const n = Number(date[1]);
    const now = new Date();
    switch (date[2]) {
      case 'd':
        return n * 86_400_000;
      case 'w':
        return n * 7 * 86_400_000;
      case 'M': {
        const later = new Date(now);
        later.setUTCMonth(later.getUTCMonth() + n);
        return later.getTime() - now.getTime();
      }
      default: {
        const later = new Date(now);
        later.setUTCFullYear(later.getUTCFullYear() + n);
        return later.getTime() - now.getTime();
      }
    }
  }
  const unit: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    µs: 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
  };
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let at = 0;
  for (let m = part.exec(text); m; m = part.exec(text)) {
    total += Number(m[1]) * (unit[m[2] as string] as number);
    at = part.lastIndex;
  }
  if (text === '' || at !== text.length) throw new Error(`error parsing interval ${text}`);
  return total;
}

/** rangeutil.roundInterval: a "nice" interval near `ms`. */
export function roundInterval(ms: number): number {
  const steps: [number, number][] = [
    [10, 1],
    [15, 10],
    [35, 20],
    [75, 50],
    [150, 100],
    [350, 200],
    [750, 500],
    [1500, 1000],
    [3500, 2000],
    [7500, 5000],
    [12_500, 10_000],
    [17_500, 15_000],
    [25_000, 20_000],
    [45_000, 30_000],
    [90_000, 60_000],
    [210_000, 120_000],
    [450_000, 300_000],
    [750_000, 600_000],
    [1_050_000, 900_000],
    [1_500_000, 1_200_000],
    [2_700_000, 1_800_000],
    [5_400_000, 3_600_000],
    [9_000_000, 7_200_000],
    [16_200_000, 10_800_000],
    [32_400_000, 21_600_000],
    [86_400_000, 43_200_000],
    [604_800_000, 86_400_000],
    [1_814_400_000, 604_800_000],
    [3_628_800_000, 2_592_000_000],
  ];
  for (const [below, value] of steps) if (ms < below) return value;
  return 31_536_000_000;
}

/**
 * rangeutil.calculateInterval: the panel's `$__interval_ms` for a range and a number of data points
 * (the panel's width in pixels, or its max data points), at least the data source's `timeInterval`.
 */
export function calculateInterval(range: TimeRange, maxDataPoints: number, lowLimit?: string): number {
  const low = lowLimit ? parseGrafanaInterval(lowLimit) : 1;
  const ms = roundInterval((range.to.getTime() - range.from.getTime()) / maxDataPoints);
  return Math.max(ms, low);
}

/** rangeutil.intervalToMs ("1s", "1m", "500ms"; a bare number is seconds). */
export function parseGrafanaInterval(text: string): number {
  if (Number(text)) return Number.parseInt(text, 10) * 1000;
  const m = /^(-?\d+(?:\.\d+)?)(ms|[Mwdhmsy])/.exec(text);
  const seconds: Record<string, number> = {
    y: 31_536_000,
    M: 2_592_000,
    w: 604_800,
    d: 86_400,
    h: 3600,
    m: 60,
    s: 1,
    ms: 0.001,
  };
  if (!m) throw new Error(`invalid interval ${text}`);
  return (seconds[m[2] as string] as number) * 1000 * Number.parseInt(m[1] as string, 10);
}
