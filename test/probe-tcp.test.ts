/**
 * The tcp:// prober against real sockets on loopback: listeners on 127.0.0.1 and ::1, a closed port, a
 * listener whose accept queue is full (the kernel drops the SYN: a true timeout), and an address the
 * kernel refuses to route TCP to (unreachable).
 */
import assert from 'node:assert/strict';
import { lookup } from 'node:dns/promises';
import { connect, createServer, type Socket } from 'node:net';
import { after, before, describe, type TestContext, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { probeTcp } from '../src/probes/tcp.js';
import type { IpFamily, ProbeResult, TcpSource } from '../src/probes/types.js';
import { need } from './helpers/env.js';
import { assertContract, assertFailed, assertOk, assertSettlesOnAbort } from './helpers/probe-contract.js';
import { closedPort } from './lab/faults.js';
import { type Listening, listen } from './lab/listen.js';

const DEADLINE_MS = 300;
/** A loopback handshake takes well under a millisecond; this only catches a phase measured wrongly. */
const LOOPBACK_CONNECT_MS = 100;
/** Tests that wait for the server to see the probe's close: a socket left open fails them, not hangs. */
const IDLE = { timeout: 5000 };

function tcp(host: string, port: number, family: IpFamily | null = null): TcpSource {
  const uri = `tcp://${host.includes(':') ? `[${host}]` : host}:${port}${family ? `#ipv${family}` : ''}`;
  return { kind: 'tcp', uri, host, port, family };
}

async function probe(source: TcpSource, timeoutMs = 2000, signal?: AbortSignal): Promise<ProbeResult> {
  const r = await probeTcp(
    source,
    { timeoutMs },
    { signal: signal ?? new AbortController().signal, clock: performance },
  );
  assertContract(r, source.uri);
  return r;
}

/** One server on 127.0.0.1 and ::1 with the same port, so a name's family picks the address. */
async function listenBoth(): Promise<{ port: number; v4: Listening; v6: Listening }> {
  for (let attempt = 0; ; attempt++) {
    const v6 = await listen(createServer(), '::1');
    try {
      return { port: v6.port, v4: await listen(createServer(), '127.0.0.1', v6.port), v6 };
    } catch (err) {
      await v6.close();
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 20) throw err;
    }
  }
}

/**
 * A listener that never accepts, its accept queue filled: Linux then drops every new SYN, so a connect
 * neither succeeds nor fails until the client gives up. Node accepts whatever its event loop sees, so
 * the listener lives in a worker whose loop is blocked (Atomics.wait) until `close`.
 */
async function unresponsiveListener(): Promise<{ port: number; close(): Promise<void> }> {
  const wake = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const server = require('node:net').createServer();
     server.listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => {
       parentPort.postMessage(server.address().port);
       Atomics.wait(workerData, 0, 0);
       server.close();
     });`,
    { eval: true, workerData: wake },
  );
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  // The queue holds backlog + 1 completed handshakes; the first connect left pending shows it is full.
  const fillers: Socket[] = [];
  for (let connected = true; connected; ) {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    fillers.push(socket);
    connected = await new Promise<boolean>((resolve) => {
      socket.once('connect', () => resolve(true));
      setTimeout(() => resolve(false), 200);
    });
    if (fillers.length > 10) throw new Error('the accept queue never filled');
  }
  return {
    port,
    async close() {
      for (const socket of fillers) socket.destroy();
      Atomics.store(wake, 0, 1);
      Atomics.notify(wake, 0);
      await new Promise((resolve) => worker.once('exit', resolve));
    },
  };
}

/** Handles of `type` alive in this process (sockets, timers): what a leaking probe would leave. */
function active(type: string): number {
  return process.getActiveResourcesInfo().filter((t) => t === type).length;
}

describe('tcp prober', () => {
  let both: Awaited<ReturnType<typeof listenBoth>>;
  let closed: number;
  let v6Error = '';

  before(async () => {
    try {
      both = await listenBoth();
    } catch (err) {
      v6Error = String(err);
      const v4 = await listen(createServer(), '127.0.0.1');
      both = { port: v4.port, v4, v6: v4 };
    }
    closed = await closedPort();
  });
  after(async () => {
    await both.v4.close();
    await both.v6.close();
  });

  const hasV6 = (t: TestContext) => need(t, v6Error === '', `an IPv6 loopback (::1): ${v6Error}`);

  test('connects to 127.0.0.1: connect measured, no dns, tls or ttfb, nothing kept open', IDLE, async () => {
    const r = await probe(tcp('127.0.0.1', both.port));
    assertOk(r, null);
    assert.equal(r.dnsMs, null);
    assert.deepEqual([r.tlsMs, r.ttfbMs], [null, null]);
    assert.equal(r.remoteIp, '127.0.0.1');
    assert.ok(r.connectMs !== null && r.connectMs < LOOPBACK_CONNECT_MS, JSON.stringify(r));
    assert.ok(r.totalMs >= r.connectMs, JSON.stringify(r));
    // The server sees the close: the probe destroyed its socket, having sent nothing.
    await both.v4.idle();
  });

  test('connects to ::1', async (t) => {
    if (!hasV6(t)) return;
    const r = await probe(tcp('::1', both.port));
    assertOk(r, null);
    assert.equal(r.remoteIp, '::1');
    assert.ok(r.connectMs !== null && r.connectMs < LOOPBACK_CONNECT_MS, JSON.stringify(r));
  });

  test('a name is resolved first: dns measured, total covers dns and connect', async () => {
    const r = await probe(tcp('localhost', both.port, 4));
    assertOk(r, null);
    assert.notEqual(r.dnsMs, null);
    assert.equal(r.remoteIp, '127.0.0.1');
    assert.ok(r.totalMs >= (r.dnsMs ?? 0) + (r.connectMs ?? 0) - 0.01, JSON.stringify(r));
  });

  test('a pinned family: only addresses of it are tried', async (t) => {
    if (!hasV6(t)) return;
    assertOk(await probe(tcp('::1', both.port, 6)), null);
    // A literal of the other family has no address of the pinned one (config refuses the pair anyway).
    const other = await probe(tcp('127.0.0.1', both.port, 6));
    assertFailed(other, 'dns');
    assert.equal(other.remoteIp, null);
    // Whether `localhost` has an IPv6 address is the system's call (/etc/hosts): the probe must agree.
    const v6 = await lookup('localhost', { family: 6 }).catch(() => null);
    const r = await probe(tcp('localhost', both.port, 6));
    t.diagnostic(`localhost over IPv6: ${v6?.address ?? 'no address'}`);
    if (v6) {
      assertOk(r, null);
      assert.equal(r.remoteIp, v6.address);
    } else {
      assertFailed(r, 'dns');
      assert.deepEqual([r.dnsMs, r.connectMs], [null, null]);
    }
  });

  test('a closed port is refused', async () => {
    const r = await probe(tcp('127.0.0.1', closed));
    assertFailed(r, 'refused');
    assert.equal(r.connectMs, null);
    assert.equal(r.remoteIp, '127.0.0.1');
  });

  test('an address the kernel will not route TCP to is unreachable, at once', async () => {
    // Linux fails a TCP connect to a multicast address with ENETUNREACH, whatever the routes: the one
    // unreachable target that needs no network set-up (a TEST-NET address may be routed, even answered).
    const r = await probe(tcp('224.0.0.1', 80));
    assertFailed(r, 'unreachable');
    assert.ok(r.totalMs < DEADLINE_MS, JSON.stringify(r));
  });

  test('a name that does not resolve is a dns failure', async () => {
    const r = await probe(tcp('nowhere.invalid', 80));
    assertFailed(r, 'dns');
    assert.deepEqual([r.dnsMs, r.connectMs, r.remoteIp], [null, null, null]);
  });

  describe('a listener that never accepts', () => {
    let listener: Awaited<ReturnType<typeof unresponsiveListener>>;
    before(async () => {
      listener = await unresponsiveListener();
    });
    after(() => listener.close());

    test('times out at the deadline, with no connect phase', async () => {
      const r = await probe(tcp('127.0.0.1', listener.port), DEADLINE_MS);
      assertFailed(r, 'timeout');
      assert.equal(r.connectMs, null);
      assert.equal(r.remoteIp, '127.0.0.1');
      assert.ok(r.totalMs >= DEADLINE_MS - 1 && r.totalMs < DEADLINE_MS + 100, JSON.stringify(r));
    });

    test('an abort settles the probe at once, as a timeout', async () => {
      const source = tcp('127.0.0.1', listener.port);
      const r = await assertSettlesOnAbort((signal) => probe(source, 5000, signal), source.uri);
      assertFailed(r, 'timeout');
      assert.equal(r.detail, 'aborted');
    });

    test('an already aborted signal settles without connecting', async () => {
      const abort = new AbortController();
      abort.abort();
      const r = await probe(tcp('127.0.0.1', listener.port), 5000, abort.signal);
      assertFailed(r, 'timeout');
      assert.equal(r.remoteIp, null);
    });

    test('no socket or timer outlives a probe, whatever its end', IDLE, async () => {
      const sockets = active('TCPSocketWrap');
      const timers = active('Timeout');
      const abort = new AbortController();
      setTimeout(() => abort.abort(), 50);
      await Promise.all([
        probe(tcp('127.0.0.1', both.port)),
        probe(tcp('127.0.0.1', closed)),
        probe(tcp('127.0.0.1', listener.port), 100),
        probe(tcp('127.0.0.1', listener.port), 5000, abort.signal),
      ]);
      await both.v4.idle();
      // A destroyed socket's handle is released on the next turn of the event loop.
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(active('TCPSocketWrap'), sockets);
      assert.equal(active('Timeout'), timers);
    });
  });
});
