/**
 * The lab's TLS material: a throw-away test CA and a server certificate it signs, generated at test time
 * with the system `openssl` CLI (no keys are committed). Generated once per process, in a temp dir that
 * is removed when the process exits.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Names and addresses the server certificate is valid for. */
export const LAB_SAN = 'DNS:localhost,DNS:lab.test,DNS:*.lab.test,IP:127.0.0.1,IP:::1';

export interface LabCerts {
  /** PEM file of the test CA: what a client passes as `caFile` / `--cacert`. */
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

let cached: Promise<LabCerts> | undefined;

/** The process's lab certificates, generated on first use. Rejects when `openssl` is missing. */
export function labCerts(): Promise<LabCerts> {
  cached ??= generate();
  return cached;
}

async function generate(): Promise<LabCerts> {
  const dir = mkdtempSync(join(tmpdir(), 'wmn-lab-certs-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string) => join(dir, name);
  // P-256 keys: generated in milliseconds, unlike RSA, and accepted by Node and curl alike.
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  // biome-ignore format: openssl options read best as flag/value pairs
  await run('openssl', [
    'req', '-x509', ...ecKey, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '30',
    '-subj', '/CN=wmn lab test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  // biome-ignore format: as above
  await run('openssl', [
    'req', ...ecKey, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=localhost',
  ]);
  writeFileSync(
    file('server.ext'),
    `subjectAltName=${LAB_SAN}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n`,
  );
  // biome-ignore format: as above
  await run('openssl', [
    'x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'),
    '-set_serial', '1', '-days', '30', '-extfile', file('server.ext'), '-out', file('server.pem'),
  ]);
  const read = (name: string) => readFileSync(file(name), 'utf8');
  return {
    caFile: file('ca.pem'),
    certFile: file('server.pem'),
    keyFile: file('server.key'),
    ca: read('ca.pem'),
    cert: read('server.pem'),
    key: read('server.key'),
  };
}
