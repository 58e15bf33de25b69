/**
 * The curl engine: the report mapping (pure, with reports recorded from the real curl) and the process
 * handling (real curl, or a stand-in script where curl itself cannot misbehave on demand, against small
 * servers on 127.0.0.1). The lab-based comparison with the in-process engine is in probes.test.ts.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createCurlProber, curlArgs, probeCurl } from '../src/probes/curl.js';
import { classifyExit, curlJsonToResult, curlOutputToResult } from '../src/probes/curl-result.js';
import type { HttpProbeOptions, HttpSource, ProbeContext, ProbeResult } from '../src/probes/types.js';
import { USER_AGENT } from '../src/version.js';
import { CURL_AVAILABLE, need } from './helpers/env.js';
import { childrenOf } from './helpers/procs.js';

const OPTIONS: HttpProbeOptions = {
  timeoutMs: 1500,
  followRedirects: true,
  maxRedirects: 10,
  insecure: false,
};

function source(uri: string): HttpSource {
  return { kind: 'http', uri, url: new URL(uri), family: null };
}

function ctx(signal = new AbortController().signal): ProbeContext {
  return { signal, clock: performance };
}

/** Maps a recorded report as if curl had printed it, with its --verbose log. */
function map(report: Record<string, unknown>, verbose = ''): ProbeResult {
  return curlJsonToResult(report, source(String(report.url)), { verbose, elapsedMs: 999, timeoutMs: 400 });
}

/**
 * Reports recorded with curl 7.88.1 here, run with curlArgs()'s flags against node:http/https/net servers
 * on loopback (`--max-time 0.4`; the https server's certificate passed with --cacert), trimmed to the
 * fields the mapping reads. `url` is the probed source.
 */
const RECORDED = {
  httpsOk: {
    url: 'https://localhost:45273/ok?delay=20',
    exitcode: 0,
    errormsg: null,
    http_code: 200,
    remote_ip: '127.0.0.1',
    num_redirects: 0,
    url_effective: 'https://localhost:45273/ok?delay=20',
    time_namelookup: 0.000017,
    time_connect: 0.000239,
    time_appconnect: 0.004269,
    time_pretransfer: 0.004333,
    time_starttransfer: 0.027369,
    time_total: 0.027424,
  },
  httpIpLiteral: {
    url: 'http://127.0.0.1:38075/ok?delay=20',
    exitcode: 0,
    errormsg: null,
    http_code: 200,
    remote_ip: '127.0.0.1',
    num_redirects: 0,
    url_effective: 'http://127.0.0.1:38075/ok?delay=20',
    time_namelookup: 0.000013,
    time_connect: 0.000083,
    time_appconnect: 0,
    time_pretransfer: 0.000122,
    time_starttransfer: 0.021071,
    time_total: 0.021129,
  },
  http500: {
    url: 'http://127.0.0.1:38075/500',
    exitcode: 0,
    errormsg: null,
    http_code: 500,
    remote_ip: '127.0.0.1',
    num_redirects: 0,
    url_effective: 'http://127.0.0.1:38075/500',
    time_namelookup: 0.000012,
    time_connect: 0.000076,
    time_appconnect: 0,
    time_pretransfer: 0.000112,
    time_starttransfer: 0.001531,
    time_total: 0.001595,
  },
  /** 302 after 30 ms, then 200 after 20 ms; two connections (Connection: close). */
  redirect: {
    url: 'http://localhost:38075/r?delay=30&to=/ok%3Fdelay%3D20',
    exitcode: 0,
    errormsg: null,
    http_code: 200,
    remote_ip: '127.0.0.1',
    num_redirects: 1,
    url_effective: 'http://localhost:38075/ok?delay=20',
    time_namelookup: 0.000023,
    time_connect: 0.000121,
    time_appconnect: 0,
    time_pretransfer: 0.000191,
    time_redirect: 0.030894,
    time_starttransfer: 0.051373,
    time_total: 0.051486,
  },
  redirectHttpToHttps: {
    url: 'http://localhost:38075/r?delay=30&to=https%3A%2F%2Flocalhost%3A45273%2Fok%3Fdelay%3D20',
    exitcode: 0,
    errormsg: null,
    http_code: 200,
    remote_ip: '127.0.0.1',
    num_redirects: 1,
    url_effective: 'https://localhost:45273/ok?delay=20',
    time_namelookup: 0.000019,
    time_connect: 0.000105,
    time_appconnect: 0.002273,
    time_pretransfer: 0.002426,
    time_starttransfer: 0.051667,
    time_total: 0.051777,
  },
  /** The 302 came; the hop it pointed to never answered. http_code is still the 302's. */
  redirectThenHang: {
    url: 'http://127.0.0.1:38075/r?delay=30&to=/hang',
    exitcode: 28,
    errormsg: 'Operation timed out after 400 milliseconds with 0 bytes received',
    http_code: 302,
    remote_ip: '127.0.0.1',
    num_redirects: 1,
    url_effective: 'http://127.0.0.1:38075/hang',
    time_namelookup: 0.000022,
    time_connect: 0.000166,
    time_appconnect: 0,
    time_pretransfer: 0.000236,
    time_starttransfer: 0.029771,
    time_total: 0.429608,
  },
  redirectLoop: {
    url: 'http://127.0.0.1:38075/loop',
    exitcode: 47,
    errormsg: 'Maximum (10) redirects followed',
    http_code: 302,
    remote_ip: '127.0.0.1',
    num_redirects: 10,
    url_effective: 'http://127.0.0.1:38075/loop',
    time_namelookup: 0.000109,
    time_connect: 0.000603,
    time_appconnect: 0,
    time_pretransfer: 0.000959,
    time_starttransfer: 0.016786,
    time_total: 0.017486,
  },
  /** A server that accepts and never answers. */
  timeoutAfterConnect: {
    url: 'http://127.0.0.1:43919/',
    exitcode: 28,
    errormsg: 'Operation timed out after 400 milliseconds with 0 bytes received',
    http_code: 0,
    remote_ip: '127.0.0.1',
    num_redirects: 0,
    url_effective: 'http://127.0.0.1:43919/',
    time_namelookup: 0.000011,
    time_connect: 0.000375,
    time_appconnect: 0,
    time_pretransfer: 0.00045,
    time_starttransfer: 0,
    time_total: 0.400076,
  },
  timeoutAfterTls: {
    url: 'https://localhost:45273/hang',
    exitcode: 28,
    errormsg: 'Operation timed out after 400 milliseconds with 0 bytes received',
    http_code: 0,
    remote_ip: '127.0.0.1',
    num_redirects: 0,
    url_effective: 'https://localhost:45273/hang',
    time_namelookup: 0.000017,
    time_connect: 0.000389,
    time_appconnect: 0.004065,
    time_pretransfer: 0.004122,
    time_starttransfer: 0,
    time_total: 0.399329,
  },
  /** Headers and half the body, then nothing. */
  timeoutInBody: {
    url: 'http://127.0.0.1:38075/slowbody',
    exitcode: 28,
    errormsg: 'Operation timed out after 400 milliseconds with 5 out of 10 bytes received',
    http_code: 200,
    remote_ip: '127.0.0.1',
    num_redirects: 0,
    url_effective: 'http://127.0.0.1:38075/slowbody',
    time_namelookup: 0.000017,
    time_connect: 0.000271,
    time_appconnect: 0,
    time_pretransfer: 0.000319,
    time_starttransfer: 0.001784,
    time_total: 0.400437,
  },
  dns: {
    url: 'http://nonexistent.invalid/',
    exitcode: 6,
    errormsg: 'Could not resolve host: nonexistent.invalid',
    http_code: 0,
    remote_ip: '',
    num_redirects: 0,
    url_effective: 'http://nonexistent.invalid/',
    time_namelookup: 0,
    time_connect: 0,
    time_appconnect: 0,
    time_pretransfer: 0,
    time_starttransfer: 0,
    time_total: 0.00006,
  },
  refused: {
    url: 'http://localhost:1/',
    exitcode: 7,
    errormsg: "Failed to connect to localhost port 1 after 0 ms: Couldn't connect to server",
    http_code: 0,
    remote_ip: '',
    num_redirects: 0,
    url_effective: 'http://localhost:1/',
    time_namelookup: 0.000012,
    time_connect: 0,
    time_appconnect: 0,
    time_pretransfer: 0,
    time_starttransfer: 0,
    time_total: 0.000392,
  },
  /** Recorded in a network namespace with only `lo` up. */
  unreachable: {
    url: 'http://192.0.2.1/',
    exitcode: 7,
    errormsg: "Failed to connect to 192.0.2.1 port 80 after 0 ms: Couldn't connect to server",
    http_code: 0,
    remote_ip: '',
    num_redirects: 0,
    url_effective: 'http://192.0.2.1/',
    time_namelookup: 0.000016,
    time_connect: 0,
    time_appconnect: 0,
    time_pretransfer: 0,
    time_starttransfer: 0,
    time_total: 0.000081,
  },
  /** Self-signed certificate, not trusted. curl reports time_connect 0 though TCP connected. */
  tlsUntrusted: {
    url: 'https://localhost:45273/ok',
    exitcode: 60,
    errormsg: 'SSL certificate problem: self-signed certificate',
    http_code: 0,
    remote_ip: '127.0.0.1',
    num_redirects: 0,
    url_effective: 'https://localhost:45273/ok',
    time_namelookup: 0.000012,
    time_connect: 0,
    time_appconnect: 0,
    time_pretransfer: 0,
    time_starttransfer: 0,
    time_total: 0.018956,
  },
  /** The server resets the connection on the ClientHello. */
  tlsReset: {
    url: 'https://127.0.0.1:43763/',
    exitcode: 35,
    errormsg: 'Recv failure: Connection reset by peer',
    http_code: 0,
    remote_ip: '127.0.0.1',
    num_redirects: 0,
    url_effective: 'https://127.0.0.1:43763/',
    time_namelookup: 0.000013,
    time_connect: 0,
    time_appconnect: 0,
    time_pretransfer: 0,
    time_starttransfer: 0,
    time_total: 0.016799,
  },
  emptyReply: {
    url: 'http://127.0.0.1:43835/',
    exitcode: 52,
    errormsg: 'Empty reply from server',
    http_code: 0,
    remote_ip: '127.0.0.1',
    num_redirects: 0,
    url_effective: 'http://127.0.0.1:43835/',
    time_namelookup: 0.000012,
    time_connect: 0.000273,
    time_appconnect: 0,
    time_pretransfer: 0.00032,
    time_starttransfer: 0.0004,
    time_total: 0.00041,
  },
  /** An SSH banner instead of HTTP. */
  garbage: {
    url: 'http://127.0.0.1:41105/',
    exitcode: 1,
    errormsg: 'Received HTTP/0.9 when not allowed',
    http_code: 0,
    remote_ip: '127.0.0.1',
    num_redirects: 0,
    url_effective: 'http://127.0.0.1:41105/',
    time_namelookup: 0.000012,
    time_connect: 0.000413,
    time_appconnect: 0,
    time_pretransfer: 0.000457,
    time_starttransfer: 0.000538,
    time_total: 0.000548,
  },
  /** The server resets the connection after reading the request. */
  resetAfterRequest: {
    url: 'http://127.0.0.1:38075/reset',
    exitcode: 56,
    errormsg: 'Recv failure: Connection reset by peer',
    http_code: 0,
    remote_ip: '127.0.0.1',
    num_redirects: 0,
    url_effective: 'http://127.0.0.1:38075/reset',
    time_namelookup: 0.000012,
    time_connect: 0.000261,
    time_appconnect: 0,
    time_pretransfer: 0.000305,
    time_starttransfer: 0,
    time_total: 0.001635,
  },
};

/** --verbose lines recorded with the reports above (the rest of the log is irrelevant to the mapping). */
const VERBOSE = {
  refused:
    '*   Trying 127.0.0.1:1...\n* connect to 127.0.0.1 port 1 failed: Connection refused\n' +
    '*   Trying [::1]:1...\n* connect to ::1 port 1 failed: Connection refused\n' +
    "* Failed to connect to localhost port 1 after 0 ms: Couldn't connect to server\n* Closing connection 0\n",
  unreachable:
    '*   Trying 192.0.2.1:80...\n* Immediate connect fail for 192.0.2.1: Network is unreachable\n' +
    "* Failed to connect to 192.0.2.1 port 80 after 0 ms: Couldn't connect to server\n* Closing connection 0\n",
};

function phases(r: ProbeResult) {
  return { dnsMs: r.dnsMs, connectMs: r.connectMs, tlsMs: r.tlsMs, ttfbMs: r.ttfbMs, totalMs: r.totalMs };
}

function outcome(r: ProbeResult) {
  return { disconnected: r.disconnected, status: r.status, error: r.error, remoteIp: r.remoteIp };
}

describe('curl report → result (recorded reports)', () => {
  test('https success: every phase, derived from the cumulative timers', () => {
    const r = map(RECORDED.httpsOk);
    assert.deepEqual(phases(r), {
      dnsMs: 0.017,
      connectMs: 0.222,
      tlsMs: 4.03,
      ttfbMs: 27.369,
      totalMs: 27.424,
    });
    assert.deepEqual(outcome(r), { disconnected: false, status: 200, error: null, remoteIp: '127.0.0.1' });
    assert.equal(r.source, RECORDED.httpsOk.url);
    assert.equal(r.detail, undefined);
  });

  test('http:// to an IP literal: no TLS, no DNS (curl still reports µs for "resolving" a literal)', () => {
    const r = map(RECORDED.httpIpLiteral);
    assert.deepEqual(phases(r), {
      dnsMs: null,
      connectMs: 0.07,
      tlsMs: null,
      ttfbMs: 21.071,
      totalMs: 21.129,
    });
    assert.deepEqual(outcome(r), { disconnected: false, status: 200, error: null, remoteIp: '127.0.0.1' });
  });

  test('an IPv6 literal host also has no DNS phase', () => {
    const report = {
      ...RECORDED.httpIpLiteral,
      url: 'http://[::1]:38075/',
      url_effective: 'http://[::1]:38075/',
    };
    assert.equal(map(report).dnsMs, null);
  });

  test('a 5xx is a response: not disconnected, no error class', () => {
    assert.deepEqual(outcome(map(RECORDED.http500)), {
      disconnected: false,
      status: 500,
      error: null,
      remoteIp: '127.0.0.1',
    });
  });

  test('redirect: sums over both hops; ttfb ≈ 30 ms + 20 ms injected, from the start of the first hop', () => {
    const r = map(RECORDED.redirect);
    assert.deepEqual(phases(r), {
      dnsMs: 0.023,
      connectMs: 0.098,
      tlsMs: null,
      ttfbMs: 51.373,
      totalMs: 51.486,
    });
    assert.deepEqual(outcome(r), { disconnected: false, status: 200, error: null, remoteIp: '127.0.0.1' });
  });

  test('http → https redirect: tls from pretransfer, since appconnect sums only the TLS hop', () => {
    const r = map(RECORDED.redirectHttpToHttps);
    assert.equal(r.tlsMs, 2.321);
    assert.equal(r.connectMs, 0.086);
  });

  test('a timeout after a redirect: the earlier 302 is no response; total capped at the deadline', () => {
    // curl noticed its 400 ms deadline 30 ms late (the first hop's time): see curl-result.ts.
    assert.equal(RECORDED.redirectThenHang.time_total, 0.429608);
    const r = map(RECORDED.redirectThenHang);
    assert.deepEqual(phases(r), {
      dnsMs: null,
      connectMs: 0.144,
      tlsMs: null,
      ttfbMs: null,
      totalMs: 400,
    });
    assert.deepEqual(outcome(r), {
      disconnected: true,
      status: null,
      error: 'timeout',
      remoteIp: '127.0.0.1',
    });
    assert.match(r.detail ?? '', /timed out/);
  });

  test('too many redirects: the last 3xx is the response, with its class', () => {
    const r = map(RECORDED.redirectLoop);
    assert.deepEqual(outcome(r), {
      disconnected: false,
      status: 302,
      error: 'too_many_redirects',
      remoteIp: '127.0.0.1',
    });
    assert.equal(r.ttfbMs, 16.786);
  });

  test('timeout after connect: completed phases stay, the rest are NULL, total = the deadline', () => {
    const r = map(RECORDED.timeoutAfterConnect);
    assert.deepEqual(phases(r), {
      dnsMs: null,
      connectMs: 0.364,
      tlsMs: null,
      ttfbMs: null,
      totalMs: 400,
    });
    assert.deepEqual(outcome(r), {
      disconnected: true,
      status: null,
      error: 'timeout',
      remoteIp: '127.0.0.1',
    });
  });

  test('timeout after the TLS handshake keeps dns, connect and tls', () => {
    const r = map(RECORDED.timeoutAfterTls);
    assert.deepEqual(phases(r), {
      dnsMs: 0.017,
      connectMs: 0.372,
      tlsMs: 3.676,
      ttfbMs: null,
      totalMs: 399.329,
    });
    assert.equal(r.error, 'timeout');
  });

  test('timeout in the body: a response (status, ttfb) with the timeout class', () => {
    const r = map(RECORDED.timeoutInBody);
    assert.deepEqual(outcome(r), {
      disconnected: false,
      status: 200,
      error: 'timeout',
      remoteIp: '127.0.0.1',
    });
    assert.equal(r.ttfbMs, 1.784);
    assert.equal(r.totalMs, 400);
  });

  test('DNS failure: every phase NULL, no address', () => {
    const r = map(RECORDED.dns);
    assert.deepEqual(phases(r), { dnsMs: null, connectMs: null, tlsMs: null, ttfbMs: null, totalMs: 0.06 });
    assert.deepEqual(outcome(r), { disconnected: true, status: null, error: 'dns', remoteIp: null });
    assert.equal(r.detail, 'Could not resolve host: nonexistent.invalid');
  });

  test('refused vs unreachable: exit 7 either way; the --verbose log says which', () => {
    const refused = map(RECORDED.refused, VERBOSE.refused);
    assert.deepEqual(outcome(refused), {
      disconnected: true,
      status: null,
      error: 'refused',
      remoteIp: null,
    });
    assert.deepEqual(phases(refused), {
      dnsMs: 0.012,
      connectMs: null,
      tlsMs: null,
      ttfbMs: null,
      totalMs: 0.392,
    });
    assert.match(refused.detail ?? '', /\(Connection refused\)$/);
    const unreachable = map(RECORDED.unreachable, VERBOSE.unreachable);
    assert.equal(unreachable.error, 'unreachable');
    assert.match(unreachable.detail ?? '', /\(Network is unreachable\)$/);
  });

  test('TLS failures: certificate rejected, reset during the handshake', () => {
    const untrusted = map(RECORDED.tlsUntrusted);
    assert.deepEqual(outcome(untrusted), {
      disconnected: true,
      status: null,
      error: 'tls',
      remoteIp: '127.0.0.1',
    });
    // curl 7.88 reports no connect time when the handshake fails: NULL, not 0.
    assert.deepEqual(phases(untrusted), {
      dnsMs: 0.012,
      connectMs: null,
      tlsMs: null,
      ttfbMs: null,
      totalMs: 18.956,
    });
    assert.equal(map(RECORDED.tlsReset).error, 'tls');
  });

  test('empty reply and a non-HTTP banner are http_protocol, with no ttfb', () => {
    for (const report of [RECORDED.emptyReply, RECORDED.garbage]) {
      const r = map(report);
      assert.deepEqual(outcome(r), {
        disconnected: true,
        status: null,
        error: 'http_protocol',
        remoteIp: '127.0.0.1',
      });
      assert.equal(r.ttfbMs, null);
      assert.equal(r.detail, report.errormsg);
    }
  });

  test('a reset after the request is sent', () => {
    assert.equal(map(RECORDED.resetAfterRequest).error, 'reset');
  });

  test('no recorded report maps to a 0 duration: a phase is a duration or NULL', () => {
    for (const [name, report] of Object.entries(RECORDED)) {
      for (const [phase, value] of Object.entries(phases(map(report)))) {
        assert.ok(value === null || value > 0, `${name}.${phase} = ${value}`);
      }
    }
  });
});

describe('exit code classes', () => {
  const cases: [number, string | null, string][] = [
    [6, 'Could not resolve host: x', 'dns'],
    [7, 'Failed to connect to h port 80: Connection refused', 'refused'], // curl < 7.87 said why itself
    [7, 'Failed to connect to h port 80: No route to host', 'unreachable'],
    [7, "Failed to connect to h port 80 after 3 ms: Couldn't connect to server", 'unreachable'],
    [28, 'Operation timed out', 'timeout'],
    [35, 'OpenSSL/3.0.19: error:0A00010B:SSL routines::wrong version number', 'tls'],
    [51, 'SSL: no alternative certificate subject name matches target host name', 'tls'],
    [60, 'SSL certificate problem: unable to get local issuer certificate', 'tls'],
    [77, 'error setting certificate file: /nope', 'tls'],
    [56, 'Recv failure: Connection reset by peer', 'reset'],
    [56, 'Illegal or missing hexadecimal sequence in chunked-encoding', 'http_protocol'],
    [55, 'Send failure: Broken pipe', 'reset'],
    [18, 'transfer closed with 5 bytes remaining to read', 'reset'],
    [52, 'Empty reply from server', 'http_protocol'],
    [8, 'Unsupported HTTP version in response', 'http_protocol'],
    [1, 'Protocol "ftp" not supported or disabled in libcurl', 'http_protocol'],
    [92, 'HTTP/2 stream 1 was not closed cleanly: PROTOCOL_ERROR (err 1)', 'http_protocol'],
    [47, 'Maximum (10) redirects followed', 'too_many_redirects'],
    [2, 'Failed initialization', 'internal'],
    [23, 'Failure writing output to destination', 'internal'],
  ];
  for (const [exitcode, errormsg, expected] of cases) {
    test(`${exitcode} ${errormsg} → ${expected}`, () => {
      assert.equal(classifyExit({ exitcode, errormsg }, ''), expected);
    });
  }
});

describe('curl output that is not a report', () => {
  const garbage = [
    '',
    'curl: option --write-out: is badly used',
    '%{json}',
    '[1,2]',
    'null',
    '{"exitcode":"0"}',
  ];
  for (const stdout of garbage) {
    test(`${JSON.stringify(stdout)} → internal, never a throw`, () => {
      const r = curlOutputToResult(source('http://127.0.0.1/'), {
        stdout,
        verbose: '',
        elapsedMs: 12.5,
        timeoutMs: 400,
      });
      assert.deepEqual(outcome(r), { disconnected: true, status: null, error: 'internal', remoteIp: null });
      assert.equal(r.totalMs, 12.5);
      assert.match(r.detail ?? '', /curl/);
    });
  }

  test('two reports (curl ran two URLs) are not one report', () => {
    const one = JSON.stringify(RECORDED.httpIpLiteral);
    const r = curlOutputToResult(source('http://127.0.0.1/'), {
      stdout: one + one,
      verbose: '',
      elapsedMs: 1,
      timeoutMs: 400,
    });
    assert.equal(r.error, 'internal');
  });
});

describe('curl argv', () => {
  const url = new URL('http://127.0.0.1:1/-K');

  test('the URL is the last argument, after --; ~/.curlrc is skipped (--disable must come first)', () => {
    const args = curlArgs(url, OPTIONS, 'wmn/test');
    assert.equal(args[0], '--disable');
    assert.deepEqual(args.slice(-2), ['--', 'http://127.0.0.1:1/-K']);
    assert.equal(args.indexOf('--'), args.length - 2);
  });

  test('options: deadline in seconds, redirects, certificates, protocols, user agent', () => {
    const args = curlArgs(url, { ...OPTIONS, insecure: true, caFile: '/etc/ca.pem' }, 'wmn/test');
    const after = (flag: string) => args[args.indexOf(flag) + 1];
    assert.equal(after('--max-time'), '1.5');
    assert.equal(after('--max-redirs'), '10');
    assert.equal(after('--cacert'), '/etc/ca.pem');
    assert.equal(after('--proto'), '=http,https');
    assert.equal(after('--proto-redir'), '=http,https');
    assert.equal(after('--user-agent'), 'wmn/test');
    assert.equal(after('--write-out'), '%{json}');
    assert.ok(args.includes('--insecure') && args.includes('--location') && args.includes('--globoff'));
  });

  test('without redirects there is no --location; the defaults add no TLS flags', () => {
    const args = curlArgs(url, { ...OPTIONS, followRedirects: false });
    for (const flag of ['--location', '--max-redirs', '--insecure', '--cacert'])
      assert.ok(!args.includes(flag), flag);
  });
});

/** A node:http server on 127.0.0.1 recording the requests it answers with 200. */
async function recordingServer(): Promise<{
  requests: IncomingMessage[];
  base: string;
  close(): Promise<void>;
}> {
  const requests: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    requests.push(req);
    res.end('ok');
  });
  const port = await listen(server);
  return { requests, base: `http://127.0.0.1:${port}`, close: () => closeServer(server) };
}

/** A TCP server that accepts and never answers. */
async function hangingServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return closeServer(server);
    },
  };
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : 0);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Waits until exactly one child named `comm` runs, and returns its pid. */
async function childAppears(comm: string): Promise<number> {
  for (let i = 0; i < 400; i++) {
    const [pid, ...more] = childrenOf(process.pid)
      .filter((c) => c.comm === comm)
      .map((c) => c.pid);
    if (pid !== undefined && more.length === 0) return pid;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`no ${comm} child appeared`);
}

/** True once `pid` is reaped: kill(pid, 0) succeeds on a zombie, so ESRCH also means "no zombie". */
function reaped(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

describe('curl process (real curl, local servers)', () => {
  test('a 200: phases measured, wmn user agent, Connection: close, one request', async (t) => {
    if (!need(t, CURL_AVAILABLE, 'curl not installed')) return;
    const server = await recordingServer();
    t.after(() => server.close());
    const r = await probeCurl(source(`${server.base}/favicon.ico`), OPTIONS, ctx());
    assert.deepEqual(outcome(r), { disconnected: false, status: 200, error: null, remoteIp: '127.0.0.1' });
    assert.equal(r.dnsMs, null);
    assert.ok(r.connectMs !== null && r.ttfbMs !== null && r.totalMs >= r.ttfbMs);
    assert.equal(server.requests.length, 1);
    assert.equal(server.requests[0]?.headers['user-agent'], USER_AGENT);
    assert.equal(server.requests[0]?.headers.connection, 'close');
  });

  test('a server that never answers: timeout at the deadline, curl reaped', async (t) => {
    if (!need(t, CURL_AVAILABLE, 'curl not installed')) return;
    const server = await hangingServer();
    t.after(() => server.close());
    const started = performance.now();
    const probe = probeCurl(source(server.url), { ...OPTIONS, timeoutMs: 300 }, ctx());
    const pid = await childAppears('curl');
    const r = await probe;
    const elapsed = performance.now() - started;
    assert.equal(r.error, 'timeout');
    assert.ok(r.connectMs !== null && r.ttfbMs === null, JSON.stringify(r));
    // curl times its deadline from its own start, a hair after ours.
    assert.ok(r.totalMs > 295 && elapsed < 300 + 500, `total ${r.totalMs}, elapsed ${elapsed}`);
    assert.ok(reaped(pid), `curl ${pid} still exists`);
  });

  test('aborting the probe kills curl at once and reaps it', async (t) => {
    if (!need(t, CURL_AVAILABLE, 'curl not installed')) return;
    const server = await hangingServer();
    t.after(() => server.close());
    const abort = new AbortController();
    const probe = probeCurl(source(server.url), { ...OPTIONS, timeoutMs: 10_000 }, ctx(abort.signal));
    const pid = await childAppears('curl');
    const abortedAt = performance.now();
    abort.abort();
    const r = await probe;
    assert.ok(performance.now() - abortedAt < 200, 'settled promptly');
    assert.equal(r.error, 'internal');
    assert.match(r.detail ?? '', /abort/);
    assert.ok(reaped(pid), `curl ${pid} still exists`);
  });

  test('an already aborted probe starts no curl', async () => {
    const abort = new AbortController();
    abort.abort();
    const r = await createCurlProber({ bin: '/nonexistent/curl' })(
      source('http://127.0.0.1:1/'),
      OPTIONS,
      ctx(abort.signal),
    );
    assert.equal(r.error, 'internal');
    assert.match(r.detail ?? '', /aborted/);
  });

  test('URLs never reach a shell and are one URL: quotes, spaces, $(…), {…}, /-K', async (t) => {
    if (!need(t, CURL_AVAILABLE, 'curl not installed')) return;
    const server = await recordingServer();
    const dir = mkdtempSync(join(tmpdir(), 'wmn-curl-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    t.after(() => server.close());
    const marker = join(dir, 'pwned');
    // WHATWG URL leaves $ ( ) { } ; ' unencoded in a query: a shell would run this, curl's globbing would
    // turn {a,b} into two requests.
    const uri = `${server.base}/-K/a b"c?q=$(touch$IFS${marker});x={a,b}&y=[1-3]&z='`;
    const r = await probeCurl(source(uri), OPTIONS, ctx());
    assert.equal(r.status, 200, r.detail);
    assert.equal(server.requests.length, 1);
    const url = new URL(uri);
    assert.equal(server.requests[0]?.url, url.pathname + url.search);
    assert.ok(!existsSync(marker));
  });

  test('a path that looks like an option is a URL: refused, not read as -K', async (t) => {
    if (!need(t, CURL_AVAILABLE, 'curl not installed')) return;
    const r = await probeCurl(source('http://127.0.0.1:1/-K'), OPTIONS, ctx());
    assert.equal(r.error, 'refused', r.detail);
  });

  test('neither ~/.curlrc nor the proxy environment changes what curl does', async (t) => {
    if (!need(t, CURL_AVAILABLE, 'curl not installed')) return;
    const server = await recordingServer();
    const dir = mkdtempSync(join(tmpdir(), 'wmn-curl-'));
    writeFileSync(join(dir, '.curlrc'), 'header = "X-From-Curlrc: 1"\n');
    const saved = { CURL_HOME: process.env.CURL_HOME, http_proxy: process.env.http_proxy };
    t.after(async () => {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
      rmSync(dir, { recursive: true, force: true });
      await server.close();
    });
    process.env.CURL_HOME = dir;
    process.env.http_proxy = 'http://127.0.0.1:1';
    const r = await probeCurl(source(`${server.base}/`), OPTIONS, ctx());
    assert.equal(r.status, 200, r.detail);
    assert.equal(server.requests[0]?.headers['x-from-curlrc'], undefined);
  });
});

describe('curl process (stand-in executables)', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'wmn-fake-curl-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A shell script standing in for curl: curl itself cannot be made to ignore its own --max-time. */
  function fakeCurl(name: string, body: string): string {
    const path = join(dir, name);
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  }

  test('curl missing (ENOENT): internal, saying so', async () => {
    const r = await createCurlProber({ bin: join(tmpdir(), 'no-such-dir', 'curl') })(
      source('http://127.0.0.1:1/'),
      OPTIONS,
      ctx(),
    );
    assert.deepEqual(outcome(r), { disconnected: true, status: null, error: 'internal', remoteIp: null });
    assert.match(r.detail ?? '', /curl not found/);
  });

  test('a curl that outlives its deadline is SIGKILLed after the grace period and reaped', async () => {
    const bin = fakeCurl('hang', 'exec sleep 30');
    const started = performance.now();
    const probe = createCurlProber({ bin, graceMs: 100 })(
      source('http://127.0.0.1:1/'),
      { ...OPTIONS, timeoutMs: 200 },
      ctx(),
    );
    const pid = await childAppears('sleep');
    const r = await probe;
    const elapsed = performance.now() - started;
    assert.equal(r.error, 'timeout');
    assert.match(r.detail ?? '', /killed/);
    assert.ok(elapsed >= 300 && elapsed < 600, `elapsed ${elapsed}`);
    assert.equal(r.totalMs, 200, 'the timeout happened at the deadline, whatever curl did after it');
    assert.ok(reaped(pid), `${pid} still exists`);
  });

  test('garbage on stdout: internal with what curl printed', async () => {
    const bin = fakeCurl('garbage', 'echo "curl: (2) option --write-out: is unknown"; exit 2');
    const r = await createCurlProber({ bin })(source('http://127.0.0.1:1/'), OPTIONS, ctx());
    assert.equal(r.error, 'internal');
    assert.match(r.detail ?? '', /option --write-out: is unknown/);
  });

  test('a flood on stdout is capped and drained, never buffered whole or blocking', async () => {
    const bin = fakeCurl('flood', 'head -c 50000000 /dev/zero');
    const r = await createCurlProber({ bin })(source('http://127.0.0.1:1/'), OPTIONS, ctx());
    assert.equal(r.error, 'internal');
    assert.ok((r.detail ?? '').length < 1000);
  });

  test('curl dying of a signal: internal', async () => {
    const bin = fakeCurl('crash', 'kill -TERM $$');
    const r = await createCurlProber({ bin })(source('http://127.0.0.1:1/'), OPTIONS, ctx());
    assert.equal(r.error, 'internal');
    assert.match(r.detail ?? '', /SIGTERM/);
  });
});
