// The wmn dashboard: plain JavaScript, no framework, no build step. Figures come from /api/… (the SLA
// functions); the state, the latest cycle and the charts' right edge follow /api/events as cycles finish.
/* global uPlot */

const RANGES = {
  '1h': { seconds: 3_600, step: 10, label: '1 h' },
  '6h': { seconds: 21_600, step: 60, label: '6 h' },
  '24h': { seconds: 86_400, step: 300, label: '24 h' },
  '7d': { seconds: 604_800, step: 1_800, label: '7 d' },
  '30d': { seconds: 2_592_000, step: 7_200, label: '30 d' },
};
/** Steps are aligned to 2000-01-01 00:00 UTC, as the SQL functions align them. */
const ORIGIN_S = 946_684_800;
const SUMMARY_EVERY_MS = 30_000;
const CHARTS_EVERY_MS = 60_000;
/** After a change of state, the database has the cycle that made it within this delay. */
const SETTLE_MS = 1_500;
/**
 * What the charts of each kind of source draw. `layers`: the phases stacked, their sum being `top` (named
 * `topLabel` in the readout); `smoke`: the phase whose distribution is drawn, one failed probes lack where
 * the kind has one (ttfb, connect), so their share is the loss alone. icmp and dns have only `total`,
 * which a failed probe has too: the time to its failure.
 */
const KINDS = {
  http: {
    layers: ['dns', 'connect', 'tls', 'wait'],
    top: 'ttfb',
    topLabel: 'first byte',
    smoke: 'ttfb',
    smokeTitle: 'Time to first byte',
  },
  icmp: {
    layers: ['dns', 'rtt'],
    top: 'rtt',
    topLabel: 'round trip',
    smoke: 'total',
    smokeTitle: 'Round trip',
  },
  tcp: {
    layers: ['dns', 'connect'],
    top: 'connected',
    topLabel: 'connected',
    smoke: 'connect',
    smokeTitle: 'TCP handshake',
  },
  dns: {
    layers: ['dns', 'connect', 'query'],
    top: 'answer',
    topLabel: 'answer',
    smoke: 'total',
    smokeTitle: 'Time to answer',
  },
};
const PHASE_LABEL = {
  dns: 'DNS',
  connect: 'connect',
  tls: 'TLS',
  wait: 'wait',
  rtt: 'round trip',
  query: 'query',
};
/** The colour of each layer (a custom property, --c-…). */
const PHASE_COLOR = { dns: 'dns', connect: 'connect', tls: 'tls', wait: 'wait', rtt: 'wait', query: 'wait' };
/** Layers a source of the kind has only in some steps (dns://: a TCP connection after a truncated answer). */
const OCCASIONAL = { dns: ['connect'] };
/** The phases both /api/series and the live events carry: per step, the mean of the probes that had one. */
const MEASURED = ['dns', 'connect', 'tls', 'wait', 'ttfb', 'total'];

const app = {
  range: readRange(),
  agent: '',
  intervalS: 1,
  /** The agent's clock minus the browser's, in ms (durations are measured on the agent's clock). */
  offsetMs: 0,
  /** { state: 'UP' | 'DOWN', since: ms } as of the latest cycle. */
  current: null,
  /** The row of wmn_agent_state (the database's view), or null. */
  stored: null,
  /** The latest stored cycle's diagnosis ({ kind, text }), until a live cycle brings a newer one. */
  storedDiagnosis: null,
  /** Each source's latest known certificate expiry (unix s): a failed probe sees no certificate. */
  certs: new Map(),
  lastCycle: null,
  /** performance.now() when the latest cycle arrived: no cycle for three intervals is STALE. */
  lastArrival: 0,
  /** Cycles of the last minutes, replayed onto charts fetched after they arrived. */
  recent: [],
  model: null,
  charts: [],
  chartLoad: 0,
  /** Step, range and sources the drawn charts were made for. */
  layout: '',
  outages: [],
  problems: new Map(),
  redrawPending: false,
};

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];
const nowMs = () => Date.now() + app.offsetMs;

// ---------------------------------------------------------------------------------------------------
// Formatting

const timeFormat = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});
const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  weekday: 'short',
  day: 'numeric',
  month: 'short',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

function fmtTime(ms) {
  const day = (x) => new Date(x).toDateString();
  return day(ms) === day(nowMs()) ? timeFormat.format(ms) : dateTimeFormat.format(ms);
}

/** Truncated, never rounded up: 99.9996 % is not shown as 100 %. */
function fmtPct(value) {
  if (value === null || value === undefined) return '—';
  if (value >= 100) return '100\u202f%';
  if (value > 0 && value < 0.01) return '<\u202f0.01\u202f%';
  const digits = value >= 99.99 ? 4 : value >= 99.9 ? 3 : value >= 99 || value < 1 ? 2 : 1;
  const factor = 10 ** digits;
  return `${(Math.floor(value * factor) / factor).toFixed(digits)}\u202f%`;
}

function fmtMs(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 100) return `${Math.round(ms)} ms`;
  if (ms >= 1) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

function fmtDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** Axis labels: short, no unit on every tick but the unit kept. */
function fmtAxisMs(ms) {
  if (ms >= 1000) return `${+(ms / 1000).toFixed(2)} s`;
  return `${+ms.toFixed(ms >= 10 ? 0 : ms >= 1 ? 1 : 2)} ms`;
}

function fmtStep(seconds) {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3_600) return `${seconds / 60} min`;
  return `${seconds / 3_600} h`;
}

function fmtCount(n) {
  return n.toLocaleString();
}

// ---------------------------------------------------------------------------------------------------
// The API

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, params = {}) {
  const url = new URL(path, location.origin);
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, String(value));
  const res = await fetch(url, { headers: { accept: 'application/json' }, cache: 'no-store' });
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, body?.error ?? `${res.status} ${res.statusText}`);
  return body;
}

/** Runs one refresh, showing its failure in the banner (and clearing it once it works again). */
async function attempt(key, work) {
  try {
    await work();
    setProblem(key, null);
  } catch (err) {
    const message =
      err instanceof ApiError && err.status === 401
        ? 'This dashboard needs its token: open it once as /?token=… (see docs/dashboard.md).'
        : err instanceof ApiError && err.status === 503
          ? `The database does not answer: ${err.message}. Probing goes on; figures return when it does.`
          : `Cannot load ${key}: ${err.message}`;
    setProblem(key, message);
  }
}

function setProblem(key, message) {
  if (message === null) app.problems.delete(key);
  else app.problems.set(key, message);
  const banner = $('#problem');
  const text = [...new Set(app.problems.values())].join(' ');
  banner.hidden = text === '';
  banner.textContent = text;
}

// ---------------------------------------------------------------------------------------------------
// State and the latest cycle

async function refreshState() {
  const sent = Date.now();
  const res = await api('/api/state');
  app.offsetMs = Date.parse(res.now) - (sent + Date.now()) / 2;
  app.agent = res.agent;
  if (res.intervalS) app.intervalS = res.intervalS;
  app.stored = res.state;
  app.storedDiagnosis = res.diagnosis ?? null;
  $('#agent').textContent = res.agent;
  if (res.live) onCycle(res.live, false);
  reconcileSince();
  renderState();
}

/** Takes "since" from the database once it holds the cycles of the current run (one definition). */
function reconcileSince() {
  const stored = app.stored;
  if (!stored || !app.current) return;
  const state = stored.state === 'STALE' ? (stored.lastCycleDown ? 'DOWN' : 'UP') : stored.state;
  if (state === app.current.state) app.current.since = Date.parse(stored.since);
}

function stateNow() {
  const staleAfterMs = Math.max(10, 3 * app.intervalS) * 1000;
  if (app.current) return performance.now() - app.lastArrival > staleAfterMs ? 'STALE' : app.current.state;
  return app.stored ? app.stored.state : 'unknown';
}

const GLYPH = { UP: '✓', DOWN: '✕', STALE: '!', unknown: '·' };
const WORD = { UP: 'UP', DOWN: 'DOWN', STALE: 'STALE', unknown: 'No data yet' };

function renderState() {
  const state = stateNow();
  const el = $('#state');
  if (el.dataset.state !== state) {
    el.dataset.state = state;
    $('#state-glyph').textContent = GLYPH[state];
    $('#state-text').textContent = WORD[state];
    document.title = `${WORD[state]} · wmn ${app.agent}`;
  }
  renderDiagnosis(state);
  let since = '';
  if (state === 'STALE') {
    const last = app.lastCycle ? Date.parse(app.lastCycle.ts) : Date.parse(app.stored?.lastCycleAt ?? '');
    since = Number.isNaN(last)
      ? 'No recent cycle.'
      : `No cycle since ${fmtTime(last)}: the agent stopped, or its results stopped arriving.`;
  } else if (app.current) {
    since = `since ${fmtTime(app.current.since)} · for ${fmtDuration((nowMs() - app.current.since) / 1000)}`;
  } else if (state === 'unknown') {
    since = 'Waiting for the first cycle.';
  }
  $('#since').textContent = since;
}

function renderDiagnosis(state) {
  const d = app.lastCycle?.diagnosis ?? app.storedDiagnosis;
  const el = $('#diagnosis');
  el.hidden = !d || state === 'unknown';
  if (!d) return;
  // Once the cycles stop, the sentence is history, not the state now.
  const text = state === 'STALE' ? `Last cycle: ${d.text}` : d.text;
  if (el.textContent !== text) el.textContent = text;
  el.dataset.kind = d.kind;
}

/** "cert 38 d", or null when no certificate of the source is known. */
function certDays(source) {
  const expiresAt = app.certs.get(source);
  if (expiresAt === undefined) return null;
  const days = Math.floor((expiresAt * 1000 - nowMs()) / 86_400_000);
  const el = span('cert', days < 0 ? 'cert expired' : `cert ${days} d`);
  el.title = `certificate expires ${new Date(expiresAt * 1000).toISOString().slice(0, 10)}`;
  if (days < 0) el.dataset.expired = 'true';
  else if (days < 14) el.dataset.soon = 'true';
  return el;
}

function renderLatest(cycle) {
  $('#latest-at').textContent = `at ${fmtTime(Date.parse(cycle.ts))}`;
  const list = $('#latest');
  list.replaceChildren(
    ...cycle.sources.map((r) => {
      const item = document.createElement('li');
      item.className = r.disconnected ? 'fail' : 'ok';
      const mark = span('mark', r.disconnected ? '✕' : '✓');
      mark.setAttribute('aria-hidden', 'true');
      const result = r.disconnected
        ? `failed: ${r.error}`
        : `${r.status ?? 'answered'}${r.error ? ` (${r.error})` : ''} in ${fmtMs(r.phases.total)}`;
      const name = span('src', r.source);
      name.title = r.source;
      item.dataset.source = r.source;
      item.append(mark, name);
      if (r.layer) {
        const layer = span('layer', r.layer);
        layer.title = 'layer: where the source sits on the path out';
        item.append(layer);
      }
      item.append(span('res', result));
      const cert = certDays(r.source);
      if (cert) item.append(cert);
      return item;
    }),
  );
}

function span(className, text) {
  const el = document.createElement('span');
  el.className = className;
  el.textContent = text;
  return el;
}

function onCycle(cycle, live = true) {
  if (app.lastCycle && cycle.probe_id <= app.lastCycle.probe_id) return;
  const ts = Date.parse(cycle.ts);
  app.lastCycle = cycle;
  app.lastArrival = performance.now();
  for (const r of cycle.sources)
    if (typeof r.cert_expires_at === 'number') app.certs.set(r.source, r.cert_expires_at);
  app.recent.push(cycle);
  while (app.recent.length > 0 && app.recent[0].probe_id < cycle.probe_id - 600) app.recent.shift();
  if (app.current?.state !== cycle.state) {
    const changed = app.current !== null;
    app.current = { state: cycle.state, since: ts };
    if (changed && live) setTimeout(refreshAfterChange, SETTLE_MS);
  }
  renderState();
  renderLatest(cycle);
  mergeCycle(cycle);
}

function refreshAfterChange() {
  attempt('the state', refreshState);
  attempt('the uptime', refreshSummaries);
  attempt('the outages', refreshOutages);
}

// ---------------------------------------------------------------------------------------------------
// Live events

function connectLive() {
  const indicator = $('#live');
  const events = new EventSource('/api/events');
  let lost = false;
  events.addEventListener('hello', (e) => {
    const hello = JSON.parse(e.data);
    app.intervalS = hello.interval_s;
  });
  events.addEventListener('cycle', (e) => onCycle(JSON.parse(e.data)));
  events.addEventListener('open', () => {
    indicator.dataset.live = 'live';
    indicator.textContent = 'live';
    if (lost) refreshAll();
    lost = false;
  });
  events.addEventListener('error', () => {
    lost = true;
    indicator.dataset.live = 'lost';
    indicator.textContent = 'reconnecting…';
    // The browser retries by itself unless the server refused the stream (a token, too many clients).
    if (events.readyState === EventSource.CLOSED) {
      events.close();
      setTimeout(connectLive, 5_000);
    }
  });
}

// ---------------------------------------------------------------------------------------------------
// Uptime and outages

/** Local midnight, or a second ago just after it (the range must not be empty). */
function todayStart() {
  const midnight = new Date(nowMs());
  midnight.setHours(0, 0, 0, 0);
  return new Date(Math.min(midnight.getTime(), Math.floor(nowMs() / 1000) * 1000 - 1000));
}

async function refreshSummaries() {
  const periods = [
    ['today', { from: todayStart().toISOString() }],
    ['7d', { range: '7d' }],
    ['30d', { range: '30d' }],
    ['range', { range: app.range }],
  ];
  const answers = await Promise.all(periods.map(([, params]) => api('/api/summary', params)));
  periods.forEach(([period], i) => {
    renderSummary(period, answers[i]);
  });
  $('#updated').textContent = fmtTime(nowMs());
}

function renderSummary(period, answer) {
  const root = $(`[data-period="${period}"]`);
  const s = answer.summary;
  root.dataset.from = answer.from;
  root.dataset.to = answer.to;
  setPct($('[data-kind="uptime"]', root), s ? s.uptimePct : null);
  setPct($('[data-kind="coverage"]', root), s ? s.coveragePct : 0);
  const detail = s
    ? `${s.downCycles === 0 ? 'no downtime' : `${fmtDuration(s.downS)} down`} · ${fmtCount(s.cycles)} cycles`
    : 'nothing measured';
  $('[data-kind="detail"]', root).textContent = period === 'range' ? `(${detail})` : detail;
}

function setPct(el, value) {
  el.textContent = fmtPct(value);
  if (value === null) delete el.dataset.value;
  else el.dataset.value = String(value);
}

async function refreshOutages() {
  const answer = await api('/api/outages', { range: app.range, limit: 20 });
  app.outages = answer.outages;
  const shown = answer.outages.length;
  $('#outage-count').textContent =
    answer.total > shown ? `(the ${shown} latest of ${answer.total})` : `(${answer.total})`;
  $('#outages-empty').hidden = shown > 0;
  $('#outages').hidden = shown === 0;
  $('#outages tbody').replaceChildren(...answer.outages.map(outageRow));
}

function outageRow(outage) {
  const row = document.createElement('tr');
  row.dataset.start = outage.startedAt;
  if (outage.ongoing) row.dataset.ongoing = 'true';
  const cell = (...children) => {
    const td = document.createElement('td');
    td.append(...children);
    row.append(td);
    return td;
  };
  cell(fmtTime(Date.parse(outage.startedAt)));
  cell(outage.ongoing ? span('ongoing', 'ongoing') : fmtTime(Date.parse(outage.endedAt)));
  const duration = cell(outageDuration(outage));
  duration.className = 'duration';
  // Outages recorded before diagnoses were have none.
  const diagnosis = cell(outage.diagnosis ? outage.diagnosis.text : '—');
  diagnosis.className = 'diagnosis';
  if (outage.diagnosis) row.dataset.diagnosis = outage.diagnosis.kind;
  const classes = cell(
    ...outage.errors.flatMap((e, i) => (i === 0 ? [span('tag', e)] : [' ', span('tag', e)])),
  );
  classes.className = 'classes';
  if (outage.unknownS > 0) classes.append(span('muted', ` ${fmtDuration(outage.unknownS)} unknown`));
  return row;
}

function outageDuration(outage) {
  return outage.ongoing
    ? `${fmtDuration((nowMs() - Date.parse(outage.startedAt)) / 1000)} so far`
    : fmtDuration(outage.durationS);
}

function tickOutages() {
  const rows = $$('#outages tbody tr');
  app.outages.forEach((outage, i) => {
    if (outage.ongoing && rows[i]) $('.duration', rows[i]).textContent = outageDuration(outage);
  });
}

// ---------------------------------------------------------------------------------------------------
// Chart data: one grid of steps per range; live cycles fold into its right edge

const binStart = (s, step) => Math.floor((s - ORIGIN_S) / step) * step + ORIGIN_S;

/** The source columns a chart draws, and those the live edge keeps sums for. */
const SOURCE_COLUMNS = ['probes', 'failed', 'loss', ...MEASURED];
const SMOKE_COLUMNS = ['min', 'p10', 'p25', 'median', 'p75', 'p90', 'max'];

async function loadCharts() {
  const load = ++app.chartLoad;
  const { step } = RANGES[app.range];
  const series = await api('/api/series', { range: app.range, step });
  const smokes = await Promise.all(
    series.sources.map((s) =>
      api('/api/smoke', { range: app.range, step, source: s.source, phase: KINDS[kindOf(s.source)].smoke }),
    ),
  );
  if (load !== app.chartLoad) return;
  app.model = buildModel(series, smokes);
  for (const cycle of app.recent) mergeCycle(cycle, false);
  drawCharts();
}

function buildModel(series, smokes) {
  const step = series.stepS;
  const fromS = Date.parse(series.from) / 1000;
  const toS = Date.parse(series.to) / 1000;
  const t = [];
  for (let x = binStart(fromS, step); x < toS; x += step) t.push(x);
  const columns = [t];
  const column = () => {
    const c = t.map(() => null);
    columns.push(c);
    return c;
  };
  const place = (target, times, values) => {
    times.forEach((x, k) => {
      const i = (x - t[0]) / step;
      if (i >= 0 && i < t.length) target[i] = values[k];
    });
  };
  const availability = { cycles: column(), down: column() };
  place(availability.cycles, series.availability.t, series.availability.cycles);
  place(availability.down, series.availability.t, series.availability.downCycles);
  const sources = series.sources.map((s, si) => {
    const kind = KINDS[kindOf(s.source)];
    const source = { uri: s.source, kind, phases: phasesOf(s.source), live: new Map() };
    for (const name of [...SOURCE_COLUMNS, ...SMOKE_COLUMNS]) source[name] = column();
    const field = (name) => (name === 'loss' ? 'lossPct' : MEASURED.includes(name) ? `${name}Ms` : name);
    for (const name of SOURCE_COLUMNS) place(source[name], s.t, s[field(name)]);
    const smoke = smokes[si];
    for (const name of SMOKE_COLUMNS) place(source[name], smoke.t, smoke[`${name}Ms`]);
    return source;
  });
  return {
    step,
    rangeS: RANGES[app.range].seconds,
    toS,
    viewTo: toS,
    t,
    columns,
    availability,
    sources,
    bySource: new Map(sources.map((s) => [s.uri, s])),
    merged: new Set(),
    column,
  };
}

/** Folds a live cycle into the grid: exact for steps only seen live, weighted into a fetched step. */
function mergeCycle(cycle, redraw = true) {
  const m = app.model;
  const ts = Date.parse(cycle.ts) / 1000;
  if (!m || ts < m.toS || m.merged.has(cycle.probe_id)) return;
  m.merged.add(cycle.probe_id);
  const x = binStart(ts, m.step);
  while (m.t.length === 0 || m.t[m.t.length - 1] < x) {
    const next = m.t.length === 0 ? x : m.t[m.t.length - 1] + m.step;
    for (const c of m.columns) c.push(c === m.t ? next : null);
  }
  const i = (x - m.t[0]) / m.step;
  if (i < 0) return;
  m.availability.cycles[i] = (m.availability.cycles[i] ?? 0) + 1;
  m.availability.down[i] = (m.availability.down[i] ?? 0) + (cycle.state === 'DOWN' ? 1 : 0);
  for (const result of cycle.sources) {
    const source = m.bySource.get(result.source);
    if (!source) continue;
    let acc = source.live.get(x);
    if (!acc) {
      acc = seed(source, i);
      source.live.set(x, acc);
    }
    acc.probes += 1;
    acc.failed += result.disconnected ? 1 : 0;
    for (const phase of MEASURED) {
      const v = result.phases[phase] ?? null;
      if (v === null) continue;
      acc.sum[phase] += v;
      acc.n[phase] += 1;
    }
    // The phase the smoke of this source was fetched for, so the live edge draws the same distribution.
    const sample = result.phases[source.kind.smoke] ?? null;
    if (sample !== null) {
      if (acc.samples) acc.samples.push(sample);
      acc.lo = Math.min(acc.lo, sample);
      acc.hi = Math.max(acc.hi, sample);
    }
    write(source, i, acc);
  }
  m.viewTo = Math.max(m.viewTo, ts + app.intervalS);
  const cut = m.t.findIndex((start) => start + m.step > m.viewTo - m.rangeS);
  if (cut > 0) for (const c of m.columns) c.splice(0, cut);
  if (redraw) scheduleRedraw();
}

/** A step's sums to add live cycles to: empty, or the fetched step weighted by its probes. */
function seed(source, i) {
  const zero = () => Object.fromEntries(MEASURED.map((p) => [p, 0]));
  const probes = source.probes[i];
  if (probes === null)
    return { probes: 0, failed: 0, sum: zero(), n: zero(), samples: [], lo: Infinity, hi: -Infinity };
  const acc = { probes, failed: source.failed[i] ?? 0, sum: zero(), n: zero(), samples: null };
  for (const phase of MEASURED) {
    if (source[phase][i] === null) continue;
    acc.sum[phase] = source[phase][i] * probes;
    acc.n[phase] = probes;
  }
  acc.lo = source.min[i] ?? Infinity;
  acc.hi = source.max[i] ?? -Infinity;
  return acc;
}

function write(source, i, acc) {
  source.probes[i] = acc.probes;
  source.failed[i] = acc.failed;
  source.loss[i] = (100 * acc.failed) / acc.probes;
  for (const phase of MEASURED) source[phase][i] = acc.n[phase] ? acc.sum[phase] / acc.n[phase] : null;
  if (acc.samples) {
    const sorted = [...acc.samples].sort((a, b) => a - b);
    const rank = (q) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? null;
    source.min[i] = sorted[0] ?? null;
    source.p10[i] = rank(0.1);
    source.p25[i] = rank(0.25);
    source.median[i] = rank(0.5);
    source.p75[i] = rank(0.75);
    source.p90[i] = rank(0.9);
    source.max[i] = sorted[sorted.length - 1] ?? null;
  } else if (Number.isFinite(acc.lo)) {
    source.min[i] = acc.lo;
    source.max[i] = acc.hi;
  }
}

// ---------------------------------------------------------------------------------------------------
// Charts (uPlot)

function colors() {
  const style = getComputedStyle(document.documentElement);
  const v = (name) => style.getPropertyValue(name).trim();
  return {
    text: v('--muted'),
    grid: v('--grid'),
    dns: v('--c-dns'),
    connect: v('--c-connect'),
    tls: v('--c-tls'),
    wait: v('--c-wait'),
    down: v('--down'),
    downFill: v('--c-down'),
    smoke: [v('--c-smoke1'), v('--c-smoke2'), v('--c-smoke3')],
    median: v('--c-median'),
    series: v('--c-series')
      .split(',')
      .map((c) => c.trim()),
  };
}

function translucent(hex, alpha) {
  const n = Number.parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

function chartHeight() {
  return window.innerWidth < 600 ? 150 : 190;
}

/** The kind of a source, from its scheme: http(s), icmp, tcp or dns. */
function kindOf(uri) {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1]?.toLowerCase();
  return scheme === 'icmp' || scheme === 'tcp' || scheme === 'dns' ? scheme : 'http';
}

/**
 * The layers a source's phase chart stacks, from its kind: no DNS for an address literal (nor for
 * icmp://gateway, read from the routing table), no TLS without https.
 */
function phasesOf(uri) {
  const kind = kindOf(uri);
  let url;
  try {
    url = new URL(uri);
  } catch {
    return KINDS[kind].layers;
  }
  const literal = /^[\d.]+$|^\[/.test(url.hostname) || (kind === 'icmp' && url.hostname === 'gateway');
  return KINDS[kind].layers.filter(
    (p) => !(p === 'dns' && literal) && !(p === 'tls' && url.protocol !== 'https:'),
  );
}

/** A step with at least one probe answered: a failed probe has a total too (its time to failure). */
const answered = (s, i) => s.total[i] !== null && s.probes[i] !== null && s.failed[i] < s.probes[i];

/** Values derived from a step's means: the round trip (icmp), the answer and its query (dns), connected (tcp). */
const DERIVED = {
  rtt: (s, i) => (answered(s, i) ? s.total[i] : null),
  answer: (s, i) => (answered(s, i) ? s.total[i] : null),
  query: (s, i) => (answered(s, i) ? Math.max(0, s.total[i] - (s.dns[i] ?? 0) - (s.connect[i] ?? 0)) : null),
  connected: (s, i) => (s.connect[i] === null ? null : (s.dns[i] ?? 0) + s.connect[i]),
};

/** A source's value of `name` (a measured phase or a derived one) at step `i`. */
function phaseAt(source, name, i) {
  return Object.hasOwn(DERIVED, name) ? DERIVED[name](source, i) : source[name][i];
}

/** The column of `name` over every step. */
function columnOf(source, name) {
  return source.probes.map((_, i) => phaseAt(source, name, i));
}

/** A legend's name: host and path, the kind before it unless http(s), the query of dns:// and #ipv4/#ipv6 kept. */
function shortName(uri) {
  const kind = kindOf(uri);
  try {
    const url = new URL(uri);
    const name = url.host + (url.pathname === '/' ? '' : url.pathname) + (kind === 'dns' ? url.search : '');
    return `${kind === 'http' ? '' : `${kind} `}${name}${url.hash}`;
  } catch {
    return uri;
  }
}

function destroyCharts() {
  for (const chart of app.charts) {
    chart.observer.disconnect();
    chart.plot.destroy();
  }
  app.charts = [];
}

function makeChart(el, spec) {
  const c = spec.colors;
  const axis = {
    stroke: c.text,
    grid: { stroke: c.grid, width: 1 },
    ticks: { stroke: c.grid, width: 1 },
    font: '11px system-ui, sans-serif',
  };
  const plot = new uPlot(
    {
      width: Math.max(200, el.clientWidth),
      height: chartHeight(),
      series: [{}, ...spec.series],
      bands: spec.bands ?? [],
      legend: { show: false },
      cursor: { drag: { setScale: false, x: false, y: false }, points: { show: false } },
      padding: [10, 20, 0, 0],
      scales: {
        x: { time: true, range: () => [app.model.viewTo - app.model.rangeS, app.model.viewTo] },
        y: { range: spec.yRange },
      },
      axes: [axis, { ...axis, size: 58, values: (_u, splits) => splits.map(spec.yValue) }],
      hooks: { setCursor: [(u) => spec.readout(u.cursor.idx)] },
    },
    spec.data(),
    el,
  );
  const observer = new ResizeObserver(() => {
    const width = Math.max(200, el.clientWidth);
    if (width !== plot.width) plot.setSize({ width, height: chartHeight() });
  });
  observer.observe(el);
  const chart = { plot, observer, spec, el };
  app.charts.push(chart);
  refreshChart(chart);
  return chart;
}

function refreshChart(chart) {
  const data = chart.spec.data();
  chart.plot.setData(data);
  const points = data[1].filter((v) => v !== null && v !== undefined).length;
  chart.el.dataset.points = String(points);
  chart.el.setAttribute('aria-label', chart.spec.describe());
  chart.spec.readout(null);
}

function scheduleRedraw() {
  if (app.redrawPending) return;
  app.redrawPending = true;
  requestAnimationFrame(() => {
    app.redrawPending = false;
    if (document.hidden) return;
    for (const chart of app.charts) refreshChart(chart);
    renderSourceMeta();
  });
}

/** The latest step with data at or before `idx` (the cursor), for the readouts. */
function lastIndex(column, idx) {
  for (let i = idx ?? column.length - 1; i >= 0; i--)
    if (column[i] !== null && column[i] !== undefined) return i;
  return -1;
}

function readout(el, parts) {
  el.replaceChildren(
    ...parts.flatMap(([color, text]) => {
      if (!color) return [document.createTextNode(text)];
      const sw = span('sw', '');
      sw.style.background = color;
      sw.setAttribute('aria-hidden', 'true');
      return [sw, document.createTextNode(text)];
    }),
  );
}

/** The value `q` of the way up a column's sorted values (0 without values): robust to a lone outlier. */
function quantileOf(column, q) {
  const values = column.filter((v) => v !== null).sort((a, b) => a - b);
  return values.length === 0 ? 0 : values[Math.min(values.length - 1, Math.floor(q * values.length))];
}

/** Draws the charts of the model; a refetch of the same range and sources only replaces their data. */
function drawCharts() {
  const m = app.model;
  const layout = `${m.step} ${m.rangeS} ${m.sources.map((s) => s.uri).join(' ')}`;
  if (layout === app.layout && app.charts.length > 0) {
    for (const chart of app.charts) refreshChart(chart);
    renderSourceMeta();
    return;
  }
  app.layout = layout;
  destroyCharts();
  const c = colors();
  const stepName = fmtStep(m.step);
  for (const el of $$('.step-name')) el.textContent = stepName;
  lossChart(c, stepName);
  const container = $('#sources');
  container.replaceChildren();
  m.sources.forEach((source, k) => {
    const card = $('#source-template').content.firstElementChild.cloneNode(true);
    card.dataset.source = source.uri;
    $('.source-name', card).textContent = source.uri;
    $('.smoke-title', card).textContent = source.kind.smokeTitle;
    for (const el of $$('.step-name', card)) el.textContent = stepName;
    container.append(card);
    phaseChart(card, k, c);
    smokeChart(card, k, c);
  });
  renderSourceMeta();
}

/** Loss of each source and the share of DOWN cycles, per step. */
function lossChart(c, stepName) {
  const stepped = uPlot.paths.stepped({ align: 1 });
  const data = () => {
    const m = app.model;
    const down = m.availability.cycles.map((n, i) => (n ? (100 * (m.availability.down[i] ?? 0)) / n : null));
    return [m.t, down, ...m.sources.map((s) => s.loss)];
  };
  const el = $('#loss-readout');
  makeChart($('#loss-plot'), {
    colors: c,
    series: [
      { label: 'DOWN', stroke: c.down, fill: c.downFill, width: 1, paths: stepped, points: { show: false } },
      ...app.model.sources.map((s, k) => ({
        label: shortName(s.uri),
        stroke: c.series[k % c.series.length],
        width: 1.5,
        paths: stepped,
        points: { show: false },
      })),
    ],
    yRange: () => [0, 100],
    yValue: (v) => `${v} %`,
    data,
    describe: () => `Loss per source and DOWN cycles, per ${stepName}, last ${RANGES[app.range].label}`,
    readout: (idx) => {
      const [t, down, ...loss] = data();
      const i = lastIndex(down, idx);
      if (i < 0) return readout(el, [[null, 'No cycle in this range yet.']]);
      readout(el, [
        [null, `${fmtTime(t[i] * 1000)} · `],
        [c.down, `DOWN ${fmtPct(down[i])} of cycles`],
        ...app.model.sources.map((s, k) => [
          c.series[k % c.series.length],
          `${shortName(s.uri)} loss ${fmtPct(loss[k][i])}`,
        ]),
      ]);
    },
  });
}

/**
 * Mean phases per step, stacked, so the top edge is the time the kind is about: DNS, connect, TLS and
 * wait up to the first byte (http), DNS and the round trip (icmp), DNS and the handshake (tcp), DNS, a TCP
 * connection and the query up to the answer (dns).
 */
function phaseChart(card, k, c) {
  const at = () => app.model.sources[k];
  const { phases, kind } = at();
  const occasional = OCCASIONAL[kindOf(at().uri)] ?? [];
  const stack = () => {
    const source = at();
    const sums = phases.map(() => []);
    source.probes.forEach((_, i) => {
      const values = phases.map((p) => phaseAt(source, p, i));
      let total = 0;
      values.forEach((v, n) => {
        total += v ?? 0;
        sums[n].push(values.every((x) => x === null) ? null : total);
      });
    });
    return sums;
  };
  const color = (p) => c[PHASE_COLOR[p]];
  // The top's value, unless it is the last layer itself (icmp: the round trip).
  const tail = (source, i) =>
    kind.top === phases[phases.length - 1]
      ? []
      : [[null, ` · ${kind.topLabel} ${fmtMs(phaseAt(source, kind.top, i))}`]];
  const shownAt = (source, i) =>
    phases.filter((p) => !occasional.includes(p) || phaseAt(source, p, i) !== null);
  const el = $('.phases-readout', card);
  makeChart($('.plot.phases', card), {
    colors: c,
    series: phases.map((p, n) => ({
      label: PHASE_LABEL[p],
      stroke: color(p),
      width: 1,
      fill: n === 0 ? translucent(color(p), 0.6) : undefined,
      points: { show: false },
    })),
    bands: phases.slice(1).map((p, n) => ({ series: [n + 2, n + 1], fill: translucent(color(p), 0.6) })),
    yRange: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1],
    yValue: fmtAxisMs,
    data: () => [app.model.t, ...stack()],
    describe: () => {
      const source = at();
      const i = lastIndex(columnOf(source, kind.top), null);
      return i < 0
        ? `Phases of ${source.uri}: no response in this range`
        : `Phases of ${source.uri}, mean per step; latest: ${shownAt(source, i)
            .map((p) => `${PHASE_LABEL[p]} ${fmtMs(phaseAt(source, p, i))}`)
            .join(', ')}`;
    },
    readout: (idx) => {
      const source = at();
      const i = lastIndex(columnOf(source, kind.top), idx);
      if (i < 0) return readout(el, [[null, 'No response in this range.']]);
      readout(el, [
        [null, `${fmtTime(app.model.t[i] * 1000)} · `],
        ...shownAt(source, i).map((p) => [color(p), `${PHASE_LABEL[p]} ${fmtMs(phaseAt(source, p, i))}`]),
        ...tail(source, i),
      ]);
    },
  });
}

/**
 * SmokePing's picture: per step the min–max, 10–90 % and 25–75 % bands of the source's smoke phase (the
 * time to first byte, the round trip, the handshake, the time to the answer) and its median.
 */
function smokeChart(card, k, c) {
  const at = () => app.model.sources[k];
  const title = at().kind.smokeTitle;
  const edge = (label) => ({ label, stroke: 'transparent', width: 0, points: { show: false } });
  const el = $('.smoke-readout', card);
  makeChart($('.plot.smoke', card), {
    colors: c,
    series: [
      edge('min'),
      edge('max'),
      edge('p10'),
      edge('p90'),
      edge('p25'),
      edge('p75'),
      { label: 'median', stroke: c.median, width: 1.5, points: { show: false } },
    ],
    bands: [
      { series: [2, 1], fill: c.smoke[0] },
      { series: [4, 3], fill: c.smoke[1] },
      { series: [6, 5], fill: c.smoke[2] },
    ],
    // Up to half again the steps' usual 90th percentile: one slow step must not flatten the smoke.
    yRange: (_u, _min, max) => {
      const source = at();
      const top = Math.min(
        max,
        Math.max(quantileOf(source.p90, 0.98) * 1.5, quantileOf(source.median, 1) * 1.1),
      );
      return [0, top > 0 ? top * 1.05 : 1];
    },
    yValue: fmtAxisMs,
    data: () => {
      const s = at();
      return [app.model.t, s.min, s.max, s.p10, s.p90, s.p25, s.p75, s.median];
    },
    describe: () => {
      const source = at();
      const i = lastIndex(source.median, null);
      return i < 0
        ? `${title} of ${source.uri}: no response in this range`
        : `${title} of ${source.uri} per step: latest median ${fmtMs(source.median[i])}, 10–90 % ${fmtMs(source.p10[i])} to ${fmtMs(source.p90[i])}`;
    },
    readout: (idx) => {
      const source = at();
      const i = lastIndex(source.median, idx);
      if (i < 0) return readout(el, [[null, 'No response in this range.']]);
      readout(el, [
        [null, `${fmtTime(app.model.t[i] * 1000)} · `],
        [c.median, `median ${fmtMs(source.median[i])}`],
        [c.smoke[2], `25–75 % ${fmtMs(source.p25[i])}–${fmtMs(source.p75[i])}`],
        [c.smoke[1], `10–90 % ${fmtMs(source.p10[i])}–${fmtMs(source.p90[i])}`],
        [c.smoke[0], `min–max ${fmtMs(source.min[i])}–${fmtMs(source.max[i])}`],
      ]);
    },
  });
}

/** Probes and loss of each source over the range: sums of the steps' counts. */
function renderSourceMeta() {
  for (const source of app.model?.sources ?? []) {
    const card = $$('#sources .source').find((el) => el.dataset.source === source.uri);
    if (!card) continue;
    const probes = source.probes.reduce((a, v) => a + (v ?? 0), 0);
    const failed = source.failed.reduce((a, v) => a + (v ?? 0), 0);
    $('.source-meta', card).textContent =
      probes === 0
        ? 'No probe in this range.'
        : `${fmtCount(probes)} probes · ${fmtCount(failed)} without a response (loss ${fmtPct((100 * failed) / probes)})`;
  }
}

// ---------------------------------------------------------------------------------------------------
// Range picker, timers, start

function readRange() {
  const match = /^#range=(\w+)$/.exec(location.hash);
  return match && Object.hasOwn(RANGES, match[1]) ? match[1] : '1h';
}

function showRange() {
  for (const button of $$('.ranges button'))
    button.setAttribute('aria-pressed', String(button.dataset.range === app.range));
  for (const el of $$('.range-name')) el.textContent = RANGES[app.range].label;
}

function selectRange(range) {
  if (range === app.range || !Object.hasOwn(RANGES, range)) return;
  app.range = range;
  history.replaceState(null, '', `#range=${range}`);
  showRange();
  attempt('the charts', loadCharts);
  attempt('the outages', refreshOutages);
  attempt('the uptime', refreshSummaries);
}

function refreshAll() {
  attempt('the state', refreshState);
  attempt('the uptime', refreshSummaries);
  attempt('the outages', refreshOutages);
  attempt('the charts', loadCharts);
}

function start() {
  showRange();
  for (const button of $$('.ranges button'))
    button.addEventListener('click', () => selectRange(button.dataset.range));
  window.addEventListener('hashchange', () => selectRange(readRange()));
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    app.layout = '';
    if (app.model) drawCharts();
  });
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) refreshAll();
  });
  connectLive();
  refreshAll();
  setInterval(() => {
    renderState();
    tickOutages();
  }, 1_000);
  setInterval(() => {
    if (document.hidden) return;
    attempt('the state', refreshState);
    attempt('the uptime', refreshSummaries);
    attempt('the outages', refreshOutages);
  }, SUMMARY_EVERY_MS);
  setInterval(() => {
    if (!document.hidden) attempt('the charts', loadCharts);
  }, CHARTS_EVERY_MS);
}

start();
