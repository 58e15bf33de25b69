/**
 * Grafana (deploy/grafana): the provisioning files and both dashboards.
 *
 * Without a Grafana server, the next best proof: every panel query and every variable query, expanded
 * the way Grafana expands them (test/helpers/grafana-macros.ts, checked here against Grafana's own test
 * cases), runs on the machine's real PostgreSQL as a read-only role set up by deploy/sql/roles.sql,
 * over the seeded dataset (test/helpers/seed.ts), on ranges that read single cycles, minute rollups and
 * hour rollups; returns the columns its panel's options name; and, for the key panels, exactly the
 * hand-worked figures, where each outage broke and the certificates of agent lab (layers, diagnoses and
 * certificate expiry, migration 003) included. An empty database must not break any panel, and a 90-day view must give the
 * same answers after every raw row is gone (it reads rollups only). The JSON is checked against a
 * schema of the parts of Grafana's dashboard model the dashboards use.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { describe, it, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import type pg from 'pg';
import YAML from 'yaml';
import { z } from 'zod';
import { DIAGNOSES } from '../src/diagnosis/diagnose.js';
import { MIGRATIONS_DIR, runMigrations } from '../src/store/migrate.js';
import { TEST_PG_URL } from './helpers/env.js';
import {
  ALL,
  BUILTIN_VARIABLES,
  calculateInterval,
  expandQuery,
  formatGoFloat,
  formatRFC3339Nano,
  interpolateGlobal,
  interpolateMacros,
  parseGoInterval,
  replaceVariables,
  secondsToHms,
  type TemplateVariable,
  type TimeRange,
} from './helpers/grafana-macros.js';
import { withClient, withTestDatabase } from './helpers/pg.js';
import {
  EXPECTED,
  insertRows,
  LAB_AGENT,
  LAB_ANCHOR,
  LAB_CERT_DAYS,
  LAB_EXPECTED,
  LAB_FAR,
  LAB_FROM,
  LAB_LAYERS,
  LAB_SITE,
  LAB_SOURCES,
  LAB_TO,
  SEED_FROM,
  SEED_TO,
  type SeedRow,
  SOURCE_A,
  SOURCE_B,
  seedDataset,
  seedLab,
  seedRows,
} from './helpers/seed.js';

const GRAFANA_DIR = new URL('../deploy/grafana/', import.meta.url);
const DASHBOARDS_DIR = new URL('dashboards/', GRAFANA_DIR);
const ROLES_SQL = new URL('../deploy/sql/roles.sql', import.meta.url).pathname;
const HAS_PSQL = spawnSync('psql', ['--version']).status === 0;
const DS_UID = 'wmn-postgres';
const DS_TYPE = 'grafana-postgresql-datasource';
/** The panels of the "Raw (classic)" row: the seed's own queries, or written the way it wrote them. */
const CLASSIC = /\(classic( macros)?\)$/;

// --- the parts of Grafana's dashboard model the dashboards use ---------------------------------------

const DatasourceRef = z.strictObject({ type: z.literal(DS_TYPE), uid: z.literal(DS_UID) });
const GridPos = z.strictObject({
  h: z.int().min(1),
  w: z.int().min(1).max(24),
  x: z.int().min(0).max(23),
  y: z.int().min(0),
});
const Target = z.strictObject({
  datasource: DatasourceRef,
  editorMode: z.literal('code'),
  format: z.enum(['table', 'time_series']),
  rawQuery: z.literal(true),
  rawSql: z.string().min(1),
  refId: z.string().regex(/^[A-Z]$/),
});
const ValueMapping = z.strictObject({
  type: z.literal('value'),
  options: z.record(
    z.string(),
    z.strictObject({ color: z.string().optional(), index: z.int(), text: z.string().optional() }),
  ),
});
const Thresholds = z.strictObject({
  mode: z.enum(['absolute', 'percentage']),
  steps: z.array(z.strictObject({ color: z.string(), value: z.number().nullable() })).min(1),
});
const FieldDefaults = z.object({
  unit: z.string().optional(),
  decimals: z.int().min(0).optional(),
  min: z.number().optional(),
  max: z.number().optional(),
  displayName: z.string().optional(),
  mappings: z.array(ValueMapping).optional(),
  thresholds: Thresholds.optional(),
  color: z
    .object({ mode: z.enum(['thresholds', 'palette-classic', 'fixed']), fixedColor: z.string().optional() })
    .optional(),
  custom: z.record(z.string(), z.unknown()).optional(),
});
const Override = z.strictObject({
  matcher: z.strictObject({ id: z.enum(['byName', 'byRegexp']), options: z.string().min(1) }),
  properties: z.array(z.strictObject({ id: z.string().min(1), value: z.unknown() })).min(1),
});
const FieldConfig = z.strictObject({ defaults: FieldDefaults, overrides: z.array(Override) });
const ReduceOptions = z.object({
  calcs: z.array(z.string()).min(1),
  fields: z.string(),
  values: z.boolean(),
  limit: z.int().optional(),
});
const Legend = z.object({
  calcs: z.array(z.string()),
  displayMode: z.enum(['list', 'table', 'hidden']),
  placement: z.enum(['bottom', 'right']),
  showLegend: z.boolean(),
});
const Tooltip = z.object({
  mode: z.enum(['single', 'multi', 'none']),
  sort: z.enum(['none', 'asc', 'desc']),
});
const panelBase = {
  id: z.int().positive(),
  title: z.string().min(1),
  description: z.string().min(1),
  datasource: DatasourceRef,
  gridPos: GridPos,
  fieldConfig: FieldConfig,
  targets: z.array(Target).min(1),
  repeat: z.string().optional(),
  repeatDirection: z.enum(['h', 'v']).optional(),
  maxPerRow: z.int().min(1).max(24).optional(),
};
const StatPanel = z.object({
  ...panelBase,
  type: z.literal('stat'),
  options: z.object({
    reduceOptions: ReduceOptions,
    colorMode: z.enum(['value', 'background', 'background_solid', 'none']),
    graphMode: z.enum(['none', 'area']),
    justifyMode: z.enum(['auto', 'center']),
    orientation: z.enum(['auto', 'horizontal', 'vertical']),
    textMode: z.enum(['auto', 'value', 'value_and_name', 'name', 'none']),
  }),
});
const BarGaugePanel = z.object({
  ...panelBase,
  type: z.literal('bargauge'),
  options: z.object({
    reduceOptions: ReduceOptions,
    displayMode: z.enum(['basic', 'lcd', 'gradient']),
    orientation: z.enum(['auto', 'horizontal', 'vertical']),
  }),
});
const TimeseriesPanel = z.object({
  ...panelBase,
  type: z.literal('timeseries'),
  options: z.object({ legend: Legend, tooltip: Tooltip }),
});
const TablePanel = z.object({
  ...panelBase,
  type: z.literal('table'),
  options: z.object({
    showHeader: z.boolean(),
    sortBy: z.array(z.object({ displayName: z.string(), desc: z.boolean() })),
  }),
});
const HeatmapPanel = z.object({
  ...panelBase,
  type: z.literal('heatmap'),
  options: z.object({
    calculate: z.literal(false),
    rowsFrame: z.object({ layout: z.enum(['le', 'ge', 'unknown', 'auto']), value: z.string().optional() }),
    yAxis: z.object({ unit: z.string().optional(), axisPlacement: z.string() }),
    color: z.object({ mode: z.enum(['scheme', 'opacity']) }),
    legend: z.object({ show: z.boolean() }),
    tooltip: z.object({ mode: z.enum(['single', 'multi', 'none']) }),
  }),
});
const BarChartPanel = z.object({
  ...panelBase,
  type: z.literal('barchart'),
  options: z.object({
    xField: z.string().min(1),
    orientation: z.enum(['auto', 'horizontal', 'vertical']),
    stacking: z.enum(['none', 'normal', 'percent']),
    legend: Legend,
    tooltip: Tooltip,
  }),
});
const StateTimelinePanel = z.object({
  ...panelBase,
  type: z.literal('state-timeline'),
  options: z.object({
    mergeValues: z.boolean(),
    showValue: z.enum(['auto', 'always', 'never']),
    alignValue: z.enum(['left', 'center', 'right']),
    rowHeight: z.number().gt(0).max(1),
    legend: Legend,
    tooltip: Tooltip,
  }),
});
const DataPanel = z.discriminatedUnion('type', [
  StatPanel,
  BarGaugePanel,
  TimeseriesPanel,
  TablePanel,
  HeatmapPanel,
  BarChartPanel,
  StateTimelinePanel,
]);
const RowPanel = z.strictObject({
  id: z.int().positive(),
  type: z.literal('row'),
  title: z.string().min(1),
  collapsed: z.boolean(),
  gridPos: z.strictObject({ h: z.literal(1), w: z.literal(24), x: z.literal(0), y: z.int().min(0) }),
  panels: z.array(DataPanel),
});
const Panel = z.union([DataPanel, RowPanel]);
const hide = z.union([z.literal(0), z.literal(1), z.literal(2)]);
const QueryVariable = z.object({
  type: z.literal('query'),
  name: z.string().regex(/^\w+$/),
  label: z.string(),
  datasource: DatasourceRef,
  definition: z.string().min(1),
  query: z.string().min(1),
  refresh: z.union([z.literal(1), z.literal(2)]),
  regex: z.string(),
  sort: z.int().min(0).max(8),
  multi: z.boolean(),
  includeAll: z.boolean(),
  allValue: z.string().nullable().optional(),
  current: z.object({
    text: z.union([z.string(), z.array(z.string())]),
    value: z.union([z.string(), z.array(z.string())]),
  }),
  options: z.array(z.unknown()),
  hide,
});
const TextboxVariable = z.object({
  type: z.literal('textbox'),
  name: z.string().regex(/^\w+$/),
  label: z.string(),
  query: z.string(),
  current: z.object({ text: z.string(), value: z.string() }),
  hide,
});
const Variable = z.discriminatedUnion('type', [QueryVariable, TextboxVariable]);
const Dashboard = z.object({
  id: z.null(),
  uid: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/),
  title: z.string().min(1),
  description: z.string().optional(),
  editable: z.boolean(),
  schemaVersion: z.int().min(36),
  version: z.int().min(1),
  graphTooltip: z.int().min(0).max(2),
  time: z.strictObject({ from: z.string().min(1), to: z.string().min(1) }),
  refresh: z.string(),
  timezone: z.string(),
  tags: z.array(z.string()),
  annotations: z.object({
    list: z.array(z.object({ builtIn: z.int(), name: z.string(), type: z.string() })),
  }),
  links: z.array(z.object({ type: z.enum(['dashboards', 'link']), title: z.string() })),
  panels: z.array(Panel).min(1),
  templating: z.object({ list: z.array(Variable) }),
});
type Dashboard = z.infer<typeof Dashboard>;
type DataPanel = z.infer<typeof DataPanel>;
type Variable = z.infer<typeof Variable>;

// --- loading -------------------------------------------------------------------------------------------

async function loadDashboards(): Promise<Map<string, Dashboard>> {
  const files = (await readdir(DASHBOARDS_DIR)).filter((f) => f.endsWith('.json')).sort();
  const out = new Map<string, Dashboard>();
  for (const file of files) {
    const json: unknown = JSON.parse(await readFile(new URL(file, DASHBOARDS_DIR), 'utf8'));
    const parsed = Dashboard.safeParse(json);
    assert.ok(parsed.success, `${file}: ${parsed.success ? '' : z.prettifyError(parsed.error)}`);
    out.set(file, parsed.data);
  }
  return out;
}

/** Every data panel, those inside rows included. */
function dataPanels(d: Dashboard): DataPanel[] {
  return d.panels.flatMap((p) => (p.type === 'row' ? p.panels : [p]));
}

/** Names a query refers to as `$name`, `${name}` or `[[name]]` (macros `$__x(` excluded). */
function referencedVariables(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(/\$(\w+)(?!\w*\()|\[\[(\w+)\]\]|\$\{(\w+)\}/g))
    names.add(m[1] ?? m[2] ?? m[3] ?? '');
  return [...names];
}

// --- static checks ---------------------------------------------------------------------------------------

describe('Grafana dashboards (deploy/grafana/dashboards)', () => {
  it('parse and fit the schema of the Grafana dashboard model parts they use', async () => {
    const dashboards = await loadDashboards();
    assert.deepEqual([...dashboards.keys()], ['wmn-overview.json', 'wmn-sla.json']);
    const overview = dashboards.get('wmn-overview.json')!;
    const sla = dashboards.get('wmn-sla.json')!;
    assert.equal(overview.uid, 'wmn-overview');
    assert.equal(sla.uid, 'wmn-sla');
    assert.deepEqual(overview.time, { from: 'now-24h', to: 'now' });
    assert.equal(overview.refresh, '10s');
    assert.deepEqual(sla.time, { from: 'now/M', to: 'now/M' }, 'the SLA dashboard opens on this month');
    for (const d of dashboards.values()) assert.ok(d.editable);
  });

  it('have unique panel ids and a layout without overlaps', async () => {
    for (const [file, d] of await loadDashboards()) {
      const ids = [
        ...d.panels.map((p) => p.id),
        ...d.panels.flatMap((p) => (p.type === 'row' ? p.panels : [])).map((p) => p.id),
      ];
      assert.equal(new Set(ids).size, ids.length, `${file}: panel ids repeat: ${ids}`);
      assertNoOverlap(file, d.panels);
      for (const row of d.panels) {
        if (row.type !== 'row') continue;
        assert.ok(row.collapsed, `${file}: row ${row.title} is collapsed (its panels stay in the row)`);
        assertNoOverlap(`${file} row ${row.title}`, row.panels);
        for (const p of row.panels) assert.ok(p.gridPos.y > row.gridPos.y, `${p.title} sits below its row`);
      }
      for (const p of d.panels) {
        if (p.type === 'row') continue;
        // A panel repeated horizontally must own its whole row: the clones fill it.
        if (p.repeat) assert.equal(p.gridPos.w, 24, `${p.title} repeats across a full-width row`);
      }
    }
  });

  it('read only the wmn data source, with raw SQL and a format on every target', async () => {
    for (const [file, d] of await loadDashboards()) {
      for (const p of dataPanels(d)) {
        assert.deepEqual(p.datasource, { type: DS_TYPE, uid: DS_UID }, `${file}: ${p.title}`);
        for (const t of p.targets) {
          assert.deepEqual(t.datasource, p.datasource, `${file}: ${p.title} ${t.refId}`);
          assert.ok(t.rawSql.trim().length > 0);
          assert.ok(['table', 'time_series'].includes(t.format));
          // Grafana 12 strips SQL comments before interpolating, earlier versions do not: with none,
          // every version runs the same statement.
          assert.doesNotMatch(t.rawSql, /--|\/\*/, `${file}: ${p.title}: no SQL comments`);
          if (['timeseries', 'heatmap', 'state-timeline'].includes(p.type))
            assert.equal(t.format, 'time_series', p.title);
        }
        if (p.repeat) assert.ok(d.templating.list.some((v) => v.name === p.repeat && v.type === 'query'));
      }
      for (const v of d.templating.list) {
        if (v.type === 'query') {
          assert.equal(v.definition, v.query, `${file}: $${v.name}'s definition is its query`);
          assert.ok(v.multi && v.includeAll, `${file}: $${v.name} is multi-value with All`);
          // A custom All value would be pasted into the SQL unquoted; without one, All is every
          // option quoted, which ARRAY[$var] and IN ($var) both take.
          assert.ok(!v.allValue, `${file}: $${v.name} has no custom All value`);
        }
      }
    }
  });

  it('refer only to variables they define (or Grafana built-ins), defined before use', async () => {
    for (const [file, d] of await loadDashboards()) {
      const defined = new Set<string>(BUILTIN_VARIABLES);
      for (const v of d.templating.list) {
        const text = v.type === 'query' ? v.query : '';
        for (const name of referencedVariables(text)) {
          assert.ok(defined.has(name), `${file}: $${v.name}'s query uses $${name}, not defined before it`);
        }
        defined.add(v.name);
      }
      for (const p of dataPanels(d)) {
        for (const text of [p.title, ...p.targets.map((t) => t.rawSql)]) {
          for (const name of referencedVariables(text)) {
            assert.ok(defined.has(name), `${file}: ${p.title} uses $${name}, which is not defined`);
          }
        }
      }
      // Every wmn panel filters by the agent variable; the classic ones are the seed's queries as-is.
      for (const p of dataPanels(d)) {
        if (CLASSIC.test(p.title)) continue;
        assert.ok(
          p.targets.every((t) => t.rawSql.includes('ARRAY[$agent]::text[]')),
          `${p.title} filters by $agent`,
        );
      }
    }
  });

  it('apply the SLA target only through wmn_sla_verdict, never restating its rule', async () => {
    for (const [file, d] of await loadDashboards()) {
      for (const p of dataPanels(d)) {
        for (const t of p.targets) {
          if (!t.rawSql.includes('$target')) continue;
          assert.match(
            t.rawSql,
            /wmn_sla_verdict\(\$__timeFrom\(\), \$__timeTo\(\), '\$target'::float8, /,
            `${file}: ${p.title}`,
          );
          assert.doesNotMatch(
            t.rawSql,
            /1e-9|100 - |uptime_pct/,
            `${file}: ${p.title} restates the verdict rule`,
          );
        }
      }
    }
    const sla = (await loadDashboards()).get('wmn-sla.json')!;
    assert.deepEqual(
      dataPanels(sla)
        .filter((p) => p.targets.some((t) => t.rawSql.includes('wmn_sla_verdict')))
        .map((p) => p.title),
      ['Target $target %', 'SLA verdict'],
    );
  });

  it('name every diagnosis the same way wherever one is shown', async () => {
    const dashboards = await loadDashboards();
    const overview = dashboards.get('wmn-overview.json')!;
    const byTitle = (d: Dashboard, title: string) => dataPanels(d).find((p) => p.title === title)!;
    const texts = (p: DataPanel): Record<string, { text?: string; color?: string }> => {
      const override = p.fieldConfig.overrides.find((o) => o.matcher.options === 'diagnosis');
      const mappings = (override?.properties.find((x) => x.id === 'mappings')?.value ??
        p.fieldConfig.defaults.mappings) as { options: Record<string, { text?: string; color?: string }> }[];
      return mappings[0]!.options;
    };
    const reference = texts(byTitle(overview, 'Recent outages'));
    assert.deepEqual(Object.keys(reference).sort(), [...DIAGNOSES].sort(), 'a text for every diagnosis');
    for (const [d, title] of [
      [overview, 'Diagnosis now'],
      [dashboards.get('wmn-sla.json')!, 'Outages, to the second'],
    ] as const) {
      const own = texts(byTitle(d, title));
      for (const kind of DIAGNOSES) assert.deepEqual(own[kind], reference[kind], `${title}: ${kind}`);
    }
    // The timeline shows codes: the position of the kind in its SQL's list, mapped to the same words.
    const timeline = byTitle(overview, 'Diagnosis over time');
    const list = /ARRAY\[('[a-z0-9]+'(?:, '[a-z0-9]+')*)\], c\.diagnosis/.exec(timeline.targets[0]!.rawSql);
    assert.ok(list, 'the timeline ranks the diagnoses in an ARRAY[...]');
    const ranked = list[1]!.split(', ').map((k) => k.slice(1, -1));
    assert.deepEqual([...ranked].sort(), [...DIAGNOSES].sort());
    assert.match(
      timeline.targets[0]!.rawSql,
      new RegExp(`WHEN s\\.down_cycles > 0 THEN ${ranked.indexOf('down')} ELSE ${ranked.indexOf('ok')} END`),
      'a step of undiagnosed cycles: down when one was DOWN, else ok',
    );
    const codes = texts(timeline);
    for (const [code, kind] of ranked.entries()) assert.deepEqual(codes[String(code)], reference[kind], kind);
  });

  it('give every uptime figure its coverage beside it', async () => {
    for (const [file, d] of await loadDashboards()) {
      for (const p of dataPanels(d)) {
        for (const t of p.targets) {
          if (!/uptime_pct/.test(t.rawSql) || CLASSIC.test(p.title)) continue;
          assert.match(t.rawSql, /coverage_pct/, `${file}: ${p.title} shows uptime without coverage`);
        }
      }
    }
  });
});

function assertNoOverlap(
  where: string,
  panels: readonly { title: string; gridPos: z.infer<typeof GridPos> }[],
) {
  for (const p of panels)
    assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${where}: ${p.title} is wider than the grid`);
  for (let i = 0; i < panels.length; i++) {
    for (let j = i + 1; j < panels.length; j++) {
      const a = panels[i]!.gridPos;
      const b = panels[j]!.gridPos;
      const apart = a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
      assert.ok(apart, `${where}: ${panels[i]!.title} overlaps ${panels[j]!.title}`);
    }
  }
}

describe('Grafana provisioning (deploy/grafana/provisioning)', () => {
  it('provisions the data source the dashboards name, as the read-only role', async () => {
    const doc = YAML.parse(await readFile(new URL('provisioning/datasources/wmn.yaml', GRAFANA_DIR), 'utf8'));
    assert.equal(doc.apiVersion, 1);
    assert.equal(doc.datasources.length, 1);
    const ds = doc.datasources[0];
    assert.equal(ds.uid, DS_UID);
    assert.equal(ds.type, DS_TYPE);
    assert.equal(ds.url, 'postgres:5432');
    assert.equal(ds.user, 'wmn_reader');
    assert.equal(ds.jsonData.database, 'wmn');
    assert.equal(ds.jsonData.sslmode, 'disable');
    assert.equal(ds.jsonData.postgresVersion, 1500);
    assert.equal(ds.jsonData.timescaledb, false);
    assert.equal(ds.jsonData.timeInterval, '1s');
    // The password comes from Grafana's environment, and only through secureJsonData.
    assert.deepEqual(ds.secureJsonData, { password: '$WMN_READER_PASSWORD' });
    assert.equal(ds.password, undefined);
    assert.equal(ds.jsonData.password, undefined);
    for (const d of (await loadDashboards()).values()) {
      for (const p of dataPanels(d)) assert.equal(p.datasource.uid, ds.uid);
      for (const v of d.templating.list) if (v.type === 'query') assert.equal(v.datasource.uid, ds.uid);
    }
  });

  it('loads the dashboards directory into the folder "wmn", read-only', async () => {
    const doc = YAML.parse(await readFile(new URL('provisioning/dashboards/wmn.yaml', GRAFANA_DIR), 'utf8'));
    assert.equal(doc.apiVersion, 1);
    assert.equal(doc.providers.length, 1);
    const provider = doc.providers[0];
    assert.equal(provider.type, 'file');
    assert.equal(provider.folder, 'wmn');
    assert.equal(provider.disableDeletion, true);
    assert.equal(provider.allowUiUpdates, false);
    assert.equal(provider.options.path, '/var/lib/grafana/dashboards');
    // compose.yml mounts deploy/grafana/dashboards there, and the provisioning directory at Grafana's.
    const compose = await readFile(new URL('../compose.yml', GRAFANA_DIR), 'utf8').catch(() => '');
    if (compose) {
      assert.match(compose, /\.\/grafana\/dashboards:\/var\/lib\/grafana\/dashboards/);
      assert.match(compose, /\.\/grafana\/provisioning:\/etc\/grafana\/provisioning/);
    }
  });
});

// --- the expansion itself, against Grafana's own expectations --------------------------------------------

describe('Grafana macro expansion (test/helpers/grafana-macros.ts)', () => {
  // The cases of pkg/tsdb/grafana-postgresql-datasource/macros_test.go.
  const range = { from: new Date('2018-04-12T18:00:00Z'), to: new Date('2018-04-12T18:05:00Z') };

  it('expands the PostgreSQL macros as macros.go does', () => {
    const m = (sql: string) => interpolateMacros(sql, range);
    assert.equal(m('select $__time(time_column)'), 'select time_column AS "time"');
    assert.equal(
      m('WHERE $__timeFilter(time_column)'),
      "WHERE time_column BETWEEN '2018-04-12T18:00:00Z' AND '2018-04-12T18:05:00Z'",
    );
    assert.equal(m('select $__timeFrom()'), "select '2018-04-12T18:00:00Z'");
    assert.equal(m('select $__timeTo()'), "select '2018-04-12T18:05:00Z'");
    assert.equal(
      m("SELECT $__timeGroup(time_column,'5m'), value"),
      'SELECT floor(extract(epoch from time_column)/300)*300 AS "time", value',
    );
    assert.equal(
      m("SELECT $__timeGroup(time_column,'5m') as time, value"),
      'SELECT floor(extract(epoch from time_column)/300)*300 as time, value',
    );
    assert.equal(m("$__timeGroup(time_column , '5m')"), 'floor(extract(epoch from time_column)/300)*300');
    assert.equal(
      m("$__timeGroupAlias(time_column , '5m')"),
      'floor(extract(epoch from time_column)/300)*300 AS "time"',
    );
    assert.equal(m('select $__unixEpochFilter(time)'), 'select time >= 1523556000 AND time <= 1523556300');
    assert.throws(() => m('select $__nope(x)'), /unknown macro "__nope"/);
    const half = { from: new Date('1960-02-01T07:00:00.500Z'), to: new Date('1980-02-03T08:00:00.500Z') };
    assert.equal(
      interpolateMacros('WHERE $__timeFilter(time_column)', half),
      "WHERE time_column BETWEEN '1960-02-01T07:00:00.5Z' AND '1980-02-03T08:00:00.5Z'",
    );
  });

  it('writes times, intervals and numbers as Go and Grafana do', () => {
    assert.equal(formatRFC3339Nano(new Date('2026-10-01T00:00:00.000Z')), '2026-10-01T00:00:00Z');
    assert.equal(formatRFC3339Nano(new Date('2026-10-01T00:09:30.120Z')), '2026-10-01T00:09:30.12Z');
    assert.equal(formatGoFloat(300), '300');
    assert.equal(formatGoFloat(0.5), '0.5');
    assert.equal(formatGoFloat(604800), '604800');
    assert.equal(formatGoFloat(2592000), '2.592e+06');
    assert.equal(formatGoFloat(31536000), '3.1536e+07');
    assert.equal(parseGoInterval('5m'), 300_000);
    assert.equal(parseGoInterval('1h30m'), 5_400_000);
    assert.equal(parseGoInterval('1d'), 86_400_000);
    assert.equal(secondsToHms(60), '1m');
    assert.equal(secondsToHms(7200), '2h');
    assert.equal(secondsToHms(0.5), '500ms');
    assert.equal(
      interpolateGlobal('SELECT $__interval, $__interval_ms', range, 600_000),
      'SELECT 10m, 600000',
    );
    const day = { from: new Date(0), to: new Date(86_400_000) };
    assert.equal(calculateInterval(day, 1000, '1s'), 60_000);
    assert.equal(calculateInterval({ from: SEED_FROM, to: SEED_TO }, 1000, '1s'), 10_000);
    assert.equal(calculateInterval({ from: new Date(0), to: new Date(300_000) }, 1000, '1s'), 1000);
    assert.equal(calculateInterval({ from: new Date(0), to: new Date(300_000) }, 1000), 200);
  });

  it("formats variables as the SQL data source's interpolateVariable does", () => {
    const vars: Record<string, TemplateVariable> = {
      agent: { multi: true, includeAll: true, options: ['home', "o'brien"], current: ALL },
      one: { multi: true, includeAll: true, options: ['a', 'b'], current: ['b'] },
      custom: { multi: true, includeAll: true, allValue: '.*', options: ['a'], current: [ALL] },
      target: { current: "99.9'" },
    };
    assert.equal(replaceVariables('ARRAY[$agent]', vars), "ARRAY['home','o''brien']");
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's ${var} syntax, not a template literal
    assert.equal(replaceVariables('${agent} [[agent]]', vars), "'home','o''brien' 'home','o''brien'");
    assert.equal(replaceVariables('$one', vars), "'b'");
    assert.equal(replaceVariables('$one', vars, { one: 'a' }), "'a'", "a repeated panel's own value");
    assert.equal(replaceVariables('$custom', vars), '.*', 'a custom All value goes in unquoted');
    assert.equal(replaceVariables("'$target'", vars), "'99.9'''", 'a textbox: quotes doubled, no quoting');
    assert.equal(replaceVariables('$__timeFrom() $nope', vars), '$__timeFrom() $nope');
    const none = { agent: { multi: true, includeAll: true, options: [], current: ALL } };
    assert.equal(replaceVariables('ARRAY[$agent]::text[]', none), 'ARRAY[]::text[]');
    assert.equal(
      expandQuery('SELECT $__timeGroupAlias(ts, $__interval) WHERE $__timeFilter(ts) AND a IN ($agent)', {
        range,
        intervalMs: 10_000,
        variables: vars,
      }),
      "SELECT floor(extract(epoch from ts)/10)*10 AS \"time\" WHERE ts BETWEEN '2018-04-12T18:00:00Z' AND '2018-04-12T18:05:00Z' AND a IN ('home','o''brien')",
    );
  });
});

// --- every query on PostgreSQL ----------------------------------------------------------------------------

const TYPES: Record<number, string> = {
  16: 'bool',
  20: 'int8',
  21: 'int2',
  23: 'int4',
  25: 'text',
  700: 'float4',
  701: 'float8',
  1043: 'varchar',
  1114: 'timestamp',
  1184: 'timestamptz',
  1700: 'numeric',
};
const NUMERIC = new Set(['int2', 'int4', 'int8', 'float4', 'float8', 'numeric']);
const TEXT = new Set(['text', 'varchar']);

interface Column {
  readonly name: string;
  readonly type: string;
}
interface Answer {
  readonly sql: string;
  readonly columns: readonly Column[];
  readonly rows: readonly Record<string, unknown>[];
}

interface Scenario {
  readonly name: string;
  readonly range: TimeRange;
  readonly maxDataPoints: number;
  readonly agent: 'all' | 'home' | 'lab';
  /** Values typed into textbox variables (default: the dashboard's). */
  readonly textboxes?: Readonly<Record<string, string>>;
}

/** Answers of one dashboard in one scenario: by panel title (and repeat value), then refId. */
type Answers = Map<string, Answer>;

const key = (title: string, refId: string, repeat?: string) =>
  repeat ? `${title} [${repeat}] ${refId}` : `${title} ${refId}`;

async function runDashboard(
  db: pg.ClientBase,
  d: Dashboard,
  s: Scenario,
  intervalMs: number,
): Promise<Answers> {
  const variables: Record<string, TemplateVariable> = {};
  const ctx = () => ({ range: s.range, intervalMs, variables });
  for (const v of d.templating.list) variables[v.name] = await resolveVariable(db, v, s, ctx());
  const answers: Answers = new Map();
  for (const p of dataPanels(d)) {
    const repeat = p.repeat ? values(variables[p.repeat]!) : [undefined];
    for (const value of repeat) {
      for (const t of p.targets) {
        const scoped = value === undefined || !p.repeat ? {} : { [p.repeat]: value };
        const sql = expandQuery(t.rawSql, { ...ctx(), scoped });
        assert.doesNotMatch(sql, /\$/, `${d.uid}: ${p.title}: every variable and macro expanded:\n${sql}`);
        const answer = await run(db, sql, `${d.uid}: ${p.title} (${s.name})`);
        checkShape(d, p, t.format, answer, s);
        answers.set(key(p.title, t.refId, value), answer);
      }
    }
  }
  return answers;
}

function values(v: TemplateVariable): string[] {
  const c = v.current;
  if (c === ALL || (Array.isArray(c) && c.includes(ALL))) return [...(v.options ?? [])];
  return Array.isArray(c) ? [...c] : [String(c)];
}

async function resolveVariable(
  db: pg.ClientBase,
  v: Variable,
  s: Scenario,
  ctx: Parameters<typeof expandQuery>[1],
) {
  if (v.type === 'textbox') return { current: s.textboxes?.[v.name] ?? v.current.value };
  const answer = await run(db, expandQuery(v.query, ctx), `$${v.name}'s query`);
  assert.ok(answer.columns.length >= 1 && TEXT.has(answer.columns[0]!.type), `$${v.name} answers text`);
  const options = answer.rows.map((r) => String(r[answer.columns[0]!.name]));
  let current: TemplateVariable['current'] = ALL;
  if (v.name === 'agent' && s.agent !== 'all') {
    assert.ok(options.includes(s.agent), `$agent offers ${s.agent}: ${options}`);
    current = [s.agent];
  }
  return { multi: v.multi, includeAll: v.includeAll, allValue: v.allValue ?? null, options, current };
}

async function run(db: pg.ClientBase, sql: string, what: string): Promise<Answer> {
  let result: pg.QueryResult;
  try {
    result = await db.query(sql);
  } catch (err) {
    assert.fail(`${what} failed: ${(err as Error).message}\n${sql}`);
  }
  const columns = result.fields.map((f) => ({
    name: f.name,
    type: TYPES[f.dataTypeID] ?? `oid ${f.dataTypeID}`,
  }));
  return { sql, columns, rows: result.rows };
}

/** What the panel's options and Grafana's SQL result handling need of the answer's columns. */
function checkShape(d: Dashboard, p: DataPanel, format: string, a: Answer, s: Scenario): void {
  const where = `${d.uid}: ${p.title} (${s.name})`;
  const names = a.columns.map((c) => c.name);
  const type = (name: string) => a.columns.find((c) => c.name === name)?.type;
  for (const c of a.columns) {
    assert.ok(
      NUMERIC.has(c.type) || TEXT.has(c.type) || ['bool', 'timestamptz', 'timestamp'].includes(c.type),
      `${where}: column ${c.name} has type ${c.type}, which Grafana does not show as such`,
    );
  }
  if (format === 'time_series') {
    // sqleng: a time column named "time"; every other column a number, or text that becomes a label;
    // a long frame sorted by time ascending (LongToWide refuses anything else).
    assert.ok(names.includes('time'), `${where}: a time series needs a "time" column: ${names}`);
    const time = type('time')!;
    assert.ok(['timestamptz', 'timestamp'].includes(time) || NUMERIC.has(time), `${where}: time is ${time}`);
    for (const c of a.columns) {
      if (c.name !== 'time')
        assert.ok(NUMERIC.has(c.type) || TEXT.has(c.type), `${where}: ${c.name} is ${c.type}`);
    }
    const times = a.rows.map((r) => (r.time instanceof Date ? r.time.getTime() : Number(r.time)));
    for (let i = 1; i < times.length; i++)
      assert.ok(times[i]! >= times[i - 1]!, `${where}: rows sorted by time`);
    if (names.includes('metric')) {
      assert.deepEqual(names, ['time', 'metric', 'value'], `${where}: metric form is time, metric, value`);
      assert.ok(TEXT.has(type('metric')!) && NUMERIC.has(type('value')!));
    }
  }
  if (p.type === 'heatmap') {
    assert.deepEqual(names, ['time', 'metric', 'value']);
    const perTime = new Map<number, Set<string>>();
    for (const r of a.rows) {
      const bound = Number(r.metric);
      assert.ok(Number.isFinite(bound) && bound > 0, `${where}: bucket ${r.metric} is a number`);
      const t = (r.time as Date).getTime();
      const seen = perTime.get(t) ?? new Set();
      assert.ok(!seen.has(String(r.metric)), `${where}: bucket names distinct within a time step`);
      seen.add(String(r.metric));
      perTime.set(t, seen);
    }
  }
  if (p.type === 'stat' || p.type === 'bargauge') {
    const fields = p.options.reduceOptions.fields;
    if (fields === '') {
      assert.ok(
        a.columns.some((c) => NUMERIC.has(c.type)),
        `${where}: a numeric field to show`,
      );
    } else {
      const m = /^\/\^\(?([\w|]+)\)?\$\/$/.exec(fields);
      assert.ok(m, `${where}: fields ${fields} is /^(a|b)$/`);
      for (const name of m[1]!.split('|'))
        assert.ok(names.includes(name), `${where}: shows ${name}: ${names}`);
    }
  }
  if (p.type === 'state-timeline') {
    const mapped = new Set(p.fieldConfig.defaults.mappings?.flatMap((m) => Object.keys(m.options)) ?? []);
    for (const r of a.rows)
      assert.ok(mapped.has(String(r.value)), `${where}: state ${r.value} has a mapping`);
  }
  if (p.type === 'barchart') {
    assert.ok(names.includes(p.options.xField), `${where}: x field ${p.options.xField}`);
    for (const c of a.columns)
      if (c.name !== p.options.xField) assert.ok(NUMERIC.has(c.type), `${where}: ${c.name}`);
  }
  // Display names built from row values name columns the answer has.
  const templates = [p.fieldConfig.defaults.displayName ?? ''];
  for (const o of p.fieldConfig.overrides) {
    for (const prop of o.properties) if (prop.id === 'displayName') templates.push(String(prop.value));
  }
  for (const t of templates) {
    for (const m of t.matchAll(/\$\{__data\.fields\.(\w+)\}/g))
      assert.ok(names.includes(m[1]!), `${where}: ${t}`);
  }
  // Overrides: by column name in a table answer; by series name (the metric) in a time series.
  for (const o of p.fieldConfig.overrides) {
    if (format === 'table' && o.matcher.id === 'byName') {
      assert.ok(names.includes(o.matcher.options), `${where}: override for ${o.matcher.options}: ${names}`);
    }
    if (format === 'time_series' && s.agent === 'all' && a.rows.length > 0) {
      const series = new Set(a.rows.map((r) => String(r.metric)));
      const re = o.matcher.id === 'byRegexp' ? toRegExp(o.matcher.options) : undefined;
      const hit = [...series].some((n) => (re ? re.test(n) : n === o.matcher.options));
      assert.ok(hit, `${where}: override ${o.matcher.options} matches a series of ${[...series]}`);
    }
  }
}

function toRegExp(text: string): RegExp {
  const m = /^\/(.*)\/([a-z]*)$/.exec(text);
  return m ? new RegExp(m[1]!, m[2]) : new RegExp(text);
}

// --- the read-only role ------------------------------------------------------------------------------------

const exec = promisify(execFile);

/** deploy/sql/roles.sql as users are told to apply it, or (no psql here) the reader's grants by hand. */
async function createRoles(admin: pg.ClientBase, url: string, writer: string, reader: string): Promise<void> {
  if (HAS_PSQL) {
    await exec('psql', [
      '-X',
      '-q',
      '-v',
      `writer=${writer}`,
      '-v',
      `reader=${reader}`,
      '-f',
      ROLES_SQL,
      url,
    ]);
    return;
  }
  const r = admin.escapeIdentifier(reader);
  const db = admin.escapeIdentifier(new URL(url).pathname.slice(1));
  await admin.query(`CREATE ROLE ${r} LOGIN`);
  await admin.query(`CREATE ROLE ${admin.escapeIdentifier(writer)} LOGIN`);
  await admin.query(`GRANT CONNECT ON DATABASE ${db} TO ${r}`);
  await admin.query(`GRANT USAGE ON SCHEMA public TO ${r}`);
  await admin.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${r}`);
}

/** The reader may read every table and view, change none, and is no more than a login. */
async function assertReadOnly(admin: pg.ClientBase, readerDb: pg.ClientBase, reader: string): Promise<void> {
  const { rows } = await admin.query(
    `SELECT c.relname,
            has_table_privilege($1, c.oid, 'SELECT') AS can_read,
            has_table_privilege($1, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER') AS can_change
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm', 'p')`,
    [reader],
  );
  assert.ok(rows.length > 5);
  for (const r of rows) {
    assert.ok(r.can_read, `${reader} reads ${r.relname}`);
    assert.ok(!r.can_change, `${reader} cannot change ${r.relname}`);
  }
  const [role] = (
    await admin.query(
      'SELECT rolsuper, rolcreatedb, rolcreaterole, rolbypassrls FROM pg_roles WHERE rolname = $1',
      [reader],
    )
  ).rows;
  assert.deepEqual(role, { rolsuper: false, rolcreatedb: false, rolcreaterole: false, rolbypassrls: false });
  await assert.rejects(
    readerDb.query("INSERT INTO wmn_agents (agent, interval_s) VALUES ('intruder', 1)"),
    (err: { code?: string }) => err.code === '42501',
  );
  await assert.rejects(
    readerDb.query('CREATE TABLE intruder (x int)'),
    (err: { code?: string }) => err.code === '42501',
  );
  // The functions that write: retention is not even executable; a rebuild runs with the reader's rights.
  for (const call of [
    "wmn_apply_retention('30 days')",
    "wmn_rebuild_rollups(now() - interval '1 hour', now())",
  ]) {
    await assert.rejects(
      readerDb.query(`SELECT ${call}`),
      (err: { code?: string }) => err.code === '42501',
      call,
    );
  }
}

async function dropRoles(roles: readonly string[]): Promise<void> {
  await withClient({ connectionString: TEST_PG_URL }, async (c) => {
    for (const role of roles) await c.query(`DROP ROLE IF EXISTS ${c.escapeIdentifier(role)}`);
  });
}

// --- expected figures, from the seed's plan -----------------------------------------------------------------

const iso = (d: unknown) => (d as Date).toISOString().replace('.000Z', 'Z');
const HOME = EXPECTED.home;
const FAILED: Readonly<Record<string, number>> = HOME.failed;
const UPTIME_HOME = (100 * (HOME.cycles - HOME.downCycles)) / HOME.cycles;
const DAY_MS = 86_400_000;

/** Per source of agent home: probes, failure classes, and each phase's samples from the seed's rows. */
function planned(source: string) {
  const rows = seedRows('home').filter((r) => r.source === source);
  const classes = new Map<string, number>();
  for (const r of rows) if (r.error) classes.set(r.error, (classes.get(r.error) ?? 0) + 1);
  const phase = (k: keyof SeedRow) =>
    rows
      .map((r) => r[k] as number | null)
      .filter((v): v is number => v !== null)
      .sort((a, b) => a - b);
  return {
    probes: rows.length,
    classes: [...classes]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, n]) => `${k} ${n}`)
      .join(', '),
    phases: {
      dns: phase('dns_ms'),
      connect: phase('connect_ms'),
      tls: phase('tls_ms'),
      ttfb: phase('ttfb_ms'),
      total: phase('total_ms'),
    },
  };
}

const nearestRank = (sorted: readonly number[], q: number) => sorted[Math.ceil(q * sorted.length) - 1]!;

function rowsOf(answers: Answers, title: string, refId = 'A'): readonly Record<string, unknown>[] {
  const a = answers.get(key(title, refId));
  assert.ok(a, `no answer for ${title}: ${[...answers.keys()]}`);
  return a.rows;
}

function sumBy(rows: readonly Record<string, unknown>[], metric: string): number {
  return rows.filter((r) => r.metric === metric).reduce((n, r) => n + Number(r.value), 0);
}

function outageRows(rows: readonly Record<string, unknown>[]) {
  return rows.map((o) => ({
    start: iso(o.started_at),
    end: iso(o.ended_at),
    cycles: Number(o.cycles),
    unknownS: o.unknown_s,
    errors: String(o.classes).split(', '),
  }));
}

/** The figures every scenario covering the whole seed (any grain) must show for agent home. */
function checkWholeSeed(overview: Answers, sla: Answers, s: Scenario): void {
  const rangeS = (s.range.to.getTime() - s.range.from.getTime()) / 1000;
  const coverage = (100 * HOME.coveredS) / rangeS;
  const label = `home · coverage ${coverage.toFixed(2)} %`;
  const home = (rows: readonly Record<string, unknown>[]) => rows.filter((r) => r.agent === 'home');

  assert.deepEqual(home(rowsOf(overview, 'Uptime · coverage')), [
    { agent: 'home', uptime_pct: UPTIME_HOME, coverage_pct: coverage, label },
  ]);
  const [outages] = home(rowsOf(overview, 'Outages · MTTR · longest'));
  assert.deepEqual(
    {
      outages: Number(outages!.outages),
      mttr_s: outages!.mttr_s,
      longest_s: outages!.longest_s,
      down_s: outages!.down_s,
    },
    { outages: 4, mttr_s: (3 + 12 + 90 + 400) / 4, longest_s: 400, down_s: HOME.downCycles },
  );
  assert.deepEqual(
    home(rowsOf(overview, 'Loss per source'))
      .map((r) => [r.source, Number(r.probes), Number(r.failed), r.loss_pct])
      .sort(),
    [SOURCE_B, SOURCE_A]
      .sort()
      .map((src) => [src, HOME.cycles, FAILED[src], (100 * FAILED[src]!) / HOME.cycles]),
  );
  assert.deepEqual(outageRows(home(rowsOf(overview, 'Recent outages'))), [...HOME.outages].reverse());
  assert.ok(
    home(rowsOf(overview, 'Recent outages')).every((o) => o.diagnosis === null),
    'cycles recorded without a diagnosis give none',
  );
  const [since] = home(rowsOf(overview, 'Since'));
  assert.equal(since!.since_ms, Date.parse('2026-10-01T02:06:40Z'), 'UP since the end of the last outage');
  assert.equal(since!.state, home(rowsOf(overview, 'State'))[0]!.state);

  // Charts, at whatever grain the step picks: their totals are the range's.
  const series = rowsOf(overview, 'Uptime and coverage over time');
  assert.ok(
    series.some((r) => r.metric === 'home uptime %') && series.some((r) => r.metric === 'home coverage %'),
  );
  assert.equal(sumBy(rowsOf(overview, 'DOWN cycles'), 'home'), HOME.downCycles);
  // The seed predates diagnoses: a step is down (6) exactly when it holds a DOWN cycle, else ok (0).
  const downSteps = rowsOf(overview, 'DOWN cycles').filter((r) => r.metric === 'home');
  assert.deepEqual(
    rowsOf(overview, 'Diagnosis over time')
      .filter((r) => r.metric === 'home')
      .map((r) => [(r.time as Date).getTime(), r.value]),
    downSteps.map((r) => [(r.time as Date).getTime(), Number(r.value) > 0 ? 6 : 0]),
  );
  const heat = rowsOf(overview, 'Latency distribution (total time)');
  const totalSamples = heat.reduce((n, r) => n + Number(r.value), 0);
  assert.equal(totalSamples, 2 * HOME.cycles + (s.agent === 'all' ? EXPECTED.office.cycles : 0));
  const phases = (src: string) =>
    new Set((overview.get(key('Phases: $source', 'A', src))?.rows ?? []).map((r) => String(r.metric)));
  assert.deepEqual([...phases(SOURCE_A)].filter((m) => m.startsWith('home ')).sort(), [
    'home connect',
    'home dns',
    'home tls',
    'home total',
    'home ttfb',
  ]);
  assert.ok(!phases(SOURCE_B).has('home tls'), 'no TLS phase for an http:// source');
  assert.deepEqual(
    [...new Set(rowsOf(overview, 'Total time per source').map((r) => r.metric))]
      .filter((m) => String(m).startsWith('home'))
      .sort(),
    [`home · ${SOURCE_A}`, `home · ${SOURCE_B}`].sort(),
  );

  // SLA: the verdict against 99.9 %, by how much, and the budget.
  assert.deepEqual(home(rowsOf(sla, 'Availability · coverage')), [
    { agent: 'home', availability_pct: UPTIME_HOME, coverage_pct: coverage, label },
  ]);
  const margin = UPTIME_HOME - 99.9;
  assert.deepEqual(home(rowsOf(sla, 'Target $target %')), [
    {
      agent: 'home',
      verdict: 'MISSED',
      margin_pp: margin,
      label: `home · short by ${Math.abs(margin).toFixed(3)} pp · coverage ${coverage.toFixed(2)} %`,
    },
  ]);
  const [verdict] = home(rowsOf(sla, 'SLA verdict'));
  // 0.1 % of the 10,480 s measured, to the microsecond (wmn_sla_verdict: 100 − 99.9 is not 0.1 in binary).
  const allowed = 10.48;
  assert.deepEqual(
    { ...verdict, cycles: Number(verdict!.cycles), down_cycles: Number(verdict!.down_cycles) },
    {
      agent: 'home',
      availability_pct: UPTIME_HOME,
      target_pct: 99.9,
      verdict: 'MISSED',
      margin_pp: margin,
      allowed_down_s: allowed,
      down_s: HOME.downCycles,
      budget_left_s: allowed - HOME.downCycles,
      coverage_pct: coverage,
      unknown_s: rangeS - HOME.coveredS,
      cycles: HOME.cycles,
      down_cycles: HOME.downCycles,
    },
  );
  if (s.agent === 'all') {
    // office: 5 DOWN cycles of 10,800, 99.954 %: above the 99.9 % target.
    const office = (100 * (EXPECTED.office.cycles - EXPECTED.office.downCycles)) / EXPECTED.office.cycles;
    assert.deepEqual(
      rowsOf(sla, 'Target $target %').filter((r) => r.agent === 'office'),
      [
        {
          agent: 'office',
          verdict: 'MET',
          margin_pp: office - 99.9,
          label: `office · above by ${(office - 99.9).toFixed(3)} pp · coverage ${((100 * 10_800) / rangeS).toFixed(2)} %`,
        },
      ],
    );
  }
  const [stats] = home(rowsOf(sla, 'Outages · MTTR · MTBF · longest'));
  assert.equal(stats!.mtbf_s, (HOME.coveredS - HOME.downCycles) / 4);
  assert.equal(iso(stats!.longest_started_at), '2026-10-01T02:00:00Z');
  const [buckets] = home(rowsOf(sla, 'Outages by duration'));
  assert.deepEqual(
    Object.fromEntries(Object.keys(HOME.buckets).map((b) => [b, Number(buckets![b])])),
    HOME.buckets,
  );
  const daily = rowsOf(sla, 'Daily availability and coverage');
  assert.deepEqual(
    daily.filter((r) => String(r.metric).startsWith('home ')).map((r) => [iso(r.time), r.metric, r.value]),
    [
      ['2026-10-01T00:00:00Z', 'home availability %', UPTIME_HOME],
      // Coverage of the part of the day inside the range (the seed's 3 hours), not of the whole day.
      ['2026-10-01T00:00:00Z', 'home coverage %', (100 * HOME.coveredS) / HOME.rangeS],
    ],
  );
  const list = home(rowsOf(sla, 'Outages, to the second'));
  assert.deepEqual(outageRows(list), HOME.outages);
  assert.deepEqual(
    list.map((o) => [o.duration_s, o.bucket, o.ongoing]),
    [
      [3, '1-5 s', false],
      [12, '5-30 s', false],
      [90, '30 s-5 min', false],
      [400, '> 5 min', false],
    ],
  );
  for (const src of [SOURCE_A, SOURCE_B]) {
    const plan = planned(src);
    const [loss] = home(rowsOf(sla, 'Loss per source')).filter((r) => r.source === src);
    assert.deepEqual(
      [Number(loss!.probes), Number(loss!.failed), loss!.loss_pct, loss!.classes],
      [plan.probes, FAILED[src], (100 * FAILED[src]!) / HOME.cycles, plan.classes],
    );
    const phaseRows = home(rowsOf(sla, 'Phase percentiles per source')).filter((r) => r.source === src);
    const expectedPhases = Object.entries(plan.phases).filter(([, v]) => v.length > 0);
    assert.deepEqual(
      phaseRows.map((r) => r.phase),
      expectedPhases.map(([k]) => k),
      `${src}: phases in order`,
    );
    for (const [phase, sorted] of expectedPhases) {
      const r = phaseRows.find((x) => x.phase === phase)!;
      const where = `${src} ${phase}`;
      assert.equal(Number(r.samples), sorted.length, `${where} samples`);
      assert.equal(r.min_ms, sorted[0], `${where} min`);
      assert.equal(r.max_ms, sorted.at(-1), `${where} max`);
      const mean = sorted.reduce((n, v) => n + v, 0) / sorted.length;
      assert.ok(Math.abs((r.avg_ms as number) - mean) < 1e-9 * mean, `${where} mean ${r.avg_ms} vs ${mean}`);
      for (const [col, q] of [
        ['p50_ms', 0.5],
        ['p95_ms', 0.95],
        ['p99_ms', 0.99],
      ] as const) {
        const exact = nearestRank(sorted, q);
        const got = r[col] as number;
        assert.ok(Math.abs(got - exact) <= 0.045 * exact, `${where} ${col} ${got} within 4.5 % of ${exact}`);
      }
    }
  }

  // The classic panels: the seed's own queries, unchanged.
  const down = rowsOf(overview, 'DOWN cycles (classic)');
  assert.equal(down.filter((r) => r.agent === 'home').length, HOME.downCycles);
  if (s.agent === 'all') {
    // They predate agents: a probe_id is DOWN only when every source of every agent failed, which
    // never happens in the seed (home's and office's outages do not overlap).
    assert.deepEqual(rowsOf(overview, 'System Uptime % (classic)'), [{ uptime_pct: '100.00' }]);
    assert.deepEqual(rowsOf(overview, 'Total Full-Outage Events (classic)'), [{ total_outages: '0' }]);
    assert.equal(down.length, HOME.downCycles + EXPECTED.office.downCycles);
  }
  const mean = rowsOf(overview, 'Mean total time (classic macros)');
  assert.ok(mean.length > 0 && mean.every((r) => Number.isFinite(Number(r.total_ms))));
}

// --- the run -------------------------------------------------------------------------------------------------

const FIVE_MIN: TimeRange = {
  from: new Date('2026-10-01T00:09:30.500Z'),
  to: new Date('2026-10-01T00:14:30.500Z'),
};
const NINETY_DAYS: TimeRange = { from: new Date(SEED_TO.getTime() - 90 * DAY_MS), to: SEED_TO };
const SEED: TimeRange = { from: SEED_FROM, to: SEED_TO };

describe('every Grafana query on PostgreSQL as the read-only role, over the seeded dataset', () => {
  it('runs every panel and variable query and answers the seed exactly', async (t: TestContext) => {
    const dashboards = await loadDashboards();
    const overview = dashboards.get('wmn-overview.json')!;
    const sla = dashboards.get('wmn-sla.json')!;
    const suffix = `${process.pid}_${randomBytes(3).toString('hex')}`;
    const reader = `wmn_reader_${suffix}`;
    const writer = `wmn_writer_${suffix}`;
    let rolesMade = false;
    try {
      await withTestDatabase(t, (url) =>
        withClient({ connectionString: url }, async (admin) => {
          await runMigrations(admin, { dir: MIGRATIONS_DIR, agent: 'test' });
          rolesMade = true;
          await createRoles(admin, url, writer, reader);
          const readerUrl = new URL(url);
          readerUrl.username = reader;
          readerUrl.password = '';
          await withClient({ connectionString: readerUrl.toString() }, async (db) => {
            await t.test('the role is read-only: it may read every table and view, change nothing', () =>
              assertReadOnly(admin, db, reader),
            );

            const both = async (s: Scenario, lowLimit = '1s') => {
              const intervalMs = calculateInterval(s.range, s.maxDataPoints, lowLimit);
              return {
                intervalMs,
                overview: await runDashboard(db, overview, s, intervalMs),
                sla: await runDashboard(db, sla, s, intervalMs),
              };
            };

            await t.test(
              'an empty database: every query runs, All expanding to no agent at all',
              async () => {
                const r = await both({ name: 'empty', range: SEED, maxDataPoints: 1000, agent: 'all' });
                assert.deepEqual(rowsOf(r.overview, 'Uptime · coverage'), []);
                assert.deepEqual(rowsOf(r.sla, 'Outages, to the second'), []);
              },
            );

            await seedDataset(admin);

            for (const agent of ['home', 'all'] as const) {
              await t.test(`the seeded 3 h at a 10 s step (single cycles), agent ${agent}`, async () => {
                const s: Scenario = { name: `seed raw ${agent}`, range: SEED, maxDataPoints: 1000, agent };
                const r = await both(s);
                assert.equal(r.intervalMs, 10_000);
                checkWholeSeed(r.overview, r.sla, s);
                // 10 s buckets of the classic $__timeGroupAlias query over [from, to].
                assert.equal(rowsOf(r.overview, 'Mean total time (classic macros)').length, 1080);
              });
              await t.test(`the seeded 3 h at a 2 min step (minute rollups), agent ${agent}`, async () => {
                const s: Scenario = { name: `seed minute ${agent}`, range: SEED, maxDataPoints: 100, agent };
                const r = await both(s);
                assert.equal(r.intervalMs, 120_000);
                checkWholeSeed(r.overview, r.sla, s);
              });
              await t.test(
                `90 days ending with the seed at a 2 h step (hour rollups), agent ${agent}`,
                async () => {
                  const s: Scenario = {
                    name: `90 days ${agent}`,
                    range: NINETY_DAYS,
                    maxDataPoints: 1000,
                    agent,
                  };
                  const r = await both(s);
                  assert.equal(r.intervalMs, 7_200_000);
                  checkWholeSeed(r.overview, r.sla, s);
                },
              );
              await t.test(`5 minutes off the second boundary at a 1 s step, agent ${agent}`, async () => {
                const s: Scenario = { name: `5 min ${agent}`, range: FIVE_MIN, maxDataPoints: 1000, agent };
                const r = await both(s);
                assert.equal(r.intervalMs, 1000);
                const [home] = rowsOf(r.overview, 'Uptime · coverage').filter((x) => x.agent === 'home');
                // Cycles 00:09:31 … 00:14:30: 300, of which the 3 s DNS outage at 00:10:00.
                assert.deepEqual(home, {
                  agent: 'home',
                  uptime_pct: (100 * 297) / 300,
                  coverage_pct: 100,
                  label: 'home · coverage 100.00 %',
                });
                assert.deepEqual(
                  outageRows(rowsOf(r.sla, 'Outages, to the second').filter((x) => x.agent === 'home')),
                  [HOME.outages[0]],
                );
                assert.equal(sumBy(rowsOf(r.overview, 'DOWN cycles'), 'home'), 3);
                assert.equal(
                  rowsOf(r.overview, 'DOWN cycles (classic)').filter((x) => x.agent === 'home').length,
                  3,
                );
                assert.equal(
                  rowsOf(r.overview, 'Latency distribution (total time)').reduce(
                    (n, x) => n + Number(x.value),
                    0,
                  ),
                  (agent === 'all' ? 3 : 2) * 300,
                );
              });
            }

            await t.test(
              'the target variable: met at exactly the target, a quote cannot leave its literal',
              async () => {
                const s = (target: string): Scenario => ({
                  name: `target ${target}`,
                  range: SEED,
                  maxDataPoints: 1000,
                  agent: 'home',
                  textboxes: { target },
                });
                const exact = await runDashboard(db, sla, s(String(UPTIME_HOME)), 10_000);
                assert.deepEqual(
                  rowsOf(exact, 'Target $target %').map((r) => [r.verdict, r.margin_pp]),
                  [['MET', 0]],
                );
                const lower = await runDashboard(db, sla, s('95'), 10_000);
                const [v] = rowsOf(lower, 'SLA verdict');
                assert.deepEqual([v!.verdict, v!.margin_pp], ['MET', UPTIME_HOME - 95]);
                // A day with no cycle of the (registered) agent: no verdict, rather than MISSED.
                const dayBefore = { from: new Date(SEED_FROM.getTime() - DAY_MS), to: SEED_FROM };
                const idle = await runDashboard(db, sla, { ...s('99.9'), range: dayBefore }, 60_000);
                assert.deepEqual(rowsOf(idle, 'Target $target %'), [
                  {
                    agent: 'home',
                    verdict: 'NO DATA',
                    margin_pp: null,
                    label: 'home · no cycles · coverage 0.00 %',
                  },
                ]);
                assert.deepEqual(
                  rowsOf(idle, 'SLA verdict').map((r) => [
                    r.verdict,
                    r.margin_pp,
                    r.allowed_down_s,
                    Number(r.cycles),
                  ]),
                  [['NO DATA', null, 0, 0]],
                );
                // Out of (0, 100]: wmn_sla_verdict refuses the target rather than answer nonsense.
                const panel0 = dataPanels(sla).find((p) => p.title === 'Target $target %')!;
                const zero = expandQuery(panel0.targets[0]!.rawSql, {
                  range: SEED,
                  intervalMs: 10_000,
                  variables: {
                    agent: { multi: true, includeAll: true, options: ['home'], current: ALL },
                    target: { current: '0' },
                  },
                });
                await assert.rejects(db.query(zero), (err: { code?: string }) => err.code === '22023');
                // '$target' in the SQL: Grafana doubles the quote, so the text stays one (invalid) number.
                const panel = dataPanels(sla).find((p) => p.title === 'SLA verdict')!;
                const sql = expandQuery(panel.targets[0]!.rawSql, {
                  range: SEED,
                  intervalMs: 10_000,
                  variables: {
                    agent: { multi: true, includeAll: true, options: ['home'], current: ALL },
                    target: { current: "1' OR '1" },
                  },
                });
                assert.match(sql, /'1'' OR ''1'::float8/);
                await assert.rejects(db.query(sql), (err: { code?: string }) => err.code === '22P02');
              },
            );

            await t.test(
              'agent lab: where each outage broke, the diagnosis over time and now, certificate expiry',
              async () => {
                const now = new Date(Math.floor(Date.now() / 1000) * 1000);
                await seedLab(admin, now);
                // One cycle of lab a second ago, ISP: what "Diagnosis now" shows for it.
                const live = Math.floor(now.getTime() / 1000) - 1;
                const fails = new Set<string>([LAB_ANCHOR, LAB_SITE, LAB_FAR]);
                await insertRows(
                  admin,
                  LAB_SOURCES.map(
                    (source): SeedRow => ({
                      ts: new Date(live * 1000),
                      probe_id: live,
                      agent: LAB_AGENT,
                      source,
                      dns_ms: null,
                      connect_ms: null,
                      tls_ms: null,
                      ttfb_ms: null,
                      total_ms: fails.has(source) ? 1500 : 1,
                      status: null,
                      disconnected: fails.has(source),
                      error: fails.has(source) ? 'timeout' : null,
                      layer: LAB_LAYERS[source] ?? null,
                      diagnosis: 'isp',
                    }),
                  ),
                );
                const range = { from: LAB_FROM, to: LAB_TO };
                const lab = (rows: readonly Record<string, unknown>[]) =>
                  rows.filter((r) => r.agent === LAB_AGENT);
                const kinds = LAB_EXPECTED.outages.map((o) => o.kind);
                const starts = LAB_EXPECTED.outages.map((o) => o.start);
                for (const agent of ['all', 'lab'] as const) {
                  // 1 h at 5 s (single cycles), 1 min (minute rollups) and 1 h (hour rollups) steps.
                  for (const [maxDataPoints, stepS] of [
                    [1000, 5],
                    [60, 60],
                    [1, 3600],
                  ] as const) {
                    const s: Scenario = { name: `lab ${agent} ${stepS} s`, range, maxDataPoints, agent };
                    const intervalMs = calculateInterval(range, maxDataPoints, '1s');
                    assert.equal(intervalMs, stepS * 1000);
                    const overview = await runDashboard(
                      db,
                      dashboards.get('wmn-overview.json')!,
                      s,
                      intervalMs,
                    );
                    const sla = await runDashboard(db, dashboards.get('wmn-sla.json')!, s, intervalMs);

                    const recent = lab(rowsOf(overview, 'Recent outages'));
                    assert.deepEqual(
                      recent.map((o) => [iso(o.started_at), o.diagnosis]),
                      starts.map((start, i) => [start, kinds[i]]).reverse(),
                    );
                    assert.deepEqual(
                      lab(rowsOf(sla, 'Outages, to the second')).map((o) => [iso(o.started_at), o.diagnosis]),
                      starts.map((start, i) => [start, kinds[i]]),
                    );

                    // Codes: ok 0, partial 1, ipv6 2, dns 3, isp 4, lan 5, down 6; the worst per step.
                    const code = { ok: 0, partial: 1, dns: 3, isp: 4, lan: 5 } as const;
                    const timeline = rowsOf(overview, 'Diagnosis over time');
                    assert.ok(
                      timeline.every((r) => r.metric === LAB_AGENT),
                      'only lab has cycles in its hour',
                    );
                    const expected = Array.from({ length: 3600 / stepS }, (_, i) => {
                      const [lo, hi] = [i * stepS, (i + 1) * stepS];
                      const worst = LAB_EXPECTED.diagnosed
                        .filter((d) => d.at < hi && d.at + d.seconds > lo)
                        .reduce((n, d) => Math.max(n, code[d.diagnosis as keyof typeof code]), 0);
                      return [new Date(LAB_FROM.getTime() + lo * 1000).toISOString(), worst];
                    });
                    assert.deepEqual(
                      timeline.map((r) => [(r.time as Date).toISOString(), r.value]),
                      expected,
                    );

                    const nowRows = rowsOf(overview, 'Diagnosis now');
                    assert.deepEqual(
                      lab(nowRows).map((r) => r.diagnosis),
                      ['isp'],
                    );
                    if (agent === 'all') {
                      assert.deepEqual(
                        nowRows.filter((r) => r.agent !== LAB_AGENT).map((r) => [r.agent, r.diagnosis]),
                        [
                          ['home', 'stale'],
                          ['office', 'stale'],
                        ],
                      );
                    }

                    const certs = rowsOf(overview, 'Certificate expiry');
                    assert.deepEqual(
                      certs.map((r) => [
                        r.agent,
                        r.source,
                        (r.cert_expiry as Date).getTime(),
                        iso(r.seen_at),
                      ]),
                      [LAB_SITE, LAB_FAR].map((src) => [
                        LAB_AGENT,
                        src,
                        now.getTime() + LAB_CERT_DAYS[src]! * DAY_MS,
                        '2026-10-02T00:59:59Z',
                      ]),
                    );
                    for (const r of certs) {
                      const days = LAB_CERT_DAYS[r.source as string]!;
                      const left = r.days_left as number;
                      assert.ok(left <= days && left > days - 0.01, `${r.source}: ${left} days left`);
                    }
                  }
                }
              },
            );

            await t.test(
              'a 90-day view reads rollups only: the same answers with every raw row gone',
              async () => {
                const s: Scenario = {
                  name: '90 days, rollups',
                  range: NINETY_DAYS,
                  maxDataPoints: 1000,
                  agent: 'all',
                };
                const before = await both(s);
                const { rowCount } = await admin.query('DELETE FROM favicon_metrics');
                assert.ok((rowCount ?? 0) > 30_000);
                const after = await both(s);
                for (const [name, d] of [
                  ['overview', 'overview'],
                  ['sla', 'sla'],
                ] as const) {
                  for (const [k, a] of before[d]) {
                    // The classic panels read raw rows; so does wmn_cert_expiry (the latest row with a
                    // certificate, which retention, keeping a day at least, never deletes).
                    if (a.sql.includes('favicon_metrics') || a.sql.includes('wmn_cert_expiry')) continue;
                    const strip = (rows: readonly Record<string, unknown>[]) =>
                      rows.map(({ for_s: _ignored, ...rest }) => rest); // "for" moves with the clock
                    assert.deepEqual(strip(after[d].get(k)!.rows), strip(a.rows), `${name}: ${k}`);
                  }
                }
              },
            );
          });
        }),
      );
    } finally {
      if (rolesMade) await dropRoles([reader, writer]);
    }
  });
});
