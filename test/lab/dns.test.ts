/**
 * The lab DNS server on its own, queried with Node's resolver (c-ares, not the system's), so its zone
 * and its injected delay are checked without root or a network namespace.
 */
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { after, before, test } from 'node:test';
import { type LabDns, startLabDns } from './dns.js';

let server: LabDns;
let resolver: Resolver;

before(async () => {
  server = await startLabDns();
  resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([`127.0.0.1:${server.port}`]);
});
after(() => server.close());

test('names under lab.test resolve to loopback', async () => {
  assert.deepEqual(await resolver.resolve4('lab.test'), ['127.0.0.1']);
  assert.deepEqual(await resolver.resolve4('anything.lab.test'), ['127.0.0.1']);
});

test('AAAA is empty unless the name asks for v6', async () => {
  await assert.rejects(resolver.resolve6('anything.lab.test'), { code: 'ENODATA' });
  assert.deepEqual(await resolver.resolve6('v6.lab.test'), ['::1']);
});

test('other names do not exist', async () => {
  await assert.rejects(resolver.resolve4('example.com'), { code: 'ENOTFOUND' });
});

test('a dMS label delays the answer by MS', async () => {
  const started = performance.now();
  await resolver.resolve4('d80.lab.test');
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 79 && elapsed < 200, `answered after ${elapsed.toFixed(1)} ms`);
});
