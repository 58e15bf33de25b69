/**
 * A known dataset for the SLA tests: three hours of two agents at 1 Hz with outages, gaps, partial
 * failures and latencies chosen so every figure can be worked out by hand. The expectations below are
 * written out, not computed by the code under test, and the rows are generated from the same plan.
 *
 * Agent `home` (2 sources), from SEED_FROM (2026-10-01 00:00:00 UTC) for 3 h:
 *   00:10:00  3 s DOWN, every source `dns`                           → outage in 1–5 s
 *   00:30:00  12 s DOWN, source a `timeout`, source b `refused`       → outage in 5–30 s
 *   00:45:00  30 s source b `timeout` only (partial: loss, not DOWN)
 *   01:00:30  90 s DOWN `timeout` (spans two minute boundaries)       → outage in 30 s–5 min
 *   01:30:00  300 s missing (agent stopped while UP)                 → unknown, not up nor down
 *   02:00:00  400 s of DOWN `unreachable`, of which 02:03:00–02:03:20 missing (agent restarted during
 *             the outage): one outage of 400 s with 20 s unknown, 380 DOWN cycles → > 5 min
 * Agent `office` (1 source), same hours: one 5 s DOWN at 00:20:00 (`refused`) → 5–30 s.
 *
 * Latencies (ms) of an UP probe at unix second p: dns 1 + (p mod 3), connect 5 + (p mod 5),
 * tls 10 + (p mod 7) on https only, ttfb 30 + (p mod 50), total ttfb + 5. A failed probe has dns only
 * when it failed after name resolution, and total = the timeout (1500) or 2 ms for instant failures.
 */
import type pg from 'pg';

export const SEED_FROM = new Date('2026-10-01T00:00:00Z');
export const SEED_HOURS = 3;
export const SEED_TO = new Date(SEED_FROM.getTime() + SEED_HOURS * 3_600_000);
export const SOURCE_A = 'https://a.example/favicon.ico';
export const SOURCE_B = 'http://b.example/favicon.ico';
export const SOURCE_OFFICE = 'https://office.example/';

type ErrorClass = 'dns' | 'timeout' | 'refused' | 'unreachable';
type Layer = 'lan' | 'isp' | 'dns' | 'internet' | 'service';
type Diagnosis = 'ok' | 'lan' | 'isp' | 'dns' | 'partial' | 'ipv6' | 'down';

/** One stretch of the plan, as seconds from SEED_FROM. */
interface Stretch {
  readonly at: number;
  readonly seconds: number;
  /** Per source, the failure class it has during the stretch (a missing source is UP). */
  readonly fail?: Readonly<Record<string, ErrorClass>>;
  readonly missing?: true;
}

const hms = (h: number, m: number, s: number) => h * 3600 + m * 60 + s;

export const PLAN: Readonly<Record<string, { sources: readonly string[]; stretches: readonly Stretch[] }>> = {
  home: {
    sources: [SOURCE_A, SOURCE_B],
    stretches: [
      { at: hms(0, 10, 0), seconds: 3, fail: { [SOURCE_A]: 'dns', [SOURCE_B]: 'dns' } },
      { at: hms(0, 30, 0), seconds: 12, fail: { [SOURCE_A]: 'timeout', [SOURCE_B]: 'refused' } },
      { at: hms(0, 45, 0), seconds: 30, fail: { [SOURCE_B]: 'timeout' } },
      { at: hms(1, 0, 30), seconds: 90, fail: { [SOURCE_A]: 'timeout', [SOURCE_B]: 'timeout' } },
      { at: hms(1, 30, 0), seconds: 300, missing: true },
      { at: hms(2, 0, 0), seconds: 180, fail: { [SOURCE_A]: 'unreachable', [SOURCE_B]: 'unreachable' } },
      { at: hms(2, 3, 0), seconds: 20, missing: true },
      { at: hms(2, 3, 20), seconds: 200, fail: { [SOURCE_A]: 'unreachable', [SOURCE_B]: 'unreachable' } },
    ],
  },
  office: {
    sources: [SOURCE_OFFICE],
    stretches: [{ at: hms(0, 20, 0), seconds: 5, fail: { [SOURCE_OFFICE]: 'refused' } }],
  },
};

/** What the SLA definitions must answer for the whole seeded range, worked out by hand from PLAN. */
export const EXPECTED = {
  home: {
    rangeS: 10_800,
    cycles: 10_800 - 300 - 20,
    downCycles: 3 + 12 + 90 + 380,
    coveredS: 10_480,
    outages: [
      { start: '2026-10-01T00:10:00Z', end: '2026-10-01T00:10:03Z', cycles: 3, unknownS: 0, errors: ['dns'] },
      {
        start: '2026-10-01T00:30:00Z',
        end: '2026-10-01T00:30:12Z',
        cycles: 12,
        unknownS: 0,
        errors: ['refused', 'timeout'],
      },
      {
        start: '2026-10-01T01:00:30Z',
        end: '2026-10-01T01:02:00Z',
        cycles: 90,
        unknownS: 0,
        errors: ['timeout'],
      },
      {
        start: '2026-10-01T02:00:00Z',
        end: '2026-10-01T02:06:40Z',
        cycles: 380,
        unknownS: 20,
        errors: ['unreachable'],
      },
    ],
    buckets: { '1-5 s': 1, '5-30 s': 1, '30 s-5 min': 1, '> 5 min': 1 },
    /** Failed probes per source: every DOWN cycle, plus source b's 30 s partial failure. */
    failed: { [SOURCE_A]: 485, [SOURCE_B]: 515 },
  },
  office: {
    cycles: 10_800,
    downCycles: 5,
    outages: [
      {
        start: '2026-10-01T00:20:00Z',
        end: '2026-10-01T00:20:05Z',
        cycles: 5,
        unknownS: 0,
        errors: ['refused'],
      },
    ],
  },
} as const;

/** One raw row of the seed, with the column names of favicon_metrics (migration 003's columns optional). */
export interface SeedRow {
  readonly ts: Date;
  readonly probe_id: number;
  readonly agent: string;
  readonly source: string;
  readonly dns_ms: number | null;
  readonly connect_ms: number | null;
  readonly tls_ms: number | null;
  readonly ttfb_ms: number | null;
  readonly total_ms: number;
  readonly status: number | null;
  readonly disconnected: boolean;
  readonly error: ErrorClass | null;
  readonly layer?: Layer | null;
  readonly diagnosis?: Diagnosis | null;
  readonly cert_expiry?: Date | null;
}

/** Every row of the plan, cycle by cycle in time order. */
export function seedRows(agent: string): SeedRow[] {
  const plan = PLAN[agent];
  if (!plan) throw new Error(`no seed plan for agent ${agent}`);
  const rows: SeedRow[] = [];
  const first = SEED_FROM.getTime() / 1000;
  for (let offset = 0; offset < SEED_HOURS * 3600; offset++) {
    const stretch = plan.stretches.find((s) => offset >= s.at && offset < s.at + s.seconds);
    if (stretch?.missing) continue;
    const p = first + offset;
    for (const source of plan.sources) rows.push(row(agent, source, p, stretch?.fail?.[source] ?? null));
  }
  return rows;
}

function row(agent: string, source: string, p: number, error: ErrorClass | null): SeedRow {
  const ts = new Date(p * 1000);
  const https = source.startsWith('https:');
  if (error === null) {
    const ttfb = 30 + (p % 50);
    return {
      ts,
      probe_id: p,
      agent,
      source,
      dns_ms: 1 + (p % 3),
      connect_ms: 5 + (p % 5),
      tls_ms: https ? 10 + (p % 7) : null,
      ttfb_ms: ttfb,
      total_ms: ttfb + 5,
      status: 200,
      disconnected: false,
      error: null,
    };
  }
  const resolved = error !== 'dns';
  return {
    ts,
    probe_id: p,
    agent,
    source,
    dns_ms: resolved ? 1 + (p % 3) : null,
    connect_ms: null,
    tls_ms: null,
    ttfb_ms: null,
    total_ms: error === 'timeout' ? 1500 : 2,
    status: null,
    disconnected: true,
    error,
  };
}

const COLUMNS = [
  'ts',
  'probe_id',
  'agent',
  'source',
  'dns_ms',
  'connect_ms',
  'tls_ms',
  'ttfb_ms',
  'total_ms',
  'status',
  'disconnected',
  'error',
  'layer',
  'diagnosis',
  'cert_expiry',
] as const;
const TYPES = [
  'timestamptz',
  'bigint',
  'text',
  'text',
  'float8',
  'float8',
  'float8',
  'float8',
  'float8',
  'int',
  'bool',
  'text',
  'text',
  'text',
  'timestamptz',
];

/** Inserts rows as the agent does (one INSERT … ON CONFLICT DO NOTHING per batch of cycles). */
export async function insertRows(client: pg.ClientBase, rows: readonly SeedRow[]): Promise<void> {
  const unnest = TYPES.map((type, i) => `$${i + 1}::${type}[]`).join(', ');
  const sql = `INSERT INTO favicon_metrics (${COLUMNS.join(', ')}) SELECT * FROM unnest(${unnest}) ON CONFLICT DO NOTHING`;
  const batch = 3_000;
  for (let i = 0; i < rows.length; i += batch) {
    const slice = rows.slice(i, i + batch);
    await client.query(
      sql,
      COLUMNS.map((column) => slice.map((r) => r[column] ?? null)),
    );
  }
}

/**
 * Loads the whole seed into a migrated database: both agents registered at 1 s, then their rows.
 * The database must have wmn's schema (run the store's migrate first).
 */
export async function seedDataset(client: pg.ClientBase): Promise<void> {
  for (const [agent, plan] of Object.entries(PLAN)) {
    await client.query(
      'INSERT INTO wmn_agents (agent, interval_s, sources) VALUES ($1, 1, $2) ON CONFLICT (agent) DO NOTHING',
      [agent, plan.sources],
    );
    await insertRows(client, seedRows(agent));
  }
}

// --- localisation: layers, diagnoses and certificates (migration 003) ----------------------------------

/**
 * Agent `lab`, one hour at 1 Hz a day after the seed (so no figure of `home` or `office` over the seed's
 * range moves), probing the gateway (layer lan), an anchor by address (internet) and two https sites
 * (service), every row with its layer and its cycle's diagnosis as the agent writes them, worked out by
 * hand (src/diagnosis/diagnose.ts states the rules):
 *
 *   00:05:00  60 s  the gateway answers, nothing beyond it does       → DOWN, isp: an outage
 *   00:20:00  30 s  nothing answers, the gateway included             → DOWN, lan: an outage
 *   00:40:00  20 s  both sites fail to resolve, the anchor answers    → UP, dns
 *   00:50:00  10 s  far.example refuses                               → UP, partial
 *   otherwise every source answers                                    → UP, ok
 *
 * A site that answers carries its certificate's expiry: lab.example's 10 days after `now`, far.example's
 * 200 days after (wmn_cert_expiry counts days from the database's clock, so the seed follows it).
 */
export const LAB_AGENT = 'lab';
export const LAB_FROM = new Date('2026-10-02T00:00:00Z');
export const LAB_TO = new Date(LAB_FROM.getTime() + 3_600_000);
export const LAB_GATEWAY = 'icmp://gateway';
export const LAB_ANCHOR = 'icmp://1.1.1.1';
export const LAB_SITE = 'https://lab.example/';
export const LAB_FAR = 'https://far.example/';
export const LAB_SOURCES = [LAB_GATEWAY, LAB_ANCHOR, LAB_SITE, LAB_FAR] as const;
/** Days from `now` to each site's certificate expiry. */
export const LAB_CERT_DAYS: Readonly<Record<string, number>> = { [LAB_SITE]: 10, [LAB_FAR]: 200 };

export const LAB_LAYERS: Readonly<Record<string, Layer>> = {
  [LAB_GATEWAY]: 'lan',
  [LAB_ANCHOR]: 'internet',
  [LAB_SITE]: 'service',
  [LAB_FAR]: 'service',
};

const LAB_STRETCHES: readonly (Stretch & { readonly diagnosis: Diagnosis })[] = [
  {
    at: hms(0, 5, 0),
    seconds: 60,
    diagnosis: 'isp',
    fail: { [LAB_ANCHOR]: 'timeout', [LAB_SITE]: 'timeout', [LAB_FAR]: 'timeout' },
  },
  {
    at: hms(0, 20, 0),
    seconds: 30,
    diagnosis: 'lan',
    fail: {
      [LAB_GATEWAY]: 'timeout',
      [LAB_ANCHOR]: 'unreachable',
      [LAB_SITE]: 'unreachable',
      [LAB_FAR]: 'unreachable',
    },
  },
  { at: hms(0, 40, 0), seconds: 20, diagnosis: 'dns', fail: { [LAB_SITE]: 'dns', [LAB_FAR]: 'dns' } },
  { at: hms(0, 50, 0), seconds: 10, diagnosis: 'partial', fail: { [LAB_FAR]: 'refused' } },
];

/** What the localisation must answer for `lab` over [LAB_FROM, LAB_TO), worked out by hand. */
export const LAB_EXPECTED = {
  cycles: 3600,
  downCycles: 60 + 30,
  outages: [
    {
      start: '2026-10-02T00:05:00Z',
      end: '2026-10-02T00:06:00Z',
      cycles: 60,
      kind: 'isp',
      // The evidence nearest first: the anchor by address, then the named sites (by URI).
      text: 'ISP (gateway answered, 1.1.1.1, far.example and lab.example did not)',
    },
    {
      start: '2026-10-02T00:20:00Z',
      end: '2026-10-02T00:20:30Z',
      cycles: 30,
      kind: 'lan',
      text: 'LAN (gateway did not answer)',
    },
  ],
  /** The cycles not diagnosed `ok`: seconds from LAB_FROM. */
  diagnosed: LAB_STRETCHES.map(({ at, seconds, diagnosis }) => ({ at, seconds, diagnosis })),
} as const;

/** Every row of lab's hour, cycle by cycle in time order; `now` dates the certificates. */
export function labRows(now: Date): SeedRow[] {
  const rows: SeedRow[] = [];
  const first = LAB_FROM.getTime() / 1000;
  for (let offset = 0; offset < 3600; offset++) {
    const stretch = LAB_STRETCHES.find((s) => offset >= s.at && offset < s.at + s.seconds);
    const p = first + offset;
    for (const source of LAB_SOURCES) {
      const base = row(LAB_AGENT, source, p, stretch?.fail?.[source] ?? null);
      const days = LAB_CERT_DAYS[source];
      const icmp = source.startsWith('icmp:');
      rows.push({
        ...base,
        ...(icmp ? { dns_ms: null, connect_ms: null, tls_ms: null, ttfb_ms: null, status: null } : {}),
        layer: LAB_LAYERS[source] ?? null,
        diagnosis: stretch?.diagnosis ?? 'ok',
        cert_expiry:
          days !== undefined && !base.disconnected ? new Date(now.getTime() + days * 86_400_000) : null,
      });
    }
  }
  return rows;
}

/** Loads agent `lab` (registered at 1 s with its sources, then its rows) into a migrated database. */
export async function seedLab(client: pg.ClientBase, now = new Date()): Promise<void> {
  await client.query(
    'INSERT INTO wmn_agents (agent, interval_s, sources) VALUES ($1, 1, $2) ON CONFLICT (agent) DO NOTHING',
    [LAB_AGENT, LAB_SOURCES],
  );
  await insertRows(client, labRows(now));
}
