/**
 * The `dns://` prober: one query to one resolver over UDP (over TCP again when the answer is truncated),
 * timed with the monotonic clock, its rcode and records classified. See {@link probeDns}.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { lookup } from 'node:dns';
import { isIP, connect as tcpConnect } from 'node:net';
import {
  type Answer,
  type DecodedPacket,
  decode,
  encode,
  type Packet,
  type Question,
  RECURSION_DESIRED,
  streamEncode,
} from 'dns-packet';
import { ABORTED, deadlineSignal } from './deadline.js';
import type { DnsSource, ErrorClass, MonotonicClock, ProbeResult, Prober } from './types.js';

const NOERROR = 0;
const NXDOMAIN = 3;
const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
const RCODE_ERRORS: Readonly<Record<number, ErrorClass>> = { 2: 'servfail', 3: 'nxdomain', 5: 'dns_refused' };
const NETWORK_ERRORS: Readonly<Record<string, ErrorClass>> = {
  ECONNREFUSED: 'refused',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  ETIMEDOUT: 'timeout',
};
/** Longer CNAME chains than this are a loop, not an answer (resolvers give up at about 8–16). */
const MAX_CNAME_HOPS = 16;

/** A failure of one step of the probe: data, never thrown. */
class Fault {
  constructor(
    readonly error: ErrorClass,
    readonly detail: string,
  ) {}
}

/**
 * A truncated UDP answer that does not decode (a server that cut it mid-record): asked again over TCP.
 * Over TCP, where nothing is truncated, it is the resolver's malformed answer.
 */
const TRUNCATED = new Fault('dns_error', 'malformed truncated answer');

/** What the probe has measured so far; a failed probe keeps the phases it completed. */
interface Measured {
  dnsMs: number | null;
  connectMs: number | null;
  remoteIp: string | null;
}

/**
 * Probes a dns:// source once. Never rejects: a failure is a result with an `error` class.
 *
 * - `dnsMs`: `dns.lookup` of the resolver when it is given by name (null for an IP literal).
 * - One query (random id, RD set) over a connected UDP socket, so an ICMP port-unreachable surfaces as
 *   `refused`. Datagrams whose id or question do not match are ignored (spoofed or stale answers).
 *   A truncated answer (TC) is asked again over TCP; `connectMs` is that connection's handshake.
 * - `totalMs`: from the start of the probe (the lookup included) to the usable answer, or to the deadline
 *   (`timeoutMs`, which covers everything) or `ctx.signal`'s abort: `timeout`.
 * - NOERROR with a record of the asked type (directly or at the end of a CNAME chain) is a success;
 *   otherwise `nodata`, `nxdomain`, `servfail`, `dns_refused` or `dns_error`. With `nocache` a random
 *   label is prefixed to the name, and NXDOMAIN or an empty answer count as success too.
 */
export const probeDns: Prober<DnsSource> = async (source, options, ctx) => {
  const start = ctx.clock.now();
  const deadline = deadlineSignal(options.timeoutMs, ctx.signal);
  const measured: Measured = { dnsMs: null, connectMs: null, remoteIp: null };
  const question: Question = { type: source.type, name: queryName(source), class: 'IN' };
  const end = (outcome: Fault | null, detail?: string) =>
    result(source.uri, ctx.clock.now() - start, measured, outcome, detail);
  try {
    const address = await resolverAddress(source, measured, ctx.clock, deadline.signal);
    if (address instanceof Fault) return end(address);
    measured.remoteIp = address;
    const reply = await exchange(address, source.port, question, measured, ctx.clock, deadline.signal);
    if (reply instanceof Fault) return end(reply);
    return end(classify(reply, question, source.nocache), `rcode ${rcodeName(rcodeOf(reply))}`);
  } finally {
    deadline.dispose();
  }
};

/** The name queried: with `nocache`, under a fresh random label no cache can have seen. */
function queryName(source: DnsSource): string {
  if (!source.nocache) return source.name;
  const label = `wmn-${randomBytes(6).toString('hex')}`;
  return source.name === '' ? label : `${label}.${source.name}`;
}

/** The resolver's address: the literal itself, or the system's lookup of its name (timed as dnsMs). */
async function resolverAddress(
  source: DnsSource,
  measured: Measured,
  clock: MonotonicClock,
  signal: AbortSignal,
): Promise<string | Fault> {
  const literal = isIP(source.resolver);
  if (literal !== 0) {
    if (source.family === null || source.family === literal) return source.resolver;
    return new Fault('internal', `resolver ${source.resolver} is not an IPv${source.family} address`);
  }
  const begun = clock.now();
  const address = await guarded<string>(signal, (settle) =>
    lookup(source.resolver, { family: source.family ?? 0 }, (err, ip) =>
      settle(err ? new Fault('dns', err.code ?? err.message) : ip),
    ),
  );
  if (!(address instanceof Fault)) measured.dnsMs = clock.now() - begun;
  return address;
}

/** The query over UDP, and over TCP again when the UDP answer was truncated. */
async function exchange(
  ip: string,
  port: number,
  question: Question,
  measured: Measured,
  clock: MonotonicClock,
  signal: AbortSignal,
): Promise<DecodedPacket | Fault> {
  const id = randomInt(0x10000);
  const query: Packet = { type: 'query', id, flags: RECURSION_DESIRED, questions: [question] };
  const match = (msg: Buffer) => matchReply(msg, id, question);
  const reply = await queryUdp(ip, port, encode(query), match, signal);
  const truncated = reply === TRUNCATED || (!(reply instanceof Fault) && reply.flag_tc);
  if (!truncated) return reply;
  return queryTcp(ip, port, streamEncode(query), match, measured, clock, signal);
}

type Match = (msg: Buffer) => DecodedPacket | Fault | null;

function queryUdp(
  ip: string,
  port: number,
  query: Buffer,
  match: Match,
  signal: AbortSignal,
): Promise<DecodedPacket | Fault> {
  return guarded(signal, (settle, defer) => {
    const socket = createSocket(isIP(ip) === 6 ? 'udp6' : 'udp4');
    defer(() => closeQuietly(socket));
    socket.on('error', (err) => settle(networkFault(err)));
    socket.on('message', (msg: Buffer) => {
      const reply = match(msg);
      if (reply !== null) settle(reply);
    });
    // Connected, so only the resolver's datagrams arrive, and its ICMP errors surface as socket errors.
    // A connect that fails (no route: ENETUNREACH) calls back with the error, though the types say no
    // argument: sending then would throw from inside dgram, crashing the agent.
    const connected: (err?: Error) => void = (err) => {
      if (err) {
        settle(networkFault(err));
        return;
      }
      socket.send(query, (sendErr) => {
        if (sendErr) settle(networkFault(sendErr));
      });
    };
    socket.connect(port, ip, connected as () => void);
  });
}

/** Closes a UDP socket that a failed bind or connect may already have closed. */
function closeQuietly(socket: UdpSocket): void {
  try {
    socket.close();
  } catch {
    // ERR_SOCKET_DGRAM_NOT_RUNNING: nothing left to release.
  }
}

/** The query again over TCP, each message framed by a 2-byte length (RFC 1035 4.2.2). */
function queryTcp(
  ip: string,
  port: number,
  framed: Buffer,
  match: Match,
  measured: Measured,
  clock: MonotonicClock,
  signal: AbortSignal,
): Promise<DecodedPacket | Fault> {
  return guarded(signal, (settle, defer) => {
    const begun = clock.now();
    const socket = tcpConnect({ host: ip, port });
    defer(() => socket.destroy());
    let pending = Buffer.alloc(0);
    socket.once('connect', () => {
      measured.connectMs = clock.now() - begun;
      socket.write(framed);
    });
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (let msg = nextFrame(pending); msg !== null; msg = nextFrame(pending)) {
        pending = pending.subarray(2 + msg.length);
        const reply = match(msg);
        if (reply !== null) return settle(reply);
      }
    });
    socket.on('error', (err) => settle(networkFault(err)));
    socket.once('close', () => settle(new Fault('reset', 'TCP connection closed before the answer')));
  });
}

/** The first complete length-prefixed message in `buffer`, or null while it is still arriving. */
function nextFrame(buffer: Buffer): Buffer | null {
  if (buffer.length < 2) return null;
  const length = buffer.readUInt16BE(0);
  return buffer.length >= 2 + length ? buffer.subarray(2, 2 + length) : null;
}

/**
 * The reply to our query in `msg`, or null when it is not one (another id, not a response, another
 * question): such datagrams are spoofed or stale and the wait goes on. A reply with our id that does not
 * decode is the resolver's malformed answer, unless it is truncated: then TCP may still get the answer.
 */
function matchReply(msg: Buffer, id: number, question: Question): DecodedPacket | Fault | null {
  if (msg.length < 2 || msg.readUInt16BE(0) !== id) return null;
  const reply = decodeWhole(msg);
  if (reply === null) return isTruncated(msg) ? TRUNCATED : new Fault('dns_error', 'malformed answer');
  if (reply.type !== 'response') return null;
  const questions = reply.questions ?? [];
  // Error replies (FORMERR, NOTIMP) may carry no question section (RFC 1035 leaves it to the server).
  if (questions.length === 0 && rcodeOf(reply) !== NOERROR) return reply;
  const [asked] = questions;
  const same = questions.length === 1 && asked !== undefined && asked.type === question.type;
  return same && sameName(asked.name, question.name) ? reply : null;
}

/**
 * `msg` decoded, or null when it is not a whole DNS message. dns-packet reads past the end of a short
 * record without throwing (yielding garbage), so a message must also not claim more bytes than it has.
 */
function decodeWhole(msg: Buffer): DecodedPacket | null {
  try {
    const packet = decode(msg);
    return decode.bytes <= msg.length ? packet : null;
  } catch {
    return null;
  }
}

/** Whether the header of `msg` is a response with the TC bit (RFC 1035 4.1.1: QR 0x80, TC 0x02). */
function isTruncated(msg: Buffer): boolean {
  return msg.length >= 4 && ((msg[2] ?? 0) & 0x82) === 0x82;
}

/** The reply's outcome: a Fault for a failure, null for a success. */
function classify(reply: DecodedPacket, question: Question, nocache: boolean): Fault | null {
  const rcode = rcodeOf(reply);
  if (rcode === NOERROR) {
    if (nocache || hasRecord(reply.answers ?? [], question)) return null;
    return new Fault('nodata', `no ${question.type} record`);
  }
  // With nocache the name is made up: an NXDOMAIN is the authoritative servers' answer, so they work.
  if (rcode === NXDOMAIN && nocache) return null;
  return new Fault(RCODE_ERRORS[rcode] ?? 'dns_error', `rcode ${rcodeName(rcode)}`);
}

/** Whether `answers` hold a record of the asked type for the name, directly or through CNAMEs. */
function hasRecord(answers: readonly Answer[], question: Question): boolean {
  let name = question.name;
  for (let hop = 0; hop <= MAX_CNAME_HOPS; hop++) {
    if (answers.some((a) => a.type === question.type && sameName(a.name, name))) return true;
    const alias = answers.find((a) => a.type === 'CNAME' && sameName(a.name, name));
    if (alias?.type !== 'CNAME') return false;
    name = alias.data;
  }
  return false;
}

/** DNS names compare without case and without a trailing dot. */
function sameName(a: string, b: string): boolean {
  return a.replace(/\.$/, '').toLowerCase() === b.replace(/\.$/, '').toLowerCase();
}

function rcodeOf(reply: DecodedPacket): number {
  return (reply.flags ?? 0) & 0xf;
}

function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `RCODE_${rcode}`;
}

function networkFault(err: NodeJS.ErrnoException): Fault {
  return new Fault(NETWORK_ERRORS[err.code ?? ''] ?? 'unreachable', err.code ?? err.message);
}

/** Registers what to undo (close a socket) when the step settles, whichever way. */
type Defer = (cleanup: () => void) => void;

/**
 * Runs one step of the probe until `body` settles it or `signal` aborts (a `timeout` Fault), whichever
 * comes first; every cleanup `body` deferred runs then, exactly once. A throw is an `internal` Fault.
 */
function guarded<T>(
  signal: AbortSignal,
  body: (settle: (value: T | Fault) => void, defer: Defer) => void,
): Promise<T | Fault> {
  return new Promise((resolve) => {
    const cleanups: (() => void)[] = [];
    let settled = false;
    const settle = (value: T | Fault) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      for (const cleanup of cleanups) cleanup();
      resolve(value);
    };
    const defer: Defer = (cleanup) => {
      if (settled) cleanup();
      else cleanups.push(cleanup);
    };
    const onAbort = () => settle(abortFault(signal));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      body(settle, defer);
    } catch (err) {
      settle(new Fault('internal', err instanceof Error ? err.message : String(err)));
    }
  });
}

function abortFault(signal: AbortSignal): Fault {
  return new Fault('timeout', signal.reason === ABORTED ? 'aborted' : 'no answer before the deadline');
}

/** The probe's row: the phases measured so far, and a failure's class and detail. */
function result(
  uri: string,
  totalMs: number,
  measured: Measured,
  outcome: Fault | null,
  detail?: string,
): ProbeResult {
  const common = { source: uri, ...measured, tlsMs: null, ttfbMs: null, totalMs };
  if (outcome === null) {
    return { ...common, disconnected: false, status: null, error: null, ...(detail ? { detail } : {}) };
  }
  return { ...common, disconnected: true, status: null, error: outcome.error, detail: outcome.detail };
}
