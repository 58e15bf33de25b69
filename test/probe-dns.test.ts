/**
 * The dns:// prober against the real lab DNS server (test/lab/dns.ts) on loopback: its fault labels
 * inject each rcode, a dropped query, a truncated answer, a decoy reply and a known delay, and a closed
 * port gives the ICMP port-unreachable. Every result is checked against the data contract.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { after, before, describe, test } from 'node:test';
import { probeDns } from '../src/probes/dns.js';
import type {
  DnsProbeOptions,
  DnsRecordType,
  DnsSource,
  IpFamily,
  ProbeResult,
} from '../src/probes/types.js';
import { need } from './helpers/env.js';
import { measures, TOLERANCE_MS } from './helpers/measures.js';
import { assertContract, assertFailed, assertOk, assertSettlesOnAbort } from './helpers/probe-contract.js';
import { type LabDns, startLabDns } from './lab/dns.js';

/** Deadline of the cases that must time out: short, so the suite stays quick. */
const DEADLINE_MS = 300;
const NOCACHE_LABEL = /^wmn-[0-9a-f]{12}\./;

let lab: LabDns;
let lab6: LabDns | undefined;
let lab6Error = '';

before(async () => {
  lab = await startLabDns('127.0.0.1');
  try {
    lab6 = await startLabDns('::1');
  } catch (err) {
    lab6Error = String(err);
  }
});
after(() => Promise.all([lab.close(), lab6?.close()]));

interface Target {
  readonly name: string;
  readonly type?: DnsRecordType;
  readonly resolver?: string;
  readonly port?: number;
  readonly family?: IpFamily | null;
  readonly nocache?: boolean;
}

/** The source a config would give for `target`, by default the IPv4 lab server and an A query. */
function dns(target: Target): DnsSource {
  const { name, type = 'A', resolver = '127.0.0.1', port = lab.port, family = null } = target;
  const host = resolver.includes(':') ? `[${resolver}]` : resolver;
  const flags = `${target.nocache ? '&nocache' : ''}${family ? `#ipv${family}` : ''}`;
  const uri = `dns://${host}:${port}/${name}?type=${type}${flags}`;
  return { kind: 'dns', uri, family, resolver, port, name, type, nocache: target.nocache ?? false };
}

/** One probe of `target`, its result checked against the data contract. */
async function probe(
  target: Target,
  options: Partial<DnsProbeOptions> = {},
  signal = new AbortController().signal,
): Promise<ProbeResult> {
  const source = dns(target);
  const result = await probeDns(source, { timeoutMs: 2000, ...options }, { signal, clock: performance });
  assertContract(result, source.uri);
  return result;
}

/** A UDP port nothing listens on: bound, noted, closed. */
async function closedUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/** The names the lab was asked for during `run`. */
async function namesAsked(run: () => Promise<unknown>): Promise<string[]> {
  const before = lab.seen.length;
  await run();
  return lab.seen.slice(before);
}

describe('answers', () => {
  test('an A record: success, the resolver as remote address, no lookup, no TCP', async () => {
    const r = await probe({ name: 'lab.test' });
    assertOk(r, null);
    assert.equal(r.remoteIp, '127.0.0.1');
    assert.equal(r.dnsMs, null);
    assert.equal(r.connectMs, null);
    assert.equal(r.tlsMs, null);
    assert.equal(r.ttfbMs, null);
  });

  test('an AAAA record', async () => {
    assertOk(await probe({ name: 'v6.lab.test', type: 'AAAA' }), null);
  });

  test('a record at the end of a CNAME chain', async () => {
    assertOk(await probe({ name: 'cname.lab.test' }), null);
  });

  test('names compare without case', async () => {
    assertOk(await probe({ name: 'LAB.Test' }), null);
  });

  test('a resolver over IPv6, pinned to family 6', async (t) => {
    if (!need(t, lab6 !== undefined, `no IPv6 loopback: ${lab6Error}`)) return;
    const r = await probe({
      name: 'v6.lab.test',
      type: 'AAAA',
      resolver: '::1',
      port: lab6?.port,
      family: 6,
    });
    assertOk(r, null);
    assert.equal(r.remoteIp, '::1');
  });

  test('the total is the query round trip, an injected delay included', async (t) => {
    await measures(
      t,
      'total of an undelayed answer',
      0,
      async () => (await probe({ name: 'lab.test' })).totalMs,
    );
    await measures(t, 'total of d80', 80, async () => {
      const r = await probe({ name: 'd80.lab.test' });
      assertOk(r, null);
      return r.totalMs;
    });
  });
});

describe('rcodes', () => {
  test('NXDOMAIN', async () => {
    const r = await probe({ name: 'nowhere.example' });
    assertFailed(r, 'nxdomain');
    assert.equal(r.detail, 'rcode NXDOMAIN');
    assert.equal(r.remoteIp, '127.0.0.1');
  });

  test('SERVFAIL', async () => {
    assertFailed(await probe({ name: 'servfail.lab.test' }), 'servfail');
  });

  test('REFUSED', async () => {
    assertFailed(await probe({ name: 'refused.lab.test' }), 'dns_refused');
  });

  test('another error rcode', async () => {
    const r = await probe({ name: 'notimp.lab.test' });
    assertFailed(r, 'dns_error');
    assert.equal(r.detail, 'rcode NOTIMP');
  });

  test('an answer that does not decode', async () => {
    const r = await probe({ name: 'cut.lab.test' });
    assertFailed(r, 'dns_error');
    assert.equal(r.detail, 'malformed answer');
  });

  test('NOERROR without a record of the asked type: nodata', async () => {
    assertFailed(await probe({ name: 'lab.test', type: 'AAAA' }), 'nodata');
  });
});

describe('transport', () => {
  test('no answer: timeout at the deadline', async () => {
    const r = await probe({ name: 'drop.lab.test' }, { timeoutMs: DEADLINE_MS });
    assertFailed(r, 'timeout');
    assert.ok(Math.abs(r.totalMs - DEADLINE_MS) <= TOLERANCE_MS * 2, `total ${r.totalMs}`);
    assert.equal(r.remoteIp, '127.0.0.1');
  });

  test('a truncated answer is asked again over TCP', async () => {
    const r = await probe({ name: 'tc.lab.test' });
    assertOk(r, null);
    assert.notEqual(r.connectMs, null);
    assert.ok(r.totalMs >= (r.connectMs ?? 0), JSON.stringify(r));
  });

  test('a truncated answer that does not decode is asked again over TCP too', async () => {
    const r = await probe({ name: 'cut.tc.lab.test' });
    assertOk(r, null);
    assert.notEqual(r.connectMs, null);
  });

  test('the TCP retry is within the deadline', async () => {
    const r = await probe({ name: 'drop.tc.lab.test' }, { timeoutMs: DEADLINE_MS });
    assertFailed(r, 'timeout');
    assert.notEqual(r.connectMs, null, 'the TCP connect completed before the deadline');
  });

  test('a reply with another id or another question is ignored', async () => {
    assertOk(await probe({ name: 'd30.badid.lab.test' }), null);
    assertOk(await probe({ name: 'd30.badq.lab.test' }), null);
  });

  test('nothing listening on the port: refused', async () => {
    const r = await probe({ name: 'lab.test', port: await closedUdpPort() });
    assertFailed(r, 'refused');
    assert.equal(r.detail, 'ECONNREFUSED');
  });

  test('an abort settles promptly as a failed row', async () => {
    const source = dns({ name: 'drop.lab.test' });
    const r = await assertSettlesOnAbort(
      (signal) => probeDns(source, { timeoutMs: 5000 }, { signal, clock: performance }),
      source.uri,
    );
    assertFailed(r, 'timeout');
    assert.equal(r.detail, 'aborted');
  });

  test('an already aborted signal settles at once', async () => {
    const abort = new AbortController();
    abort.abort();
    assertFailed(await probe({ name: 'lab.test' }, {}, abort.signal), 'timeout');
  });

  test('no socket or timer outlives a probe, whatever its end', async () => {
    const closed = await closedUdpPort();
    const baseline = await handles();
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 50);
    await Promise.all([
      probe({ name: 'lab.test' }),
      probe({ name: 'tc.lab.test' }),
      probe({ name: 'drop.lab.test' }, { timeoutMs: 100 }),
      probe({ name: 'drop.tc.lab.test' }, { timeoutMs: 100 }),
      probe({ name: 'drop.lab.test' }, {}, abort.signal),
      probe({ name: 'lab.test', port: closed }),
      probe({ name: 'lab.test', resolver: 'localhost', family: 4 }),
    ]);
    assert.deepEqual(await handles(), baseline);
  });
});

/** Open sockets and pending timers of this process, by kind, once the closes under way are done. */
async function handles(): Promise<Record<string, number>> {
  await new Promise((resolve) => setTimeout(resolve, 50));
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

describe('the resolver by name', () => {
  test('looked up first, timed as dns', async () => {
    const r = await probe({ name: 'lab.test', resolver: 'localhost', family: 4 });
    assertOk(r, null);
    assert.notEqual(r.dnsMs, null);
    assert.equal(r.remoteIp, '127.0.0.1');
    assert.ok(r.totalMs >= (r.dnsMs ?? 0), JSON.stringify(r));
  });

  test('a name that does not resolve: dns', async (t) => {
    const missing = await lookup('wmn-missing.invalid').then(
      () => false,
      () => true,
    );
    if (!need(t, missing, 'the system resolves .invalid names here')) return;
    const r = await probe({ name: 'lab.test', resolver: 'wmn-missing.invalid' });
    assertFailed(r, 'dns');
    assert.equal(r.remoteIp, null);
  });

  test('an IP literal of the other family than the pinned one: internal', async () => {
    const r = await probe({ name: 'lab.test', resolver: '127.0.0.1', family: 6 });
    assertFailed(r, 'internal');
    assert.match(r.detail ?? '', /not an IPv6 address/);
  });
});

describe('nocache', () => {
  test('every query asks a fresh random name under the configured one', async () => {
    const asked = await namesAsked(async () => {
      assertOk(await probe({ name: 'lab.test', nocache: true }), null);
      assertOk(await probe({ name: 'lab.test', nocache: true }), null);
    });
    assert.equal(asked.length, 2, asked.join(' '));
    for (const name of asked) assert.match(name, new RegExp(`${NOCACHE_LABEL.source}lab\\.test$`));
    assert.notEqual(asked[0], asked[1]);
  });

  test('NXDOMAIN and an empty answer are the authoritative answers: success', async () => {
    const r = await probe({ name: 'nxdomain.lab.test', nocache: true });
    assertOk(r, null);
    assert.equal(r.detail, 'rcode NXDOMAIN');
    assertOk(await probe({ name: 'lab.test', type: 'AAAA', nocache: true }), null);
  });

  test('SERVFAIL and no answer still fail', async () => {
    assertFailed(await probe({ name: 'servfail.lab.test', nocache: true }), 'servfail');
    assertFailed(
      await probe({ name: 'drop.lab.test', nocache: true }, { timeoutMs: DEADLINE_MS }),
      'timeout',
    );
  });
});
