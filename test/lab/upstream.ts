/**
 * The "internet" of the home-network topology (topology.ts), run as its own process inside the
 * `internet` namespace: `node --import tsx test/lab/upstream.ts`.
 *
 * - HTTP on port 80 of every address of the namespace (IPv4 and IPv6): 200 to `GET /`, 404 otherwise.
 * - DNS (UDP) on `ADDRESSES.resolver`:53 (see topology.ts): `www.upstream.test` is A `ADDRESSES.web` and
 *   AAAA `ADDRESSES.web6`; any other name is NXDOMAIN. The lab DNS server (dns.ts) cannot serve this zone
 *   (its `lab.test` names all point to 127.0.0.1, which from the home namespace is home's own loopback);
 *   only its wire rules are shared: the answer's flags, and silence for what is not DNS.
 *
 * Prints one JSON line `{ "listening": true }` once everything listens. Reads commands on stdin, one a line,
 * and acknowledges each with a JSON line `{ "dns": "<mode>" }` once it applies:
 * `dns ok`, `dns servfail` (answers SERVFAIL), `dns drop` (answers nothing). Stops on SIGTERM/SIGINT or when
 * stdin closes, so it never outlives the test that spawned it.
 */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import { type Answer, type DecodedPacket, encode, type Packet } from 'dns-packet';
import { decodeQuery, flagsFor } from './dns.js';
import { ADDRESSES, DNS_MODES, type DnsMode } from './topology.js';

const SERVFAIL = 2;
const NXDOMAIN = 3;
const TTL = 1;

/** The answer to one query in `mode` (undefined: none at all). Pure, so the zone is easy to read. */
export function upstreamAnswer(query: DecodedPacket, mode: DnsMode): Packet | undefined {
  if (mode === 'drop') return undefined;
  const questions = query.questions ?? [];
  const flags = flagsFor(query);
  const base = { type: 'response' as const, id: query.id, questions };
  if (mode === 'servfail') return { ...base, flags: flags | SERVFAIL };
  if (questions[0]?.name.toLowerCase() !== ADDRESSES.webName) return { ...base, flags: flags | NXDOMAIN };
  const answers: Answer[] = [];
  for (const q of questions) {
    if (q.type === 'A') answers.push({ type: 'A', name: q.name, ttl: TTL, data: ADDRESSES.web });
    if (q.type === 'AAAA') answers.push({ type: 'AAAA', name: q.name, ttl: TTL, data: ADDRESSES.web6 });
  }
  return { ...base, flags, answers };
}

async function main(): Promise<void> {
  let mode: DnsMode = 'ok';
  const dns = createSocket('udp4');
  dns.on('message', (msg, from) => {
    const query = decodeQuery(msg);
    if (!query) return;
    const response = upstreamAnswer(query, mode);
    if (response) dns.send(encode(response), from.port, from.address);
  });
  await new Promise<void>((resolve, reject) => {
    dns.once('error', reject);
    dns.bind(53, ADDRESSES.resolver, () => {
      dns.off('error', reject);
      resolve();
    });
  });

  // Two servers: one dual-stack socket on :: would depend on the namespace's net.ipv6.bindv6only.
  await listenOn('0.0.0.0');
  await listenOn('::');

  // Exiting drops the sockets and any open connection; nothing here needs an orderly close.
  const stop = () => process.exit(0);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const commands = createInterface({ input: process.stdin });
  commands.on('line', (line) => {
    const [verb, arg] = line.trim().split(/\s+/);
    if (verb === 'dns' && DNS_MODES.includes(arg as DnsMode)) {
      mode = arg as DnsMode;
      process.stdout.write(`${JSON.stringify({ dns: mode })}\n`);
    } else {
      process.stdout.write(`${JSON.stringify({ error: `unknown command: ${line}` })}\n`);
    }
  });
  commands.on('close', stop);
  process.stdout.write(`${JSON.stringify({ listening: true })}\n`);
}

/** An HTTP server on `host`:80, resolving once it listens. */
function listenOn(host: string): Promise<void> {
  const server = createServer((req, res) => {
    const found = req.method === 'GET' && req.url === '/';
    res.writeHead(found ? 200 : 404, { 'content-type': 'text/plain' }).end(found ? 'ok\n' : 'not found\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: 80, host, ipv6Only: host.includes(':') }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

await main();
