/**
 * The lab: real local servers for the prober tests and benchmarks, all on loopback. {@link startLab}
 * starts every one of them; the returned object builds URLs for them and closes them all.
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTlsServer } from 'node:tls';
import { labCerts } from './certs.js';
import { startLabDns } from './dns.js';
import {
  closedPort,
  emptyReply,
  endlessHead,
  garbage,
  hang,
  resetOnHello,
  startFaultServer,
  startHandshakeDelay,
  trickleBody,
  trickleHead,
} from './faults.js';
import { type Listening, listen } from './listen.js';
import { labRoutes } from './routes.js';

/** The lab's servers, by what they do. */
export const LAB_TARGETS = {
  /** The lab routes over plain HTTP (see routes.ts). */
  http: 'http',
  /** The lab routes over HTTPS, with a certificate from the lab CA. */
  https: 'https',
  /** Accepts, never answers. */
  hang: 'http',
  /** Resets the connection on the TLS ClientHello. */
  resetHandshake: 'https',
  /** Reads the request, closes without a reply. */
  emptyReply: 'http',
  /** Answers with a non-HTTP banner. */
  garbage: 'http',
  /** Nothing listens: connections are refused. */
  closed: 'http',
  /** The lab routes, with a certificate from the lab CA that expired in 2020. */
  expiredCert: 'https',
  /** The lab routes, with a self-signed certificate (not from the lab CA). */
  selfSigned: 'https',
  /** Completes the TLS handshake, then never answers. */
  hangAfterHandshake: 'https',
  /** Slowloris: a status line, then the head one byte every 100 ms, never ending. */
  trickleHead: 'http',
  /** A whole head announcing 1 MB, then the body one byte every 100 ms. */
  trickleBody: 'http',
  /** A status line, then header lines for as long as the client reads. */
  endlessHead: 'http',
} as const;
export type LabTarget = keyof typeof LAB_TARGETS;

export interface LabOptions {
  /** Where the DNS server listens: port 0 (default) picks a free one; 53 inside a lab namespace. */
  readonly dnsPort?: number;
}

export interface Lab {
  /** The lab CA's PEM file: pass it as `caFile` (curl: `--cacert`) to trust the lab's HTTPS servers. */
  readonly caFile: string;
  readonly ports: Readonly<Record<LabTarget | 'dns', number>>;
  /** A URL on `target`, e.g. `url('https', '/ttfb/100', 'localhost')`. The host must resolve to loopback. */
  url(target: LabTarget, path?: string, host?: string): string;
  /** An HTTPS URL whose TLS handshake the server delays by `delayMs` (listener started on first use). */
  handshakeDelayUrl(delayMs: number, path?: string, host?: string): Promise<string>;
  /** Resolves once no lab server holds a connection: every client the lab served has hung up. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/** Starts every lab server on 127.0.0.1. Rejects when the `openssl` CLI is missing (it makes the CA). */
export async function startLab(options: LabOptions = {}): Promise<Lab> {
  const certs = await labCerts();
  const https = createHttpsServer({ cert: certs.cert, key: certs.key }, labRoutes);
  const servers = {
    http: await listen(createHttpServer(labRoutes)),
    https: await listen(https),
    hang: await startFaultServer(hang),
    resetHandshake: await startFaultServer(resetOnHello),
    emptyReply: await startFaultServer(emptyReply),
    garbage: await startFaultServer(garbage),
    expiredCert: await listen(createHttpsServer(certs.expired, labRoutes)),
    selfSigned: await listen(createHttpsServer(certs.selfSigned, labRoutes)),
    // Reads and drops the request once the handshake is done, so the client's close is seen at once.
    hangAfterHandshake: await listen(
      createTlsServer({ cert: certs.cert, key: certs.key }, (socket) => socket.resume()),
    ),
    trickleHead: await startFaultServer(trickleHead),
    trickleBody: await startFaultServer(trickleBody),
    endlessHead: await startFaultServer(endlessHead),
  };
  const closed = await closedPort();
  const dns = await startLabDns('127.0.0.1', options.dnsPort ?? 0);
  const delayed = new Map<number, Promise<Listening>>();
  const ports = { ...mapValues(servers, (s) => s.port), closed, dns: dns.port };
  const url = (target: LabTarget, path = '/ok', host = '127.0.0.1') =>
    `${LAB_TARGETS[target]}://${hostPart(host)}:${ports[target]}${path}`;

  return {
    caFile: certs.caFile,
    ports,
    url,
    async handshakeDelayUrl(delayMs, path = '/ok', host = '127.0.0.1') {
      let listener = delayed.get(delayMs);
      if (!listener) {
        listener = startHandshakeDelay(delayMs, https);
        delayed.set(delayMs, listener);
      }
      return `https://${hostPart(host)}:${(await listener).port}${path}`;
    },
    async idle() {
      await Promise.all(
        [...Object.values(servers), ...(await Promise.all(delayed.values()))].map((s) => s.idle()),
      );
    },
    async close() {
      const all = [...Object.values(servers), ...(await Promise.all(delayed.values())), dns];
      await Promise.all(all.map((s) => s.close()));
    },
  };
}

function hostPart(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function mapValues<K extends string, V, R>(obj: Record<K, V>, fn: (v: V) => R): Record<K, R> {
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, fn(v as V)])) as Record<K, R>;
}
