/**
 * The shared prober suite: one set of cases, run against every engine in ENGINES with the lab's real
 * servers (test/lab), then the engines compared with each other on the same targets.
 *
 * Timing tolerances are generous (a loaded 2-core CI machine, the lab sharing the in-process engine's
 * event loop); tight accuracy is the benchmark's job. Measured figures are printed as diagnostics.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { rootCertificates } from 'node:tls';
import { chainExpiry, opensslTimeToUnix } from '../src/probes/http-hop.js';
import { ENGINES } from '../src/probes/index.js';
import type { Engine, HttpProbeOptions, IpFamily, ProbeResult } from '../src/probes/types.js';
import { CURL_AVAILABLE, need } from './helpers/env.js';
import { measures, TOLERANCE_MS } from './helpers/measures.js';
import { assertContract, assertFailed, assertOk, outcome, phaseSum } from './helpers/probe-contract.js';
import { labCerts } from './lab/certs.js';
import { type Lab, startLab } from './lab/index.js';
import { probeOnceIn, type RemoteLab, serveLabIn } from './lab/isolated.js';
import { type Listening, listen } from './lab/listen.js';
import { createNetns, type Netns } from './lab/netns.js';
import { labRoutes } from './lab/routes.js';

/** Deadline of the cases that must time out: short, so the suite stays quick. */
const DEADLINE_MS = 300;
const ENGINE_NAMES = Object.keys(ENGINES) as Engine[];

let lab: Lab | undefined;
let labError = '';
/** The lab's HTTPS routes on ::1 (the lab listens on 127.0.0.1 only), for probes pinned to IPv6. */
let https6: Listening | undefined;
let https6Error = '';

before(async () => {
  try {
    lab = await startLab();
  } catch (err) {
    labError = String(err);
    return;
  }
  try {
    const { cert, key } = await labCerts();
    https6 = await listen(createHttpsServer({ cert, key }, labRoutes), '::1');
  } catch (err) {
    https6Error = String(err);
  }
});
after(() => Promise.all([lab?.close(), https6?.close()]));

/** A certificate's notAfter in unix seconds, read by Node's X509 parser (not the engines' own parsing). */
function notAfter(pem: string): number {
  return Date.parse(new X509Certificate(pem).validTo) / 1000;
}

/** The lab, when this test can run: skips (or fails under WMN_TEST_STRICT) when a system tool is missing. */
function ready(t: TestContext, engine?: Engine): Lab | undefined {
  if (!need(t, lab !== undefined, `the lab needs the openssl CLI to make its CA: ${labError}`))
    return undefined;
  if (engine === 'curl' && !need(t, CURL_AVAILABLE, 'the curl engine needs the curl CLI')) return undefined;
  return lab;
}

/** One probe of `raw` with `engine`, trusting the lab CA unless `overrides` say otherwise. */
function probe(
  engine: Engine,
  raw: string,
  overrides: Partial<HttpProbeOptions> = {},
  family: IpFamily | null = null,
): Promise<ProbeResult> {
  const url = new URL(raw);
  const options: HttpProbeOptions = {
    timeoutMs: 2000,
    followRedirects: true,
    maxRedirects: 10,
    insecure: false,
    ...(lab ? { caFile: lab.caFile } : {}),
    ...overrides,
  };
  return ENGINES[engine]({ kind: 'http', uri: url.href, url, family }, options, {
    signal: new AbortController().signal,
    clock: performance,
  }).then((result) => {
    assertContract(result, url.href);
    return result;
  });
}

for (const engine of ENGINE_NAMES) {
  describe(`prober ${engine}`, () => {
    test('https to an IP literal: every phase but dns', async (t) => {
      const lab = ready(t, engine);
      if (!lab) return;
      const r = await probe(engine, lab.url('https'));
      assertOk(r);
      assert.equal(r.dnsMs, null);
      for (const value of [r.connectMs, r.tlsMs, r.ttfbMs]) assert.notEqual(value, null);
      assert.equal(r.remoteIp, '127.0.0.1');
    });

    test('https to a name: dns too', async (t) => {
      const lab = ready(t, engine);
      if (!lab) return;
      const r = await probe(engine, lab.url('https', '/ok', 'localhost'));
      assertOk(r);
      for (const value of [r.dnsMs, r.connectMs, r.tlsMs, r.ttfbMs]) assert.notEqual(value, null);
    });

    test('http://: no tls phase', async (t) => {
      const lab = ready(t, engine);
      if (!lab) return;
      const r = await probe(engine, lab.url('http'));
      assertOk(r);
      assert.equal(r.tlsMs, null);
      assert.notEqual(r.connectMs, null);
      assert.notEqual(r.ttfbMs, null);
    });

    test('an HTTP error status is a response, not a failure', async (t) => {
      const lab = ready(t, engine);
      if (!lab) return;
      assertOk(await probe(engine, lab.url('https', '/status/503')), 503);
      assertOk(await probe(engine, lab.url('http', '/status/404')), 404);
    });

    test('a body is read to its end', async (t) => {
      const lab = ready(t, engine);
      if (!lab) return;
      const r = await probe(engine, lab.url('http', '/big/5000000'));
      assertOk(r);
      assert.ok(r.totalMs > (r.ttfbMs ?? Number.POSITIVE_INFINITY), JSON.stringify(r));
    });

    test('a closed port is refused, with no phase after dns', async (t) => {
      const lab = ready(t, engine);
      if (!lab) return;
      const r = await probe(engine, lab.url('closed'));
      assertFailed(r, 'refused');
      assert.deepEqual([r.connectMs, r.tlsMs, r.ttfbMs], [null, null, null]);
    });

    test('a server that never answers times out at the deadline, keeping the connect phase', async (t) => {
      const lab = ready(t, engine);
      if (!lab) return;
      await measures(t, 'total of a timed-out probe', DEADLINE_MS, async () => {
        const r = await probe(engine, lab.url('hang'), { timeoutMs: DEADLINE_MS });
        assertFailed(r, 'timeout');
        assert.notEqual(r.connectMs, null);
        assert.equal(r.ttfbMs, null);
        return r.totalMs;
      });
    });

    test('a first byte later than the deadline times out, keeping connect and tls', async (t) => {
      const lab = ready(t, engine);
      if (!lab) return;
      await measures(t, 'total of a timed-out probe', DEADLINE_MS, async () => {
        const r = await probe(engine, lab.url('https', '/ttfb/5000'), { timeoutMs: DEADLINE_MS });
        assertFailed(r, 'timeout');
        assert.notEqual(r.connectMs, null);
        assert.notEqual(r.tlsMs, null);
        return r.totalMs;
      });
    });

    test('a reset during the TLS handshake is a tls failure', async (t) => {
      const lab = ready(t, engine);
      if (!lab) return;
      assertFailed(await probe(engine, lab.url('resetHandshake')), 'tls');
    });

    test('an empty reply and a non-HTTP answer are http_protocol failures', async (t) => {
      const lab = ready(t, engine);
      if (!lab) return;
      for (const target of ['emptyReply', 'garbage'] as const) {
        const r = await probe(engine, lab.url(target));
        assertFailed(r, 'http_protocol');
        assert.notEqual(r.connectMs, null, target);
      }
    });

    test('redirects: followed to the end, not followed when disabled', async (t) => {
      const lab = ready(t, engine);
      if (!lab) return;
      assertOk(await probe(engine, lab.url('https', '/redirect/3')));
      assertOk(await probe(engine, lab.url('https', '/redirect/1'), { followRedirects: false }), 302);
    });

    test('redirects: dns/connect/tls are sums over the hops, ttfb and total span the chain', async (t) => {
      const lab = ready(t, engine);
      if (!lab) return;
      // Every hop (3: two redirects, then /ok) is a new connection whose handshake the lab delays 50 ms;
      // each handshake adds its own noise, hence a tolerance per hop (still far from one hop's 50 ms).
      const url = await lab.handshakeDelayUrl(50, '/redirect/2');
      const hops = 3;
      const check = async () => {
        const r = await probe(engine, url);
        assertOk(r);
        assert.ok((r.ttfbMs ?? 0) >= hops * 50, `ttfb includes the earlier hops: ${JSON.stringify(r)}`);
        return r.tlsMs;
      };
      await measures(t, 'tls over 3 hops delayed 50 ms each', hops * 50, check, hops * TOLERANCE_MS);
    });

    test('redirects: a loop, or more hops than allowed, is too_many_redirects', async (t) => {
      const lab = ready(t, engine);
      if (!lab) return;
      for (const r of [
        await probe(engine, lab.url('https', '/redirect-loop')),
        await probe(engine, lab.url('https', '/redirect/3'), { maxRedirects: 2 }),
      ]) {
        assert.deepEqual(outcome(r), { disconnected: false, status: 302, error: 'too_many_redirects' });
      }
      assertOk(await probe(engine, lab.url('https', '/redirect/3'), { maxRedirects: 3 }));
    });

    test('redirects: one deadline covers the whole chain', async (t) => {
      const lab = ready(t, engine);
      if (!lab) return;
      // Three hops whose handshakes take 60 ms each, the last one's first byte never in time: the
      // deadline passes on the last hop, where a deadline per hop would not have passed yet.
      const url = await lab.handshakeDelayUrl(60, '/redirect/2?to=/ttfb/5000');
      await measures(t, 'total of a chain timed out on its last hop', DEADLINE_MS, async () => {
        const r = await probe(engine, url, { timeoutMs: DEADLINE_MS });
        assertFailed(r, 'timeout');
        return r.totalMs;
      });
    });

    test('certificates: an unknown CA fails, the CA file or insecure succeed', async (t) => {
      const lab = ready(t, engine);
      if (!lab) return;
      const url = lab.url('https', '/ok', 'localhost');
      assertFailed(await probe(engine, url, { caFile: undefined }), 'tls');
      assertOk(await probe(engine, url, { caFile: lab.caFile }));
      assertOk(await probe(engine, url, { caFile: undefined, insecure: true }));
    });

    test('certificates: the earliest notAfter presented is reported, also after redirects', async (t) => {
      const lab = ready(t, engine);
      if (!lab) return;
      const expected = notAfter((await labCerts()).cert);
      for (const url of [lab.url('https', '/ok', 'localhost'), lab.url('https', '/redirect/2')]) {
        const r = await probe(engine, url);
        assertOk(r);
        assert.equal(r.certExpiresAt, expected, `${url}: ${JSON.stringify(r)}`);
      }
      // A response with an error status, or none in time, still had its handshake.
      assert.equal((await probe(engine, lab.url('https', '/status/503'))).certExpiresAt, expected);
      const late = await probe(engine, lab.url('https', '/ttfb/5000'), { timeoutMs: DEADLINE_MS });
      assertFailed(late, 'timeout');
      assert.equal(late.certExpiresAt, expected);
    });

    test('certificates: an expired one is dated with insecure; none without a handshake or TLS', async (t) => {
      const lab = ready(t, engine);
      if (!lab) return;
      const expired = await probe(engine, lab.url('expiredCert'), { insecure: true });
      assertOk(expired);
      assert.equal(expired.certExpiresAt, notAfter((await labCerts()).expired.cert));
      assert.ok((expired.certExpiresAt ?? 0) * 1000 < Date.now(), 'in the past');
      const rejected = await probe(engine, lab.url('expiredCert'));
      assertFailed(rejected, 'tls');
      assert.equal(rejected.certExpiresAt, undefined);
      const selfSigned = await probe(engine, lab.url('selfSigned'), { insecure: true });
      assert.equal(selfSigned.certExpiresAt, notAfter((await labCerts()).selfSigned.cert));
      assert.equal((await probe(engine, lab.url('http'))).certExpiresAt, undefined);
      assert.equal((await probe(engine, lab.url('resetHandshake'))).certExpiresAt, undefined);
    });

    test('a family pin: IPv4 connects to 127.0.0.1, IPv6 to ::1', async (t) => {
      const lab = ready(t, engine);
      if (!lab) return;
      const v4 = await probe(engine, lab.url('https', '/ok', 'localhost'), {}, 4);
      assertOk(v4);
      assert.equal(v4.remoteIp, '127.0.0.1');
      if (!need(t, https6 !== undefined, `an IPv6 loopback (::1): ${https6Error}`)) return;
      const v6 = await probe(engine, `https://[::1]:${https6?.port}/ok`, {}, 6);
      assertOk(v6);
      assert.equal(v6.remoteIp, '::1');
      assert.notEqual(v6.certExpiresAt, undefined);
    });

    test('an injected first-byte delay shows in ttfb', async (t) => {
      const lab = ready(t, engine);
      if (!lab) return;
      await measures(t, 'ttfb − (dns + connect + tls) for a 100 ms delay', 100, async () => {
        const r = await probe(engine, lab.url('https', '/ttfb/100'));
        assertOk(r);
        return r.ttfbMs === null ? null : r.ttfbMs - phaseSum(r);
      });
    });

    test('an injected handshake delay shows in tls', async (t) => {
      const lab = ready(t, engine);
      if (!lab) return;
      const url = await lab.handshakeDelayUrl(80);
      await measures(t, 'tls for an 80 ms handshake delay', 80, async () => {
        const r = await probe(engine, url);
        assertOk(r);
        assert.ok((r.connectMs ?? 80) < 80, `connect excludes the delay: ${r.connectMs}`);
        return r.tlsMs;
      });
    });

    test('the caller aborting settles the probe at once', async (t) => {
      const lab = ready(t, engine);
      if (!lab) return;
      const url = new URL(lab.url('hang'));
      const options = { timeoutMs: 5000, followRedirects: true, maxRedirects: 10, insecure: false };
      await measures(t, 'time to settle, aborted at 100 ms', 100, async () => {
        const controller = new AbortController();
        setTimeout(() => controller.abort(), 100);
        const started = performance.now();
        const r = await ENGINES[engine]({ kind: 'http', uri: url.href, url, family: null }, options, {
          signal: controller.signal,
          clock: performance,
        });
        assert.equal(r.disconnected, true);
        assert.ok(r.error === 'timeout' || r.error === 'internal', `aborted: ${r.error}`);
        return performance.now() - started;
      });
    });
  });
}

describe('probers in a network namespace (system resolver = lab DNS)', () => {
  let ns: Netns | undefined;
  let remote: RemoteLab | undefined;
  let unavailable = '';

  before(async () => {
    try {
      ns = await createNetns();
      remote = await serveLabIn(ns);
    } catch (err) {
      unavailable = String(err);
    }
  });
  after(() => ns?.close());

  for (const engine of ENGINE_NAMES) {
    test(`${engine}: an injected DNS delay shows in dns, NXDOMAIN is a dns failure`, async (t) => {
      if (!ready(t, engine)) return;
      if (!need(t, remote !== undefined, `network namespaces (root, iproute2): ${unavailable}`)) return;
      if (!ns || !remote) return;
      const { caFile } = remote;
      const inside = ns;
      const url = `https://d50.lab.test:${remote.ports.https}/ok`;
      await measures(t, 'dns for a 50 ms resolver delay', 50, async () => {
        const r = await probeOnceIn(inside, engine, url, { caFile });
        assertContract(r, url);
        assertOk(r);
        return r.dnsMs;
      });

      const missing = await probeOnceIn(ns, engine, `https://nowhere.example:${remote.ports.https}/ok`, {
        caFile,
      });
      assertFailed(missing, 'dns');
      assert.deepEqual([missing.dnsMs, missing.connectMs, missing.tlsMs], [null, null, null]);
    });

    test(`${engine}: a family pin resolves that family only; a name without it is a dns failure`, async (t) => {
      if (!ready(t, engine)) return;
      if (!need(t, remote !== undefined, `network namespaces (root, iproute2): ${unavailable}`)) return;
      if (!ns || !remote) return;
      const { caFile } = remote;
      // v6.lab.test has A 127.0.0.1 and AAAA ::1; the lab in the namespace listens on 127.0.0.1 only, so
      // IPv4 is answered and IPv6 refused: a refusal shows the probe went to ::1, not to the A record.
      const dual = `https://v6.lab.test:${remote.ports.https}/ok`;
      const v4 = await probeOnceIn(ns, engine, dual, { caFile, family: 4 });
      assertContract(v4, dual);
      assertOk(v4);
      assert.equal(v4.remoteIp, '127.0.0.1');
      const v6 = await probeOnceIn(ns, engine, dual, { caFile, family: 6 });
      assertContract(v6, dual);
      assertFailed(v6, 'refused');
      assert.notEqual(v6.dnsMs, null, JSON.stringify(v6));
      if (v6.remoteIp !== null) assert.equal(v6.remoteIp, '::1');

      const v4only = `https://lab.test:${remote.ports.https}/ok`;
      const none = await probeOnceIn(ns, engine, v4only, { caFile, family: 6 });
      assertContract(none, v4only);
      assertFailed(none, 'dns');
      assert.deepEqual([none.dnsMs, none.connectMs, none.remoteIp], [null, null, null], JSON.stringify(none));
      assertOk(await probeOnceIn(ns, engine, v4only, { caFile, family: 4 }));
    });
  }
});

describe("the http engine's CA file", () => {
  test('an edited CA file is used within a second; a removed one fails as internal, saying so', async (t) => {
    const lab = ready(t, 'http');
    if (!lab) return;
    const dir = await mkdtemp(join(tmpdir(), 'wmn-ca-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const caFile = join(dir, 'ca.pem');
    const url = lab.url('https', '/ok', 'localhost');
    // A real CA, but not the lab's: the handshake's certificate check fails.
    await writeFile(caFile, rootCertificates[0]!);
    assertFailed(await probe('http', url, { caFile }), 'tls');
    await writeFile(caFile, await readFile(lab.caFile, 'utf8'));
    await sleep(1_100);
    assertOk(await probe('http', url, { caFile }));
    await rm(caFile);
    await sleep(1_100);
    const gone = await probe('http', url, { caFile });
    assertFailed(gone, 'internal');
    assert.match(gone.detail ?? '', /cannot use caFile .*ENOENT/);
  });
});

describe('certificate dates', () => {
  test('OpenSSL-printed times, as Node and curl show them, are unix seconds', () => {
    assert.equal(opensslTimeToUnix('Feb  1 00:00:00 2020 GMT'), Date.UTC(2020, 1, 1) / 1000);
    assert.equal(opensslTimeToUnix('Dec 24 16:48:57 2026 GMT'), Date.UTC(2026, 11, 24, 16, 48, 57) / 1000);
    assert.equal(opensslTimeToUnix('Mar 10 08:00:00.5 2031 GMT'), Date.UTC(2031, 2, 10, 8) / 1000);
    for (const bad of ['', '2020-02-01T00:00:00Z', 'Foo  1 00:00:00 2020 GMT']) {
      assert.equal(opensslTimeToUnix(bad), null, bad);
    }
  });

  test('a chain: leaf and intermediates count, a self-signed issuer (maybe the local root) does not', () => {
    type Cert = Parameters<typeof chainExpiry>[0];
    const cert = (validTo: string): Cert => ({ valid_to: validTo }) as Cert;
    const leaf = cert('Jun  1 00:00:00 2030 GMT');
    const intermediate = cert('Jan  1 00:00:00 2030 GMT');
    const root = cert('Jan  1 00:00:00 2029 GMT');
    Object.assign(leaf, { issuerCertificate: intermediate });
    Object.assign(intermediate, { issuerCertificate: root });
    Object.assign(root, { issuerCertificate: root });
    assert.equal(chainExpiry(leaf), Date.UTC(2030, 0, 1) / 1000);
    const selfSigned = cert('Feb  1 00:00:00 2020 GMT');
    Object.assign(selfSigned, { issuerCertificate: selfSigned });
    assert.equal(chainExpiry(selfSigned), Date.UTC(2020, 1, 1) / 1000);
    assert.equal(chainExpiry({} as Cert), null, 'no certificate');
  });
});

describe('the engines agree', () => {
  /** Runs every engine on `url` in turn (at the same instant they would inflate each other's phases). */
  async function probeEach(
    url: string,
    overrides: Partial<HttpProbeOptions> = {},
  ): Promise<Array<{ engine: Engine; result: ProbeResult }>> {
    const results = [];
    for (const engine of ENGINE_NAMES) results.push({ engine, result: await probe(engine, url, overrides) });
    return results;
  }

  test('on what they measure: the same status, each phase within tolerance', async (t) => {
    const lab = ready(t, 'curl');
    if (!lab) return;
    // [url, connections]: a sum over several connections carries each one's noise, so its tolerance
    // grows with their number (as in the redirect case above).
    const targets: Array<[string, number]> = [
      [lab.url('https', '/ttfb/50', 'localhost'), 1],
      [lab.url('http', '/status/503'), 1],
      [lab.url('https', '/redirect/2'), 3],
      [await lab.handshakeDelayUrl(40), 1],
    ];
    for (const [url, connections] of targets) {
      const what = `largest phase difference between engines on ${url}`;
      await measures(
        t,
        what,
        0,
        async () => {
          const [first, ...others] = await probeEach(url);
          assert.ok(first);
          let largest = 0;
          for (const other of others) {
            const pair: string = `${url}: ${JSON.stringify([first, other])}`;
            assert.deepEqual(outcome(other.result), outcome(first.result), pair);
            assert.equal(other.result.certExpiresAt, first.result.certExpiresAt, pair);
            for (const key of ['dnsMs', 'connectMs', 'tlsMs', 'ttfbMs', 'totalMs'] as const) {
              const x: number | null = first.result[key];
              const y: number | null = other.result[key];
              assert.equal(x === null, y === null, `${key} measured by one engine only: ${pair}`);
              if (x !== null && y !== null) largest = Math.max(largest, Math.abs(x - y));
            }
          }
          return largest;
        },
        connections * TOLERANCE_MS,
      );
    }
  });

  // Phases are not compared here: curl cannot tell some phases of a failure (curl-result.ts says which),
  // and over a redirect loop's 11 handshakes curl's costlier TLS set-up (~1.5 ms a hop) adds up.
  test('on how a probe fails', async (t) => {
    const lab = ready(t, 'curl');
    if (!lab) return;
    const targets = ['closed', 'resetHandshake', 'emptyReply', 'garbage', 'hang'] as const;
    for (const url of [...targets.map((target) => lab.url(target)), lab.url('https', '/redirect-loop')]) {
      const [first, ...others] = await probeEach(url, { timeoutMs: DEADLINE_MS });
      for (const other of others) {
        assert.deepEqual(
          outcome(other.result),
          outcome(first?.result ?? other.result),
          JSON.stringify([first, other]),
        );
      }
    }
  });
});
