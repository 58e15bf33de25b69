/**
 * The lab DNS server on its own, queried with Node's resolver (c-ares, not the system's), so its zone
 * and its injected delay are checked without root or a network namespace; its fault labels through the
 * pure `answer()`, and its TCP listener with a framed query.
 */
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  type DecodedPacket,
  decode,
  encode,
  type Packet,
  RECURSION_DESIRED,
  streamEncode,
  TRUNCATED_RESPONSE,
} from 'dns-packet';
import { answer, type LabDns, startLabDns } from './dns.js';

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

/** A query for `name`, as a client sends it (RD set). */
function query(name: string, type: 'A' | 'AAAA' = 'A'): DecodedPacket {
  return decode(encode({ type: 'query', id: 4242, flags: RECURSION_DESIRED, questions: [{ type, name }] }));
}

function rcode(packet: Packet): number {
  return (packet.flags ?? 0) & 0xf;
}

describe('fault labels (the pure zone rules)', () => {
  test('rcode labels answer with that rcode and no records', () => {
    for (const [label, code] of [
      ['nxdomain', 3],
      ['servfail', 2],
      ['notimp', 4],
      ['refused', 5],
    ] as const) {
      const { response } = answer(query(`${label}.lab.test`));
      assert.equal(rcode(response), code, label);
      assert.equal(response.answers, undefined, label);
    }
  });

  test('drop is never answered', () => {
    assert.equal(answer(query('drop.lab.test')).drop, true);
    assert.equal(answer(query('lab.test')).drop, undefined);
  });

  test('tc truncates over UDP and answers in full over TCP', () => {
    const udp = answer(query('tc.lab.test'), 'udp').response;
    assert.ok((udp.flags ?? 0) & TRUNCATED_RESPONSE);
    assert.equal(udp.answers, undefined);
    const tcp = answer(query('tc.lab.test'), 'tcp').response;
    assert.equal((tcp.flags ?? 0) & TRUNCATED_RESPONSE, 0);
    assert.equal(tcp.answers?.length, 1);
  });

  test('badid and badq send a SERVFAIL decoy that is not the reply, then the answer', () => {
    const [wrongId] = answer(query('badid.lab.test')).decoys ?? [];
    assert.equal(wrongId?.id, 4243);
    assert.equal(rcode(wrongId ?? {}), 2);
    const [wrongQuestion] = answer(query('badq.lab.test')).decoys ?? [];
    assert.equal(wrongQuestion?.id, 4242);
    assert.equal(wrongQuestion?.questions?.[0]?.name, 'other.lab.test');
    assert.equal(answer(query('badid.lab.test')).response.answers?.length, 1);
  });

  test('cut answers short over UDP only', () => {
    assert.equal(answer(query('cut.lab.test'), 'udp').cutBytes, 3);
    assert.equal(answer(query('cut.tc.lab.test'), 'udp').cutBytes, 3);
    assert.equal(answer(query('cut.tc.lab.test'), 'tcp').cutBytes, undefined);
  });

  test('cname answers with the chain to target.lab.test', () => {
    assert.deepEqual(answer(query('cname.lab.test')).response.answers, [
      { type: 'CNAME', name: 'cname.lab.test', ttl: 1, data: 'target.lab.test' },
      { type: 'A', name: 'target.lab.test', ttl: 1, data: '127.0.0.1' },
    ]);
  });
});

test('TCP on the same port answers, framed by a 2-byte length', async () => {
  const socket = connect(server.port, '127.0.0.1');
  try {
    socket.write(streamEncode(query('tc.lab.test')));
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    const reply = decode(chunk.subarray(2, 2 + chunk.readUInt16BE(0)));
    assert.equal(reply.id, 4242);
    assert.deepEqual(
      reply.answers?.map((a) => ({ type: a.type, name: a.name })),
      [{ type: 'A', name: 'tc.lab.test' }],
    );
  } finally {
    socket.destroy();
  }
});

test('the names asked for are remembered', async () => {
  await resolver.resolve4('Seen.lab.test');
  assert.ok(server.seen.includes('seen.lab.test'), server.seen.join(' '));
});
