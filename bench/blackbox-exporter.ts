/**
 * Prometheus blackbox_exporter (Debian's package), started by the benchmark on loopback with one http
 * module that trusts the lab's CA, and stopped (its config removed) afterwards.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pidOf, start, stop } from './children.js';
import { BLACKBOX_BIN } from './machine.js';
import { cpuTimes, memory } from './proc.js';

export const BLACKBOX_MODULE = 'http_lab';

export interface BlackboxExporter {
  readonly port: number;
  readonly module: string;
  cpuMs(): number;
  rssMb(): number;
  stop(): Promise<void>;
}

/** A fresh connection per probe, IPv4 like the lab, the lab CA trusted: the same probe wmn makes. */
function config(caFile: string): string {
  return `modules:
  ${BLACKBOX_MODULE}:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
      tls_config:
        ca_file: ${JSON.stringify(caFile)}
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
      module: BLACKBOX_MODULE,
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
