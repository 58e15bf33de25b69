/**
 * Where on the path out a source sits. Fault localisation compares the layers: the gateway answers but
 * nothing beyond it does → the ISP; addresses answer but names fail → DNS.
 *
 * - lan: the home network (the default gateway: `icmp://gateway`)
 * - isp: the provider's edge (its resolver, the first hop): set by hand, wmn cannot tell it apart
 * - dns: name-resolution checks (`dns://` sources)
 * - internet: anchors reached by IP address, no name involved
 * - service: named sites (the seed's favicons)
 *
 * Only the last three are the internet a user means: a cycle is DOWN when every source of those layers
 * failed. The gateway or the ISP's edge answering does not make the connection work.
 */
import { hostOf, literalFamily } from '../config/sources.js';
import type { Source } from '../probes/types.js';

export const LAYERS = ['lan', 'isp', 'dns', 'internet', 'service'] as const;
export type Layer = (typeof LAYERS)[number];

/** The layers whose sources decide UP and DOWN (the others are evidence of where it broke). */
export const REACH_LAYERS: ReadonlySet<Layer> = new Set(['dns', 'internet', 'service']);

/** The layer a source has unless its configuration says otherwise. */
export function defaultLayer(source: Source): Layer {
  if (source.kind === 'icmp' && source.host === 'gateway') return 'lan';
  if (source.kind === 'dns') return 'dns';
  return literalFamily(hostOf(source)) === null ? 'service' : 'internet';
}
