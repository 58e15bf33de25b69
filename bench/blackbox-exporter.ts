/**
 * Prometheus blackbox_exporter (Debian's package), started by the benchmark on loopback with a module per
 * kind of source (http trusting the lab's CA, tcp_connect, dns, icmp), and stopped (its config removed)
 * afterwards.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseSource } from '../src/config/sources.js';
import type { SourceKind } from '../src/probes/types.js';
import { pidOf, start, stop } from './children.js';
import { BLACKBOX_BIN } from './machine.js';
import { cpuTimes, memory } from './proc.js';

/** The exporter's module for each kind of wmn source. */
const MODULES: Readonly<Record<SourceKind, string>> = {
  http: 'http_lab',
  tcp: 'tcp_lab',
  dns: 'dns_lab',
  icmp: 'icmp_lab',
};
/** The name the dns module asks for (fixed in its config): a `dns://` source side by side asks the same. */
export const BLACKBOX_DNS_NAME = 'lab.test';

export interface BlackboxExporter {
  readonly port: number;
  cpuMs(): number;
  rssMb(): number;
  stop(): Promise<void>;
}

/** The exporter's module and `target` parameter for the probe wmn makes of the source `uri`. */
export function blackboxTarget(uri: string): { module: string; target: string } {
  const parsed = parseSource(uri);
  if (!parsed.ok) throw new Error(`${uri} ${parsed.message}`);
  const source = parsed.value;
  const module = MODULES[source.kind];
  switch (source.kind) {
    case 'http':
      return { module, target: source.url.href };
    case 'tcp':
      return { module, target: `${source.host}:${source.port}` };
    case 'dns':
      if (source.name !== BLACKBOX_DNS_NAME || source.type !== 'A') {
        throw new Error(`the dns module asks for ${BLACKBOX_DNS_NAME} A, not what ${uri} asks`);
      }
      return { module, target: `${source.resolver}:${source.port}` };
    case 'icmp':
      return { module, target: source.host };
  }
}

/** Each probe as wmn makes it: a fresh connection, IPv4 like the lab, the lab CA trusted, 5 s timeout. */
function config(caFile: string): string {
  const ip4 = 'preferred_ip_protocol: ip4\n      ip_protocol_fallback: false';
  return `modules:
  ${MODULES.http}:
    prober: http
    timeout: 5s
    http:
      ${ip4}
      tls_config:
        ca_file: ${JSON.stringify(caFile)}
  ${MODULES.tcp}:
    prober: tcp
    timeout: 5s
    tcp:
      ${ip4}
  ${MODULES.dns}:
    prober: dns
    timeout: 5s
    dns:
      ${ip4}
      transport_protocol: udp
      query_name: ${BLACKBOX_DNS_NAME}
      query_type: A
  ${MODULES.icmp}:
    prober: icmp
    timeout: 5s
    icmp:
      ${ip4}
`;
}

export async function startBlackbox(caFile: string): Promise<BlackboxExporter> {
  const dir = mkdtempSync(join(tmpdir(), 'wmn-bench-blackbox-'));
  const file = join(dir, 'blackbox.yml');
  writeFileSync(file, config(caFile));
  const port = await freePort();
  const child = start(BLACKBOX_BIN, [
    `--config.file=${file}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ]);
  const cleanUp = async () => {
    await stop(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitHealthy(port, child);
    const pid = pidOf(child);
    return {
      port,
      cpuMs: () => cpuTimes(pid).selfMs,
      rssMb: () => memory(pid).rssMb,
      stop: cleanUp,
    };
  } catch (err) {
    await cleanUp();
    throw err;
  }
}

async function waitHealthy(port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 100 && child.exitCode === null; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/-/healthy`).then(
      (res) => res.ok,
      () => false,
    );
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`${BLACKBOX_BIN} did not become healthy on 127.0.0.1:${port}`);
}

/** A port nothing listens on right now (the exporter takes it a moment later). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
