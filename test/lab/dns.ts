/**
 * The lab's DNS server (UDP, and TCP on the same port): authoritative for `lab.test` and every name
 * under it.
 *
 * - A: 127.0.0.1. AAAA: ::1 when the name has a `v6` label, otherwise an empty NOERROR answer (as for a
 *   host without IPv6), so resolvers asking for both families still get an answer quickly.
 * - Any other name: NXDOMAIN.
 * - A label `dMS` delays the answer by MS ms: `d50.lab.test` answers after 50 ms, which is how tests
 *   inject a known name-resolution time.
 *
 * Fault labels, so a test injects a real fault by the name it asks for:
 * - `nxdomain`, `servfail`, `refused`, `notimp`: that rcode, no records.
 * - `drop`: never answered.
 * - `tc`: over UDP an empty answer with the TC bit set; over TCP the full answer.
 * - `badid`: a SERVFAIL with another id first, then the answer; `badq`: the same, but the decoy has the
 *   right id and another question. A client that takes the decoy fails.
 * - `cname`: a CNAME to `target.lab.test`, then that name's records (a chain, as resolvers send it).
 * - `cut`: over UDP the answer's last bytes are not sent, so it does not decode (with `tc`: a truncated
 *   answer cut mid-record, as some servers send one; TCP then answers in full).
 */
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Socket } from 'node:net';
import {
  type Answer,
  AUTHORITATIVE_ANSWER,
  type DecodedPacket,
  decode,
  encode,
  type Packet,
  type Question,
  RECURSION_AVAILABLE,
  RECURSION_DESIRED,
  streamEncode,
  TRUNCATED_RESPONSE,
} from 'dns-packet';
import { type Listening, listen } from './listen.js';

const ZONE = 'lab.test';
const CNAME_TARGET = `target.${ZONE}`;
const SERVFAIL = 2;
const NXDOMAIN = 3;
const RCODE_LABELS: Readonly<Record<string, number>> = {
  nxdomain: NXDOMAIN,
  servfail: SERVFAIL,
  notimp: 4,
  refused: 5,
};
const TTL = 1;
/** Bytes a `cut` answer is short of: into its last record, or its question when it has none. */
const CUT_BYTES = 3;
/** Names remembered for {@link LabDns.seen}; a long-running lab must not grow without bound. */
const SEEN_MAX = 1000;
/** Attempts at a port free for both UDP and TCP, when any free port will do. */
const BIND_ATTEMPTS = 5;

export type Transport = 'udp' | 'tcp';

export interface LabDns {
  readonly port: number;
  /** The names asked for (lower case, over UDP and TCP, oldest first), so tests can see what was sent. */
  readonly seen: readonly string[];
  close(): Promise<void>;
}

/** What the server does with one query. */
export interface LabReply {
  /** How long the answer is held back. */
  readonly delayMs: number;
  /** The answer (not sent when `drop`). */
  readonly response: Packet;
  /** Replies a client must ignore, sent at once, before the answer. */
  readonly decoys?: readonly Packet[];
  /** Never answer: the client can only time out. */
  readonly drop?: boolean;
  /** Send the answer this many bytes short, so it does not decode. */
  readonly cutBytes?: number;
}

/** The answer to one query and how long to hold it back. Pure, so the zone's rules are easy to read. */
export function answer(query: DecodedPacket, transport: Transport = 'udp'): LabReply {
  const questions = query.questions ?? [];
  const base = { type: 'response' as const, id: query.id, questions };
  const flags = flagsFor(query);
  const name = questions[0]?.name.toLowerCase() ?? '';
  if (name !== ZONE && !name.endsWith(`.${ZONE}`)) {
    return { delayMs: 0, response: { ...base, flags: flags | NXDOMAIN } };
  }
  const labels = name.split('.');
  const delayLabel = labels.find((label) => /^d\d+$/.test(label));
  const delayMs = delayLabel ? Number(delayLabel.slice(1)) : 0;
  const rcode = labels.map((label) => RCODE_LABELS[label]).find((code) => code !== undefined);
  if (rcode !== undefined) return { delayMs, response: { ...base, flags: flags | rcode } };
  const cut = transport === 'udp' && labels.includes('cut') ? { cutBytes: CUT_BYTES } : {};
  if (transport === 'udp' && labels.includes('tc')) {
    return { delayMs, response: { ...base, flags: flags | TRUNCATED_RESPONSE }, ...cut };
  }
  const response = { ...base, flags, answers: questions.flatMap((q) => recordsFor(q, labels)) };
  const decoys = decoysFor(query, labels);
  return {
    delayMs,
    response,
    ...cut,
    ...(decoys.length > 0 ? { decoys } : {}),
    ...(labels.includes('drop') ? { drop: true } : {}),
  };
}

/** The records of one question: a `cname` name answers with the chain to {@link CNAME_TARGET}. */
function recordsFor(q: Question, labels: readonly string[]): Answer[] {
  if (labels.includes('cname') && q.type !== 'CNAME') {
    const chain: Answer = { type: 'CNAME', name: q.name, ttl: TTL, data: CNAME_TARGET };
    return [chain, ...recordsFor({ ...q, name: CNAME_TARGET }, [])];
  }
  if (q.type === 'A') return [{ type: 'A', name: q.name, ttl: TTL, data: '127.0.0.1' }];
  if (q.type === 'AAAA' && labels.includes('v6'))
    return [{ type: 'AAAA', name: q.name, ttl: TTL, data: '::1' }];
  return [];
}

/** SERVFAIL replies that do not belong to the query: another id (`badid`), another question (`badq`). */
function decoysFor(query: DecodedPacket, labels: readonly string[]): Packet[] {
  const decoy = { type: 'response' as const, flags: flagsFor(query) | SERVFAIL };
  const decoys: Packet[] = [];
  if (labels.includes('badid')) {
    decoys.push({ ...decoy, id: ((query.id ?? 0) + 1) & 0xffff, questions: query.questions ?? [] });
  }
  if (labels.includes('badq')) {
    const questions = (query.questions ?? []).map((q) => ({ ...q, name: `other.${ZONE}` }));
    decoys.push({ ...decoy, id: query.id, questions });
  }
  return decoys;
}

/** An authoritative answer that echoes the client's recursion-desired bit, as real servers do. */
export function flagsFor(query: DecodedPacket): number {
  return AUTHORITATIVE_ANSWER | RECURSION_AVAILABLE | ((query.flags ?? 0) & RECURSION_DESIRED);
}

/**
 * Starts the lab DNS server on `host:port` (port 0: any free port; 53 inside a lab namespace), over UDP
 * and over TCP on the same port, as a real server listens.
 */
export async function startLabDns(host = '127.0.0.1', port = 0): Promise<LabDns> {
  const timers = new Set<NodeJS.Timeout>();
  const seen: string[] = [];
  const respond: Respond = (msg, transport, send) => {
    const query = decodeQuery(msg);
    if (!query) return;
    remember(seen, query);
    const reply = answer(query, transport);
    for (const decoy of reply.decoys ?? []) send(decoy);
    if (reply.drop) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      send(reply.response, reply.cutBytes);
    }, reply.delayMs);
    timers.add(timer);
  };
  const { udp, tcp } = await bindBoth(host, port, respond);
  return {
    port: tcp.port,
    seen,
    async close() {
      for (const timer of timers) clearTimeout(timer);
      await Promise.all([new Promise<void>((resolve) => udp.close(() => resolve())), tcp.close()]);
    },
  };
}

type Respond = (msg: Buffer, transport: Transport, send: (packet: Packet, cutBytes?: number) => void) => void;

/** A UDP socket and a TCP listener on one port; with port 0, retried while TCP finds that port taken. */
async function bindBoth(
  host: string,
  port: number,
  respond: Respond,
): Promise<{ udp: UdpSocket; tcp: Listening }> {
  for (let attempt = 1; ; attempt++) {
    const udp = await bindUdp(host, port, respond);
    try {
      return { udp, tcp: await listenTcp(host, udp.address().port, respond) };
    } catch (err) {
      await new Promise<void>((resolve) => udp.close(() => resolve()));
      if (port !== 0 || attempt >= BIND_ATTEMPTS) throw err;
    }
  }
}

async function bindUdp(host: string, port: number, respond: Respond): Promise<UdpSocket> {
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  socket.on('message', (msg: Buffer, from: RemoteInfo) =>
    respond(msg, 'udp', (packet, cutBytes = 0) => {
      const datagram = encode(packet);
      socket.send(datagram.subarray(0, datagram.length - cutBytes), from.port, from.address);
    }),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return socket;
}

/** DNS over TCP: every message framed by a 2-byte length (RFC 1035 4.2.2), several per connection. */
function listenTcp(host: string, port: number, respond: Respond): Promise<Listening> {
  const server = createServer((socket: Socket) => {
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const end = 2 + pending.readUInt16BE(0);
        const msg = pending.subarray(2, end);
        pending = pending.subarray(end);
        respond(msg, 'tcp', (packet) => {
          if (socket.writable) socket.write(streamEncode(packet));
        });
      }
    });
  });
  return listen(server, host, port);
}

/** The query in `msg`, or null when it is not DNS: a real server drops it too. */
export function decodeQuery(msg: Buffer): DecodedPacket | null {
  try {
    return decode(msg);
  } catch {
    return null;
  }
}

function remember(seen: string[], query: DecodedPacket): void {
  for (const q of query.questions ?? []) seen.push(q.name.toLowerCase());
  if (seen.length > SEEN_MAX) seen.splice(0, seen.length - SEEN_MAX);
}
