/**
 * The lab's TLS material: a throw-away test CA and a server certificate it signs, plus two certificates a
 * client must reject (an expired one from the same CA, a self-signed one), generated at test time with
 * the system `openssl` CLI (no keys are committed). Generated once per process, in a temp dir that is
 * removed when the process exits.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Names and addresses the server certificate is valid for. */
export const LAB_SAN = 'DNS:localhost,DNS:lab.test,DNS:*.lab.test,IP:127.0.0.1,IP:::1';

/** A certificate and its key, PEM. */
export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

/** When the expired certificate was valid: a month, long past. */
const EXPIRED_FROM = '20200101000000Z';
const EXPIRED_UNTIL = '20200201000000Z';

export interface LabCerts {
  /** PEM file of the test CA: what a client passes as `caFile` / `--cacert`. */
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  /** Signed by the lab CA for the same names, but valid only in January 2020. */
  readonly expired: KeyPair;
  /** Valid now and for the same names, but signed by its own key: no CA vouches for it. */
  readonly selfSigned: KeyPair;
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
  await signExpired(dir);
  // biome-ignore format: as above
  await run('openssl', [
    'req', '-x509', ...ecKey, '-keyout', file('self.key'), '-out', file('self.pem'), '-days', '30',
    '-subj', '/CN=localhost', '-addext', `subjectAltName=${LAB_SAN}`,
  ]);
  const read = (name: string) => readFileSync(file(name), 'utf8');
  return {
    caFile: file('ca.pem'),
    certFile: file('server.pem'),
    keyFile: file('server.key'),
    ca: read('ca.pem'),
    cert: read('server.pem'),
    key: read('server.key'),
    expired: { cert: read('expired.pem'), key: read('server.key') },
    selfSigned: { cert: read('self.pem'), key: read('self.key') },
  };
}

/**
 * Signs the server's request again with validity dates in the past. OpenSSL 3.0's `x509` and `req` take
 * only a positive `-days` (`-not_before`/`-not_after` came in 3.4); `openssl ca` has taken explicit
 * `-startdate`/`-enddate` for ever, at the price of the minimal CA database it insists on.
 */
async function signExpired(dir: string): Promise<void> {
  const file = (name: string) => join(dir, name);
  writeFileSync(file('index.txt'), '');
  writeFileSync(file('serial'), '02\n');
  writeFileSync(
    file('ca.cnf'),
    [
      '[ca]',
      'default_ca = lab',
      '[lab]',
      `database = ${file('index.txt')}`,
      `serial = ${file('serial')}`,
      `new_certs_dir = ${dir}`,
      'default_md = sha256',
      'policy = any',
      'unique_subject = no',
      '[any]',
      'commonName = supplied',
      '',
    ].join('\n'),
  );
  // biome-ignore format: as above
  await run('openssl', [
    'ca', '-batch', '-notext', '-config', file('ca.cnf'), '-cert', file('ca.pem'), '-keyfile', file('ca.key'),
    '-in', file('server.csr'), '-extfile', file('server.ext'), '-out', file('expired.pem'),
    '-startdate', EXPIRED_FROM, '-enddate', EXPIRED_UNTIL,
  ]);
}
