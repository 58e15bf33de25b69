/**
 * The benchmark's lab servers: the test lab's routes, certificates and DNS zone, but with every injected
 * delay timed by wmn's sub-millisecond timer instead of `setTimeout`. `setTimeout` fires up to ~1 ms
 * late, which would be counted as the engines' error when the goal is an error under 1 ms. The lab also
 * keeps how late its own timers actually fired, so that share of any error can be told apart.
 */
import { createSocket, type RemoteInfo } from 'node:dgram';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createTcpServer } from 'node:net';
import { type DecodedPacket, decode, encode } from 'dns-packet';
import { createSystemClock } from '../src/scheduler/clock.js';
import { labCerts } from '../test/lab/certs.js';
import { answer } from '../test/lab/dns.js';
import { type Listening, listen } from '../test/lab/listen.js';
import { labRoutes } from '../test/lab/routes.js';
import { spread } from './stats.js';

/** What the lab process reports once it listens. */
export interface BenchLabPorts {
  readonly caFile: string;
  readonly http: number;
  readonly https: number;
  /** HTTPS listeners whose TLS handshake waits the key's milliseconds. */
  readonly handshake: Readonly<Record<string, number>>;
  readonly dns: number;
}

/** Same size as the test lab's `/ok` body: a favicon. */
const BODY = Buffer.alloc(5430, 0x5a);
const TTFB = /^\/ttfb\/(\d+)$/;
/** The route that reports (and resets) the lab's own timer lateness. */
export const TIMERS_PATH = '/bench/lab-timers';
const MAX_SAMPLES = 200_000;

export interface PreciseLab {
  readonly ports: BenchLabPorts;
  close(): Promise<void>;
}

export async function startPreciseLab(
  handshakeDelays: readonly number[],
  dnsPort: number,
): Promise<PreciseLab> {
  const clock = createSystemClock();
  const lateness: number[] = [];
  /** Runs `fn` after `ms` on the precise timer, recording how late it fired; returns a canceller. */
  const after = (ms: number, fn: () => void) => {
    const due = clock.monoNow() + ms;
    return clock.setTimer(() => {
      if (lateness.length < MAX_SAMPLES) lateness.push(clock.monoNow() - due);
      fn();
    }, ms);
  };
  const routes = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === TIMERS_PATH) {
      res.end(JSON.stringify(spread(lateness.splice(0), 'ms')));
      return;
    }
    const ttfb = TTFB.exec(path);
    if (!ttfb) return labRoutes(req, res);
    res.setHeader('Connection', 'close');
    const cancel = after(Number(ttfb[1]), () => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': BODY.length });
      res.end(BODY);
    });
    res.once('close', cancel);
  };
  const certs = await labCerts();
  const https = createHttpsServer({ cert: certs.cert, key: certs.key }, routes);
  const servers: Listening[] = [await listen(createHttpServer(routes)), await listen(https)];
  const handshake: Record<string, number> = {};
  for (const delay of handshakeDelays) {
    const server = await listen(delayedHandshake(delay, https, after));
    servers.push(server);
    handshake[delay] = server.port;
  }
  const dns = await startDns(dnsPort, after);
  return {
    ports: {
      caFile: certs.caFile,
      http: servers[0]!.port,
      https: servers[1]!.port,
      handshake,
      dns: dns.port,
    },
    async close() {
      await Promise.all([...servers.map((s) => s.close()), dns.close()]);
    },
  };
}

type After = (ms: number, fn: () => void) => () => void;

/** Accepts TCP at once (the client's connect completes), then holds the TLS handshake `delayMs`. */
function delayedHandshake(delayMs: number, tls: HttpsServer, after: After) {
  return createTcpServer({ pauseOnConnect: true }, (socket) => {
    const cancel = after(delayMs, () => tls.emit('connection', socket));
    socket.once('close', cancel);
  });
}

/** The lab DNS zone (test/lab/dns.ts: `dMS` labels delay the answer) on `port`, delays timed precisely. */
async function startDns(port: number, after: After): Promise<{ port: number; close(): Promise<void> }> {
  const socket = createSocket('udp4');
  const pending = new Set<{ cancel: () => void }>();
  socket.on('message', (msg: Buffer, from: RemoteInfo) => {
    let query: DecodedPacket;
    try {
      query = decode(msg);
    } catch {
      return;
    }
    const { delayMs, response } = answer(query);
    // A 0 ms timer fires at once, inside `after`: only a timer still pending is tracked.
    const timer = { cancel: () => {} };
    let sent = false;
    timer.cancel = after(delayMs, () => {
      sent = true;
      pending.delete(timer);
      socket.send(encode(response), from.port, from.address);
    });
    if (!sent) pending.add(timer);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, '127.0.0.1', () => resolve());
  });
  return {
    port: socket.address().port,
    close: () =>
      new Promise((resolve) => {
        for (const timer of pending) timer.cancel();
        socket.close(() => resolve());
      }),
  };
}
