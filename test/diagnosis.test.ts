/**
 * The diagnosis rules on hand-made cycles (pure functions; the network topology test produces each
 * diagnosis from real faults, test/localisation.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeDiagnosis, listOf, sourceLabel } from '../src/diagnosis/describe.js';
import { diagnose, ipv6Broken, isDown, type LayeredResult } from '../src/diagnosis/diagnose.js';
import type { Layer } from '../src/diagnosis/layers.js';

const GATEWAY = 'icmp://gateway';
const ANCHOR_1 = 'icmp://1.1.1.1';
const ANCHOR_2 = 'icmp://9.9.9.9';
const SITE = 'https://example.com/';
const RESOLVER = 'dns://9.9.9.9/example.com?type=A';

function up(source: string, layer: Layer): LayeredResult {
  return { source, layer, disconnected: false, error: null };
}
function down(source: string, layer: Layer, error = 'timeout'): LayeredResult {
  return { source, layer, disconnected: true, error };
}

describe('diagnosis', () => {
  it('ok when every internet source answered, even with the gateway silent to pings', () => {
    const d = diagnose([down(GATEWAY, 'lan'), up(ANCHOR_1, 'internet'), up(SITE, 'service')]);
    assert.deepEqual(d, { kind: 'ok', answered: [], failed: [] });
  });

  it('lan when the gateway failed too', () => {
    const cycle = [
      down(GATEWAY, 'lan', 'unreachable'),
      down(ANCHOR_1, 'internet'),
      down(SITE, 'service', 'dns'),
    ];
    assert.ok(isDown(cycle));
    const d = diagnose(cycle);
    assert.deepEqual(d, { kind: 'lan', answered: [], failed: [GATEWAY] });
    assert.equal(describeDiagnosis(d), 'LAN (gateway did not answer)');
  });

  it('isp when the gateway answered and nothing beyond it did', () => {
    const d = diagnose([up(GATEWAY, 'lan'), down(ANCHOR_1, 'internet'), down(ANCHOR_2, 'internet')]);
    assert.equal(d.kind, 'isp');
    assert.equal(describeDiagnosis(d), 'ISP (gateway answered, 1.1.1.1 and 9.9.9.9 did not)');
  });

  it('down, not a guess, when no gateway source can tell the LAN from the ISP', () => {
    assert.equal(diagnose([down(ANCHOR_1, 'internet'), down(SITE, 'service')]).kind, 'down');
  });

  it('dns when addresses answer and names fail', () => {
    const d = diagnose([
      up(GATEWAY, 'lan'),
      up(ANCHOR_1, 'internet'),
      down(SITE, 'service', 'dns'),
      down(RESOLVER, 'dns', 'servfail'),
    ]);
    assert.equal(d.kind, 'dns');
    assert.equal(describeDiagnosis(d), 'DNS (1.1.1.1 answered, 9.9.9.9 DNS and example.com did not resolve)');
  });

  it('dns while DOWN when every failure is a name failure and the gateway answered', () => {
    const d = diagnose([up(GATEWAY, 'lan'), down(SITE, 'service', 'dns'), down(RESOLVER, 'dns', 'timeout')]);
    assert.equal(d.kind, 'dns');
  });

  it('partial when some services fail and the connection works', () => {
    const d = diagnose([
      up(ANCHOR_1, 'internet'),
      up(SITE, 'service'),
      down('https://b.example/', 'service'),
    ]);
    assert.deepEqual(d, { kind: 'partial', answered: [], failed: ['https://b.example/'] });
  });

  it('ipv6 when only the IPv6-pinned sources fail', () => {
    const cycle = [
      up(`${SITE}#ipv4`, 'service'),
      down(`${SITE}#ipv6`, 'service', 'unreachable'),
      up(`${ANCHOR_1}`, 'internet'),
    ];
    assert.ok(ipv6Broken(cycle));
    const d = diagnose(cycle);
    assert.equal(d.kind, 'ipv6');
    assert.equal(describeDiagnosis(d), 'IPv6 (example.com (IPv4) answered, example.com (IPv6) did not)');
  });

  it('DOWN counts only the internet layers, and every source when there are none', () => {
    assert.equal(isDown([up(GATEWAY, 'lan'), down(ANCHOR_1, 'internet')]), true);
    assert.equal(isDown([up(GATEWAY, 'lan'), up(ANCHOR_1, 'internet')]), false);
    assert.equal(isDown([down(GATEWAY, 'lan')]), true);
    assert.equal(isDown([up('dns://10.0.0.1/x.example?type=A', 'isp')]), false);
    assert.equal(isDown([]), false);
    // Rows of older versions carry no layer: they count, as before.
    assert.equal(isDown([{ source: SITE, disconnected: true, error: 'timeout' }]), true);
  });

  it("leaves wmn's own failures out of the evidence", () => {
    const d = diagnose([down(GATEWAY, 'lan', 'internal'), down(ANCHOR_1, 'internet'), down(SITE, 'service')]);
    assert.equal(d.kind, 'down', 'fping missing says nothing about the gateway');
    const ok = diagnose([up(SITE, 'service'), down(ANCHOR_1, 'internet', 'internal')]);
    assert.equal(ok.kind, 'ok');
  });

  it('names sources as people do', () => {
    assert.equal(sourceLabel('https://example.com:8443/x#ipv6'), 'example.com (IPv6)');
    assert.equal(sourceLabel('tcp://[2001:db8::1]:443'), '[2001:db8::1]:443');
    assert.equal(sourceLabel('dns://9.9.9.9/example.com?type=A&nocache'), '9.9.9.9 DNS');
    assert.equal(listOf(['a', 'b', 'c', 'd', 'e']), 'a, b, c and 2 more');
    assert.equal(listOf(['a', 'a']), 'a');
  });
});
