/**
 * The tcp:// prober: resolve the host, complete one TCP handshake, close at once. Nothing is sent, so a
 * probe costs the server an accept and a close, and says only whether (and how fast) it accepts.
 */
import { connect, isIP, type Socket } from 'node:net';
import { classify, literalFits, lookupAll } from './http-hop.js';
import type { ErrorClass, ProbeOutcome, ProbeResult, Prober, TcpSource } from './types.js';

/**
 * Probes a tcp://host:port source once. Never rejects: a failure is a result with an `error` class.
 *
 * - `dnsMs`: `dns.lookup` of the host, of the pinned family only (null for an IP literal); no address
 *   (of that family) is `dns`.
 * - `connectMs`: the TCP handshake, from the first connection attempt to the one that succeeded (each
 *   address is tried in turn, as the HTTP engine does); `totalMs`: from the start to connected, or to
 *   the moment the probe failed or its deadline passed.
 * - Failures: `refused` (RST), `unreachable` (no route, host down: the kernel's ENETUNREACH and
 *   EHOSTUNREACH), `timeout` at `timeoutMs` or when `ctx.signal` aborts (detail `aborted`).
 * - `status` is null; `remoteIp` is the address connected to (or last tried).
 */
export const probeTcp: Prober<TcpSource> = (source, options, ctx) =>
  new Promise((resolve) => {
    const { clock, signal } = ctx;
    const start = clock.now();
    let dnsMs: number | null = null;
    let remoteIp: string | null = null;
    let socket: Socket | undefined;
    let settled = false;

    const settle = (outcome: ProbeOutcome & Pick<ProbeResult, 'connectMs' | 'detail'>) => {
      if (settled) return;
      settled = true;
      const totalMs = clock.now() - start;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket?.destroy();
      resolve({ source: source.uri, dnsMs, tlsMs: null, ttfbMs: null, totalMs, remoteIp, ...outcome });
    };
    const fail = (error: ErrorClass, detail: string) =>
      settle({ disconnected: true, status: null, error, connectMs: null, detail });
    const onAbort = () => fail('timeout', 'aborted');
    // A name still unresolved at the deadline did not resolve: the contract's `dns` ("no answer").
    const timer = setTimeout(
      () =>
        remoteIp === null && !isIP(source.host)
          ? fail('dns', `no address for ${source.host} within ${options.timeoutMs} ms`)
          : fail('timeout', `not connected within ${options.timeoutMs} ms`),
      options.timeoutMs,
    );

    /** Tries each address in turn until one accepts: a dead IPv6 route must not hide a working IPv4. */
    const attempt = (addresses: readonly string[], index: number, startedAt: number) => {
      const ip = addresses[index] ?? '';
      remoteIp = ip;
      const s = connect({ host: ip, port: source.port });
      socket = s;
      s.once('connect', () => {
        const connectMs = clock.now() - startedAt;
        settle({ disconnected: false, status: null, error: null, connectMs });
      });
      s.on('error', (err: NodeJS.ErrnoException) => {
        if (settled) return;
        s.destroy();
        if (index + 1 < addresses.length) return attempt(addresses, index + 1, startedAt);
        fail(classify(err, 'connect'), err.code ?? err.message);
      });
    };

    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    if (isIP(source.host)) {
      if (!literalFits(source.host, source.family)) {
        return fail('dns', `${source.host} is not an IPv${source.family} address`);
      }
      return attempt([source.host], 0, clock.now());
    }
    lookupAll(source.host, source.family, (err, addresses) => {
      if (settled) return;
      if (err) return fail(classify(err, 'dns'), err.code ?? err.message);
      if (addresses.length === 0) return fail('dns', 'no address');
      dnsMs = clock.now() - start;
      attempt(addresses, 0, clock.now());
    });
  });
