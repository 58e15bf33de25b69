import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatDuration, parseDuration } from '../src/config/duration.js';
import type { ConfigHost } from '../src/config/host.js';
import { loadConfig, parseConfig } from '../src/config/load.js';
import { renderJsonSchema } from '../src/config/schema.js';
import { parseSource } from '../src/config/sources.js';
import { editDistance, suggest } from '../src/config/suggest.js';
import { type Config, ConfigError, type ConfigIssue } from '../src/config/types.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/config/', import.meta.url));
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const fixture = (name: string) => join(FIXTURES, name);

/** A host with a fixed name and home, whose readable files are exactly `files`. */
function fakeHost(files: Record<string, string> = {}, facts: Partial<ConfigHost> = {}): ConfigHost {
  return {
    hostname: () => 'test-host',
    isRoot: () => false,
    homedir: () => '/home/tester',
    readFile: (path) => {
      const text = files[path];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      return text;
    },
    ...facts,
  };
}

const host = fakeHost();

/** The ConfigError `run` throws (failing the test if it throws anything else, or nothing). */
async function configError(run: () => unknown): Promise<ConfigError> {
  try {
    await run();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  assert.fail('expected a ConfigError');
}

/** Sources as plain data: URL objects compare equal whatever their href under deepEqual. */
function plain(config: Config) {
  return {
    ...config,
    sources: config.sources.map((s) => {
      if (s.kind !== 'http') return { uri: s.source.uri, kind: s.kind, layer: s.layer, options: s.options };
      assert.equal(s.source.url.href, s.source.uri.replace(/#ipv[46]$/, ''));
      return { uri: s.source.uri, kind: s.kind, layer: s.layer, engine: s.engine, options: s.options };
    }),
  };
}

const ORIGINAL_OPTIONS = { timeoutMs: 1500, followRedirects: true, maxRedirects: 10, insecure: false };
const ORIGINAL = { kind: 'http', layer: 'service', engine: 'curl', options: ORIGINAL_OPTIONS } as const;
const ECHO = { timeoutMs: 1500, count: 1 };
const DEFAULTS = {
  agent: 'test-host',
  intervalMs: 1000,
  timeoutMs: 1500,
  engine: 'curl',
  sources: [
    { uri: 'https://google.com/favicon.ico', ...ORIGINAL },
    { uri: 'https://cloudflare.com/favicon.ico', ...ORIGINAL },
    { uri: 'icmp://gateway', kind: 'icmp', layer: 'lan', options: ECHO },
    { uri: 'icmp://1.1.1.1', kind: 'icmp', layer: 'internet', options: ECHO },
    { uri: 'icmp://9.9.9.9', kind: 'icmp', layer: 'internet', options: ECHO },
  ],
  spread: false,
  database: { url: null, embeddedPort: null },
  dataDir: '/home/tester/.local/state/wmn',
  spoolMaxBytes: 256 * 1024 ** 2,
  web: { host: '127.0.0.1', port: 9797, token: null },
  alerts: null,
  rawRetentionMs: null,
  logLevel: 'info',
};

/** One fixture per rule, with the exact issues it must produce. */
const INVALID: Record<string, ConfigIssue[]> = {
  'unknown-key': [{ path: 'intervall', message: 'unknown key; did you mean "interval"?' }],
  'unknown-source-key': [
    { path: 'sources[0].folow_redirects', message: 'unknown key; did you mean "follow_redirects"?' },
  ],
  // YAML 1.2 reads an unquoted yes as a string, not true.
  'wrong-type': [{ path: 'sources[0].insecure', message: 'expected true or false, got a string ("yes")' }],
  duration: [
    {
      path: 'timeout',
      message:
        '"fast" is not a duration; write a number and a unit (ms, s, m, h, d), e.g. "1.5s", "500ms" or "1m30s"',
    },
  ],
  'duration-no-unit': [{ path: 'interval', message: '5 has no unit; write "5s" (units: ms, s, m, h, d)' }],
  'interval-fraction': [
    {
      path: 'interval',
      message:
        'must be a whole number of seconds (got 1500ms): probe_id is the unix second of the scheduled tick',
    },
  ],
  'timeout-too-large': [{ path: 'timeout', message: 'must be at most 1m (got 2m)' }],
  'sources-empty': [
    {
      path: 'sources',
      message: 'must list at least one source (remove the key to probe the default sources)',
    },
  ],
  'source-duplicate': [
    {
      path: 'sources[1]',
      message:
        'duplicates sources[0] (https://example.com/status); rows are keyed by source, so list each once',
    },
  ],
  'source-file': [
    {
      path: 'sources[0]',
      message:
        'file: URLs are not allowed: wmn probes network endpoints; use http://, https://, icmp://, tcp:// or dns://',
    },
  ],
  'source-option': [
    {
      path: 'sources[0]',
      message:
        'starts with "-", which curl could read as an option; write a full URL such as https://example.com/',
    },
  ],
  'source-credentials': [
    {
      path: 'sources[0]',
      message:
        'contains credentials ("user:password@"): they would be logged and stored with every row; remove them',
    },
  ],
  'source-scheme': [
    {
      path: 'sources[0]',
      message: 'scheme "ftp:" is not supported; use http://, https://, icmp://, tcp:// or dns://',
    },
  ],
  'source-misplaced-option': [
    { path: 'sources[0].follow_redirects', message: 'applies to http(s):// sources only' },
    { path: 'sources[1].count', message: 'applies to icmp:// sources only' },
    { path: 'sources[2].ip', message: 'is an IPv4 address, so it cannot be probed over IPv6' },
    {
      path: 'sources[4]',
      message: 'duplicates sources[3] (icmp://gateway#ipv6); rows are keyed by source, so list each once',
    },
    {
      path: 'sources[5].count',
      message: '100 echo requests need a timeout of at least 2000ms (10 ms apart, as long again to answer)',
    },
  ],
  'source-control': [
    {
      path: 'sources[0]',
      message: 'contains a control character or whitespace (U+0009) at character 21; remove it',
    },
  ],
  'source-port': [{ path: 'sources[0]', message: 'port 70000 is out of range (1-65535)' }],
  'source-no-host': [
    { path: 'sources[0]', message: 'has no host; write it like https://example.com/favicon.ico' },
  ],
  engine: [{ path: 'engine', message: '"htpp" is not one of curl, http; did you mean "http"?' }],
  'log-level': [{ path: 'log.level', message: '"verbose" is not one of debug, info, warn, error' }],
  agent: [
    {
      path: 'agent',
      message: '"my laptop" is not a valid agent name: use 1 to 64 letters, digits, ".", "_" or "-"',
    },
  ],
  'database-url': [
    {
      path: 'database.url',
      message:
        'must be a postgres:// or postgresql:// URL (got scheme "mysql:"), like postgres://wmn@db.example.com:5432/wmn',
    },
  ],
  'database-url-raw-password': [
    {
      path: 'database.url',
      message:
        'has "@" after the host: a password holding "/", "?", "#" or "@" must be percent-encoded, or kept in database.password_file',
    },
  ],
  'spool-size': [{ path: 'spool.max_size', message: '300 is not a size; write e.g. "256MiB"' }],
  'web-public': [
    {
      path: 'web.listen',
      message:
        'every address is reachable from other machines: set web.token_file (a file holding a token), or listen on 127.0.0.1',
    },
  ],
  'web-listen': [
    { path: 'web.listen', message: '"9797" is not host:port; write e.g. "127.0.0.1:9797" or "[::1]:9797"' },
  ],
  'retention-short': [{ path: 'retention.raw', message: 'must be at least 1d (got 6h)' }],
  'yaml-syntax': [
    {
      path: '',
      message: 'YAML syntax error at line 4, column 1: All mapping items must start at the same column',
    },
  ],
  'alerts-value': [{ path: 'alerts', message: 'expected a mapping (key: value), got a string ("yes")' }],
  'alerts-unknown-key': [{ path: 'alerts.lnk_down', message: 'unknown key; did you mean "link_down"?' }],
  'alerts-rule-value': [
    { path: 'alerts.link_down', message: 'expected "off" or a mapping with cycles and of, got false' },
  ],
  'alerts-ipv6-value': [
    { path: 'alerts.ipv6', message: 'expected "off" or a mapping with cycles and of, got false' },
  ],
  'alerts-cert-expiry-days': [{ path: 'alerts.cert_expiry.days', message: 'must be at least 1' }],
  'alerts-cycles-over-of': [
    {
      path: 'alerts.link_down.cycles',
      message:
        'must be at most of (5): the rule fires when 6 of the last 5 cycles failed, which can never happen',
    },
  ],
  'alerts-repeat': [
    {
      path: 'alerts.repeat',
      message: '"never" is not a duration or "off"; write e.g. "1h", "30m", or "off"',
    },
  ],
  'alerts-percent': [{ path: 'alerts.loss.above', message: '5 has no unit; write "5%"' }],
  'alerts-percent-range': [
    { path: 'alerts.loss.above', message: 'must be below 100% (got 100%): loss can never exceed it' },
  ],
  'alerts-window-interval': [
    { path: 'alerts.latency.window', message: 'must be at least the interval (1m), or it holds no cycle' },
  ],
  'alerts-maintenance-shape': [
    {
      path: 'alerts.maintenance[0]',
      message: 'give start and end (a one-off window), or every, at, for and time_zone (a recurring one)',
    },
  ],
  'alerts-maintenance-offset': [
    {
      path: 'alerts.maintenance[0].start',
      message:
        '"2026-03-01T02:00:00" has no UTC offset; write it with its offset, e.g. "2026-03-01T02:00:00+01:00" or "2026-03-01T01:00:00Z"',
    },
  ],
  'alerts-maintenance-date': [
    { path: 'alerts.maintenance[0].start', message: '"2026-02-30T02:00:00Z" is not a real date and time' },
  ],
  'alerts-maintenance-end': [{ path: 'alerts.maintenance[0].end', message: 'must be after start' }],
  'alerts-maintenance-mixed': [
    {
      path: 'alerts.maintenance[0].start',
      message: 'is for one-off windows; a recurring one has every, at, for and time_zone',
    },
  ],
  'alerts-maintenance-missing': [
    { path: 'alerts.maintenance[0].at', message: 'is required in a recurring window (with every)' },
  ],
  'alerts-maintenance-at': [
    { path: 'alerts.maintenance[0].at', message: '"2:30" is not a time of day; write "HH:MM", e.g. "02:30"' },
  ],
  'alerts-maintenance-day': [
    {
      path: 'alerts.maintenance[0].every[1]',
      message:
        '"sundy" is not a day; write "day" (every day) or weekday names (mon … sun); did you mean "sunday"?',
    },
  ],
  'alerts-maintenance-time-zone': [
    {
      path: 'alerts.maintenance[0].time_zone',
      message: '"Europe/Berln" is not a time zone; did you mean "Europe/Berlin"?',
    },
  ],
  'alerts-maintenance-never-ends': [
    {
      path: 'alerts.maintenance[0].for',
      message: 'must be shorter than the 1d between two starts of the window, or it never ends',
    },
  ],
  'alerts-notifier-type': [
    {
      path: 'alerts.notifiers[0].type',
      message: '"slak" is not one of webhook, slack, ntfy, email, command; did you mean "slack"?',
    },
  ],
  'alerts-notifier-no-type': [
    { path: 'alerts.notifiers[0].type', message: 'is required: one of webhook, slack, ntfy, email, command' },
  ],
  'alerts-notifier-url': [
    { path: 'alerts.notifiers[0].url', message: 'must be an http:// or https:// URL (got scheme "ftp:")' },
  ],
  'alerts-notifier-credentials': [
    {
      path: 'alerts.notifiers[0].url',
      message: 'contains credentials ("user:password@"): they would be logged; remove them',
    },
  ],
  'alerts-secret-inline': [
    {
      path: 'alerts.notifiers[0].secret',
      message:
        'secrets are not written in this file: put it in a file only wmn can read, and set secret_file',
    },
  ],
  'alerts-secret-file': [
    { path: 'alerts.notifiers[0].token_file', message: `cannot read ${fixture('ntfy-token')}: no such file` },
  ],
  'alerts-email-to': [{ path: 'alerts.notifiers[0].to', message: 'is required' }],
  'alerts-email-address': [
    {
      path: 'alerts.notifiers[0].to[0]',
      message: '"ops.example.com" is not a mail address; write it like ops@example.com',
    },
  ],
  'alerts-email-auth': [{ path: 'alerts.notifiers[0].username', message: 'is required with password_file' }],
  'alerts-notifier-name': [
    {
      path: 'alerts.notifiers[1].name',
      message:
        '"ops" is also the name of notifiers[0]; names must be unique (the outbox tracks deliveries by name)',
    },
  ],
  'alerts-template': [
    {
      path: 'alerts.notifiers[0].template.title',
      message: 'unknown placeholder {{sumary}}; did you mean {{summary}}?',
    },
  ],
  'alerts-command-argv': [
    {
      path: 'alerts.notifiers[0].argv',
      message: 'is empty; give the program and its arguments, e.g. [/usr/local/bin/page, --urgent]',
    },
  ],
};

/** Secrets written into fixtures, which no message may repeat. */
const SECRETS: Record<string, string> = {
  'source-credentials': 's3cret-pass',
  'database-url': 'hunter2',
  'database-url-raw-password': 'hunter3',
  'alerts-notifier-credentials': 't0ps3cret',
  'alerts-secret-inline': 'hmac-hunter4',
};

describe('config: one fixture per bad-config rule', () => {
  for (const [rule, issues] of Object.entries(INVALID)) {
    it(`invalid-${rule}.yaml`, async () => {
      const file = fixture(`invalid-${rule}.yaml`);
      const err = await configError(() => loadConfig({ file, env: {}, host }));
      assert.equal(err.file, file);
      assert.deepEqual(err.issues, issues);
      assert.equal(err.code, 'config');
      const secret = SECRETS[rule];
      if (secret) assert.ok(!err.message.includes(secret), err.message);
    });
  }

  it('has an expectation for every invalid fixture', () => {
    const fixtures = readdirSync(FIXTURES).filter((name) => name.startsWith('invalid-'));
    assert.deepEqual(
      fixtures.sort(),
      Object.keys(INVALID)
        .map((rule) => `invalid-${rule}.yaml`)
        .sort(),
    );
  });

  it('reports every problem of a file at once, each with its key path', () => {
    const text =
      'agent: a b\ninterval: 2\nsources:\n  - ftp://x/\n  - url: https://y/\n    timout: 1s\nlog: {}\nfoo: 1\n';
    const err = assertThrowsConfig(() => parseConfig(text, 'many.yaml', {}, host));
    assert.deepEqual(
      err.issues.map((issue) => issue.path),
      ['agent', 'interval', 'sources[0]', 'sources[1].timout', 'foo'],
    );
    assert.match(err.message, /^invalid configuration in many\.yaml:\n {2}- agent: /);
  });

  it('lists the valid keys when no key is close enough to suggest', () => {
    const err = assertThrowsConfig(() => parseConfig('database:\n  colour: red\n', null, {}, host));
    assert.deepEqual(err.issues, [
      { path: 'database.colour', message: 'unknown key; expected one of: url, password_file, embedded_port' },
    ]);
  });

  it('reports a source entry that is neither a string nor a mapping', () => {
    const err = assertThrowsConfig(() => parseConfig('sources:\n  - 7\n  -\n', null, {}, host));
    assert.deepEqual(err.issues, [
      {
        path: 'sources[0]',
        message: 'expected a source URI or a mapping with a "url" key, got a number (7)',
      },
      { path: 'sources[1]', message: 'expected a source URI or a mapping with a "url" key, got no value' },
    ]);
  });

  it('refuses an empty value rather than guessing it means the default', () => {
    const err = assertThrowsConfig(() => parseConfig('log:\n', null, {}, host));
    assert.deepEqual(err.issues, [
      { path: 'log', message: 'has no value; give one, or remove the key to use the default' },
    ]);
  });

  it('refuses a file that is not a mapping, and one with several documents', () => {
    assert.deepEqual(assertThrowsConfig(() => parseConfig('- a\n', null, {}, host)).issues, [
      { path: '', message: 'expected a mapping (key: value), got a list' },
    ]);
    assert.deepEqual(assertThrowsConfig(() => parseConfig('interval: 1s\n---\n', null, {}, host)).issues, [
      {
        path: '',
        message:
          'YAML syntax error at line 2, column 1: the file holds more than one YAML document (---); wmn reads one',
      },
    ]);
  });

  it('says which file it could not read', async () => {
    const file = fixture('no-such-file.yaml');
    const err = await configError(() => loadConfig({ file, env: {}, host }));
    assert.deepEqual(err.issues, [{ path: '', message: 'cannot read the file: no such file' }]);
    assert.equal(err.file, file);
  });
});

function assertThrowsConfig(run: () => unknown): ConfigError {
  try {
    run();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  assert.fail('expected a ConfigError');
}

describe('config: defaults and the example', () => {
  it('reproduces the original behaviour with no file', async () => {
    assert.deepEqual(plain(await loadConfig({ env: {}, host })), DEFAULTS);
  });

  it('treats an empty or comments-only file as all defaults', () => {
    assert.deepEqual(plain(parseConfig('', 'empty.yaml', {}, host)), DEFAULTS);
    assert.deepEqual(plain(parseConfig('# nothing yet\n', 'empty.yaml', {}, host)), DEFAULTS);
  });

  it('reads the file named by WMN_CONFIG when no file is given', async () => {
    const config = await loadConfig({ env: { WMN_CONFIG: fixture('valid-full.yaml') }, host: fullHost() });
    assert.equal(config.agent, 'lab-1');
  });

  it('loads examples/wmn.yaml, which spells out exactly the defaults', async () => {
    const config = await loadConfig({ file: join(ROOT, 'examples/wmn.yaml'), env: {}, host });
    assert.deepEqual(plain(config), DEFAULTS);
  });

  it('stores state in /var/lib/wmn as root, else in the XDG state directory', () => {
    assert.equal(parseConfig('', null, {}, fakeHost({}, { isRoot: () => true })).dataDir, '/var/lib/wmn');
    assert.equal(parseConfig('', null, { XDG_STATE_HOME: '/xdg/state' }, host).dataDir, '/xdg/state/wmn');
    // A relative XDG_STATE_HOME is invalid by the spec and ignored.
    assert.equal(
      parseConfig('', null, { XDG_STATE_HOME: 'rel' }, host).dataDir,
      '/home/tester/.local/state/wmn',
    );
  });

  it('refuses a host name that is not a valid agent name, pointing at the fix', () => {
    const err = assertThrowsConfig(() => parseConfig('', null, {}, fakeHost({}, { hostname: () => 'a b' })));
    assert.deepEqual(err.issues, [
      {
        path: 'agent',
        message:
          'the host name "a b" is not a valid agent name: use 1 to 64 letters, digits, ".", "_" or "-"; set agent or WMN_AGENT',
      },
    ]);
  });
});

/** A host holding the files valid-full.yaml names. */
function fullHost(extra: Record<string, string> = {}): ConfigHost {
  return fakeHost({
    [fixture('lab-ca.pem')]: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    '/run/secrets/db-password': 'pa ss@word/%41\n',
    [fixture('web-token')]: '0123456789abcdef0123\n',
    ...extra,
  });
}

describe('config: every key', () => {
  it('maps per-source options onto SourceConfig, defaulting engine and timeout from the top level', async () => {
    const config = await loadConfig({ file: fixture('valid-full.yaml'), env: {}, host: fullHost() });
    assert.deepEqual(plain(config), {
      agent: 'lab-1',
      intervalMs: 5000,
      timeoutMs: 2000,
      engine: 'http',
      sources: [
        {
          uri: 'https://example.com/',
          kind: 'http',
          layer: 'service',
          engine: 'http',
          options: { timeoutMs: 2000, followRedirects: true, maxRedirects: 10, insecure: false },
        },
        {
          uri: 'http://192.0.2.10:8080/health',
          kind: 'http',
          layer: 'internet',
          engine: 'curl',
          options: {
            timeoutMs: 500,
            followRedirects: false,
            maxRedirects: 0,
            insecure: true,
            caFile: fixture('lab-ca.pem'),
          },
        },
        { uri: 'icmp://gateway', kind: 'icmp', layer: 'lan', options: { timeoutMs: 2000, count: 5 } },
        {
          uri: 'icmp://[2001:db8::1]',
          kind: 'icmp',
          layer: 'internet',
          options: { timeoutMs: 1000, count: 1 },
        },
        {
          uri: 'dns://192.0.2.53/example.com?type=AAAA&nocache',
          kind: 'dns',
          layer: 'isp',
          options: { timeoutMs: 2000 },
        },
        { uri: 'tcp://example.net:443#ipv4', kind: 'tcp', layer: 'service', options: { timeoutMs: 2000 } },
        { uri: 'tcp://example.net:443#ipv6', kind: 'tcp', layer: 'service', options: { timeoutMs: 2000 } },
      ],
      spread: false,
      // The password file's content, percent-encoded so pg decodes it back exactly.
      database: { url: 'postgres://wmn:pa%20ss%40word%2F%2541@db.example.com:5432/wmn', embeddedPort: 5433 },
      dataDir: fixture('state'),
      spoolMaxBytes: 64 * 1024 ** 2,
      web: { host: '::', port: 9797, token: '0123456789abcdef0123' },
      alerts: null,
      rawRetentionMs: 30 * 86_400_000,
      logLevel: 'debug',
    });
  });

  it('checks the files the configuration names', async () => {
    const err = await configError(() =>
      loadConfig({
        file: fixture('valid-full.yaml'),
        env: {},
        host: fullHost({ [fixture('lab-ca.pem')]: 'junk' }),
      }),
    );
    assert.deepEqual(err.issues, [
      {
        path: 'sources[1].ca_file',
        message: `${fixture('lab-ca.pem')} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
      },
    ]);
    const missing = await configError(() => loadConfig({ file: fixture('valid-full.yaml'), env: {}, host }));
    assert.deepEqual(
      missing.issues.map((issue) => issue.message),
      [
        `cannot read ${fixture('lab-ca.pem')}: no such file`,
        'cannot read /run/secrets/db-password: no such file',
        `cannot read ${fixture('web-token')}: no such file`,
      ],
    );
  });
});

describe('config: alerts', () => {
  const ALERT_DEFAULTS = {
    linkDown: { cycles: 3, of: 5 },
    sourceDown: { cycles: 5, of: 5 },
    latency: null,
    loss: null,
    ipv6: { cycles: 5, of: 5 },
    certExpiry: { days: 14 },
    repeatMs: 3_600_000,
    maxPerHour: 20,
    maintenance: [],
    notifiers: [],
  };

  it('is off without the key, and on with the defaults when present, even empty', () => {
    assert.equal(parseConfig('', null, {}, host).alerts, null);
    assert.deepEqual(parseConfig('alerts: {}\n', null, {}, host).alerts, ALERT_DEFAULTS);
    assert.deepEqual(parseConfig('alerts:\n  # link_down: off\n', null, {}, host).alerts, ALERT_DEFAULTS);
  });

  it('turns a rule or the reminders off with "off", and fills a partly written rule from its defaults', () => {
    const text = 'alerts:\n  link_down: off\n  source_down: { cycles: 2 }\n  repeat: off\n';
    const alerts = parseConfig(text, null, {}, host).alerts;
    assert.equal(alerts?.linkDown, null);
    assert.deepEqual(alerts?.sourceDown, { cycles: 2, of: 5 });
    assert.equal(alerts?.repeatMs, null);
  });

  it('takes ipv6 and cert_expiry, on by default, "off" to turn them off', async () => {
    const config = await loadConfig({ file: fixture('valid-alerts-rules.yaml'), env: {}, host });
    assert.deepEqual(config.alerts?.ipv6, { cycles: 3, of: 4 });
    assert.deepEqual(config.alerts?.certExpiry, { days: 30 });
    const off = parseConfig('alerts:\n  ipv6: off\n  cert_expiry: off\n', null, {}, host).alerts;
    assert.equal(off?.ipv6, null);
    assert.equal(off?.certExpiry, null);
    const partly = parseConfig('alerts:\n  ipv6: { cycles: 2 }\n  cert_expiry: {}\n', null, {}, host).alerts;
    assert.deepEqual(partly?.ipv6, { cycles: 2, of: 5 });
    assert.deepEqual(partly?.certExpiry, { days: 14 });
  });

  it('maps every key, reading secrets from their files (relative to the config file)', async () => {
    const files = {
      [fixture('hook-secret')]: 'hmac-key\n',
      '/run/secrets/ntfy': 'tk_123\n',
      '/run/secrets/smtp': 'mail pass\n',
      [fixture('lab-ca.pem')]: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    };
    const config = await loadConfig({ file: fixture('valid-alerts.yaml'), env: {}, host: fakeHost(files) });
    const none = { template: {} };
    assert.deepEqual(config.alerts, {
      linkDown: { cycles: 2, of: 4 },
      sourceDown: null,
      latency: { phase: 'ttfb', thresholdMs: 250, windowMs: 600_000 },
      loss: { abovePct: 2.5, windowMs: 900_000 },
      ipv6: { cycles: 5, of: 5 },
      certExpiry: { days: 14 },
      repeatMs: 1_800_000,
      maxPerHour: 12,
      maintenance: [
        { kind: 'once', start: new Date('2026-03-01T01:00:00Z'), end: new Date('2026-03-01T03:30:00Z') },
        { kind: 'weekly', days: [0, 6], at: '02:30', durationMs: 7_200_000, timeZone: 'Europe/Berlin' },
        { kind: 'daily', days: [0, 1, 2, 3, 4, 5, 6], at: '23:45', durationMs: 1_800_000, timeZone: 'UTC' },
      ],
      notifiers: [
        {
          ...none,
          name: 'webhook-1',
          type: 'webhook',
          url: 'https://hooks.example.com/wmn',
          secret: 'hmac-key',
        },
        {
          name: 'slack-1',
          type: 'slack',
          url: 'https://hooks.slack.com/services/T0/B0/x',
          template: {
            title: '{{agent}}: {{summary}}',
            body: '{{summary}} {{delayed}} ({{details.errors}}, {{started_at}})',
          },
        },
        { ...none, name: 'phone', type: 'ntfy', url: 'https://ntfy.sh/wmn-alerts', token: 'tk_123' },
        {
          ...none,
          name: 'email-1',
          type: 'email',
          host: 'smtp.example.com',
          port: 587,
          security: 'starttls',
          username: 'wmn',
          password: 'mail pass',
          from: 'wmn@example.com',
          to: ['ops@example.com', 'oncall@example.com'],
          caFile: fixture('lab-ca.pem'),
        },
        {
          ...none,
          name: 'email-2',
          type: 'email',
          host: 'localhost',
          port: 25,
          security: 'none',
          username: null,
          password: null,
          from: 'wmn@example.com',
          to: ['root@localhost'],
          caFile: null,
        },
        {
          ...none,
          name: 'command-1',
          type: 'command',
          argv: ['/usr/local/bin/page', '--urgent'],
          timeoutMs: 30_000,
        },
        { ...none, name: 'webhook-2', type: 'webhook', url: 'http://127.0.0.1:8080/second', secret: null },
      ],
    });
  });

  it('accepts the commented-out example in examples/wmn.yaml once uncommented', () => {
    const text = readFileSync(join(ROOT, 'examples/wmn.yaml'), 'utf8');
    const block = text
      .slice(text.indexOf('# alerts:'))
      .split('\n')
      .map((line) => line.replace(/^# ?/, ''))
      .join('\n');
    const secrets = fakeHost({ '/etc/wmn/webhook-secret': 'k\n', '/etc/wmn/smtp-password': 'p\n' });
    const alerts = parseConfig(block, null, {}, secrets).alerts;
    assert.deepEqual(
      alerts?.notifiers.map((n) => n.name),
      ['webhook-1', 'slack-1', 'ntfy-1', 'email-1', 'command-1'],
    );
  });

  it('says where a secret goes wherever one is written inline', () => {
    const err = assertThrowsConfig(() =>
      parseConfig('database:\n  url: postgres://wmn@db/wmn\n  password: hunter5\n', null, {}, host),
    );
    assert.deepEqual(err.issues, [
      {
        path: 'database.password',
        message:
          'secrets are not written in this file: put it in a file only wmn can read, and set password_file',
      },
    ]);
    assert.ok(!err.message.includes('hunter5'));
  });
});

describe('config: spread', () => {
  it('starts source i of n at i/n of the interval after the tick, and every source at the tick by default', () => {
    const sources = 'sources: [https://a.example/, https://b.example/, https://c.example/]\n';
    const offsets = (text: string) => parseConfig(text, null, {}, host).sources.map((s) => s.offsetMs ?? 0);
    assert.deepEqual(offsets(`interval: 2s\nspread: true\n${sources}`), [0, 666, 1333]);
    assert.deepEqual(offsets(`interval: 2s\n${sources}`), [0, 0, 0]);
  });
});

describe('config: environment', () => {
  const text =
    'agent: from-file\ndata_dir: /from/file\nlog:\n  level: warn\ndatabase:\n  url: postgres://file@db/wmn\n';

  it('overrides the file with WMN_AGENT, WMN_DATA_DIR, WMN_LOG_LEVEL and DATABASE_URL', () => {
    const env = {
      WMN_AGENT: 'from-env',
      WMN_DATA_DIR: '/from/env',
      WMN_LOG_LEVEL: 'debug',
      DATABASE_URL: 'postgresql://env@db.example.com/wmn',
    };
    const config = parseConfig(text, '/etc/wmn/wmn.yaml', env, host);
    assert.equal(config.agent, 'from-env');
    assert.equal(config.dataDir, '/from/env');
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.database.url, 'postgresql://env@db.example.com/wmn');
  });

  it('treats an empty variable as unset', () => {
    const config = parseConfig(text, '/etc/wmn/wmn.yaml', { WMN_AGENT: '', DATABASE_URL: '' }, host);
    assert.equal(config.agent, 'from-file');
    assert.equal(config.database.url, 'postgres://file@db/wmn');
  });

  it('checks each variable like the key it overrides, naming the variable and masking passwords', () => {
    const env = { WMN_LOG_LEVEL: 'debg', DATABASE_URL: 'mysql://root:topsecret@db/wmn', WMN_AGENT: 'x/y' };
    const err = assertThrowsConfig(() => parseConfig('', null, env, host));
    assert.deepEqual(err.issues, [
      {
        path: 'WMN_AGENT',
        message: '"x/y" is not a valid agent name: use 1 to 64 letters, digits, ".", "_" or "-"',
      },
      {
        path: 'WMN_LOG_LEVEL',
        message: '"debg" is not one of debug, info, warn, error; did you mean "debug"?',
      },
      {
        path: 'DATABASE_URL',
        message:
          'must be a postgres:// or postgresql:// URL (got scheme "mysql:"), like postgres://wmn@db.example.com:5432/wmn',
      },
    ]);
    assert.ok(!err.message.includes('topsecret'));
  });

  it('puts the password from WMN_DATABASE_PASSWORD_FILE into the URL, replacing one written there', () => {
    const files = { '/run/pw': 'from-file\n' };
    const env = { DATABASE_URL: 'postgres://wmn:old@db/wmn', WMN_DATABASE_PASSWORD_FILE: '/run/pw' };
    const config = parseConfig('', null, env, fakeHost(files));
    assert.equal(config.database.url, 'postgres://wmn:from-file@db/wmn');
  });

  it('refuses a password file without a server URL, or one it cannot read, without echoing secrets', () => {
    const noUrl = assertThrowsConfig(() =>
      parseConfig('', null, { WMN_DATABASE_PASSWORD_FILE: '/run/pw' }, host),
    );
    assert.deepEqual(noUrl.issues, [
      {
        path: 'WMN_DATABASE_PASSWORD_FILE',
        message:
          'a password file needs a database URL (database.url or DATABASE_URL); the embedded server uses none',
      },
    ]);
    const env = { DATABASE_URL: 'postgres://wmn:hidden@db/wmn', WMN_DATABASE_PASSWORD_FILE: '/run/empty' };
    const empty = assertThrowsConfig(() => parseConfig('', null, env, fakeHost({ '/run/empty': '\n' })));
    assert.deepEqual(empty.issues, [{ path: 'WMN_DATABASE_PASSWORD_FILE', message: '/run/empty is empty' }]);
    assert.ok(!empty.message.includes('hidden'));
  });
});

describe('config: JSON Schema', () => {
  it('matches the committed schema/wmn-config.schema.json (run `npm run schema` after changing the schema)', () => {
    const committed = readFileSync(join(ROOT, 'schema/wmn-config.schema.json'), 'utf8');
    assert.equal(committed, renderJsonSchema());
  });

  it('describes the same keys the loader accepts', () => {
    const schema = JSON.parse(renderJsonSchema());
    assert.deepEqual(Object.keys(schema.properties), [
      'agent',
      'interval',
      'timeout',
      'engine',
      'sources',
      'spread',
      'database',
      'data_dir',
      'log',
      'spool',
      'web',
      'retention',
      'alerts',
    ]);
    assert.equal(schema.additionalProperties, false);
    assert.equal(schema.properties.interval.default, '1s');
  });
});

describe('config: source URIs', () => {
  it('canonicalises to the WHATWG href', () => {
    const parsed = parseSource('HTTPS://Example.COM');
    assert.ok(parsed.ok);
    assert.equal(parsed.value.uri, 'https://example.com/');
    const v6 = parseSource('http://[::1]:8080/x');
    assert.ok(v6.ok);
    assert.equal(v6.value.uri, 'http://[::1]:8080/x');
  });

  it('explains the common mistakes', () => {
    const message = (text: string) => {
      const parsed = parseSource(text);
      return parsed.ok ? 'ok' : parsed.message;
    };
    assert.equal(
      message('example.com:8080/x'),
      'has no scheme; write it with http://, https://, icmp://, tcp:// or dns:// in front, e.g. https://example.com/',
    );
    assert.equal(message('https://h:abc/'), 'port "abc" is not a number');
    assert.equal(message('http://h:0/'), 'port 0 is out of range (1-65535)');
    assert.equal(
      message('https://example.com/\u200e'),
      'contains a control character or whitespace (U+200E) at character 21; remove it',
    );
    // Never echoed: a password in an otherwise broken URL.
    assert.ok(!message('https://u:pw-secret@h:99999/').includes('pw-secret'));
  });
});

describe('config: durations and suggestions', () => {
  const any = { min: 0, max: Number.POSITIVE_INFINITY };

  it('parses units, compound durations and fractions without binary noise', () => {
    const ms = (text: string) => {
      const parsed = parseDuration(text, any);
      return parsed.ok ? parsed.value : parsed.message;
    };
    assert.equal(ms('500ms'), 500);
    assert.equal(ms('1.5s'), 1500);
    assert.equal(ms('1.1s'), 1100);
    assert.equal(ms('2m'), 120_000);
    assert.equal(ms('1h'), 3_600_000);
    assert.equal(ms('1m30s'), 90_000);
    assert.equal(ms('1.5'), '"1.5" has no unit; write "1.5s" (units: ms, s, m, h, d)');
    assert.match(String(ms('-1s')), /is not a duration/);
  });

  it('formats durations in the largest unit that divides them', () => {
    assert.deepEqual([60_000, 1500, 3_600_000, 250].map(formatDuration), ['1m', '1.5s', '1h', '250ms']);
  });

  it('suggests near misses only', () => {
    assert.equal(editDistance('htpp', 'http'), 1);
    assert.equal(suggest('htpp', ['curl', 'http']), 'http');
    assert.equal(suggest('followRedirects', ['url', 'follow_redirects']), 'follow_redirects');
    assert.equal(suggest('data-dir', ['data_dir', 'database']), 'data_dir');
    assert.equal(suggest('colour', ['url', 'password_file', 'embedded_port']), undefined);
  });
});
