/**
 * The lab's DNS server (UDP): authoritative for `lab.test` and every name under it.
 *
 * - A: 127.0.0.1. AAAA: ::1 when the name has a `v6` label, otherwise an empty NOERROR answer (as for a
 *   host without IPv6), so resolvers asking for both families still get an answer quickly.
 * - Any other name: NXDOMAIN.
 * - A label `dMS` delays the answer by MS ms: `d50.lab.test` answers after 50 ms, which is how tests
 *   inject a known name-resolution time.
 */
import { createSocket, type RemoteInfo } from 'node:dgram';
import {
  type Answer,
  AUTHORITATIVE_ANSWER,
  type DecodedPacket,
  decode,
  encode,
  type Packet,
  RECURSION_AVAILABLE,
  RECURSION_DESIRED,
} from 'dns-packet';

const ZONE = 'lab.test';
const NXDOMAIN = 3;
const TTL = 1;

export interface LabDns {
  readonly port: number;
  close(): Promise<void>;
}

/** The answer to one query and how long to hold it back. Pure, so the zone's rules are easy to read. */
export function answer(query: DecodedPacket): { readonly delayMs: number; readonly response: Packet } {
  const questions = query.questions ?? [];
  const base = { type: 'response' as const, id: query.id, questions };
  const name = questions[0]?.name.toLowerCase() ?? '';
  if (name !== ZONE && !name.endsWith(`.${ZONE}`)) {
    return { delayMs: 0, response: { ...base, flags: flagsFor(query) | NXDOMAIN } };
  }
  const labels = name.split('.');
  const delayLabel = labels.find((label) => /^d\d+$/.test(label));
  const answers: Answer[] = [];
  for (const q of questions) {
    if (q.type === 'A') answers.push({ type: 'A', name: q.name, ttl: TTL, data: '127.0.0.1' });
    if (q.type === 'AAAA' && labels.includes('v6'))
      answers.push({ type: 'AAAA', name: q.name, ttl: TTL, data: '::1' });
  }
  return {
    delayMs: delayLabel ? Number(delayLabel.slice(1)) : 0,
    response: { ...base, flags: flagsFor(query), answers },
  };
}

/** An authoritative answer that echoes the client's recursion-desired bit, as real servers do. */
function flagsFor(query: DecodedPacket): number {
  return AUTHORITATIVE_ANSWER | RECURSION_AVAILABLE | ((query.flags ?? 0) & RECURSION_DESIRED);
}

/** Starts the lab DNS server on `host:port` (port 0: any free port; 53 inside a lab namespace). */
export async function startLabDns(host = '127.0.0.1', port = 0): Promise<LabDns> {
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const timers = new Set<NodeJS.Timeout>();
  socket.on('message', (msg: Buffer, from: RemoteInfo) => {
    let query: DecodedPacket;
    try {
      query = decode(msg);
    } catch {
      return; // not DNS: a real server drops it too
    }
    const { delayMs, response } = answer(query);
    const timer = setTimeout(() => {
      timers.delete(timer);
      socket.send(encode(response), from.port, from.address);
    }, delayMs);
    timers.add(timer);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return {
    port: socket.address().port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        socket.close(() => resolve());
      }),
  };
}
