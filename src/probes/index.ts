/** The prober registry: the only place that maps a kind of source (and an HTTP engine) to its prober. */
import type { SourceConfig } from '../config/types.js';
import { probeCurl } from './curl.js';
import { probeDns } from './dns.js';
import { probeHttp } from './http.js';
import { probeIcmp } from './icmp.js';
import { probeTcp } from './tcp.js';
import type { DnsSource, Engine, IcmpSource, ProbeContext, ProbeResult, Prober, TcpSource } from './types.js';

export const ENGINES = { curl: probeCurl, http: probeHttp } as const satisfies Record<Engine, Prober>;

/** A prober for each kind of source; HTTP has two engines, chosen per source. */
export interface ProberRegistry {
  readonly http: Readonly<Record<Engine, Prober>>;
  readonly icmp: Prober<IcmpSource>;
  readonly tcp: Prober<TcpSource>;
  readonly dns: Prober<DnsSource>;
}

export const PROBERS: ProberRegistry = { http: ENGINES, icmp: probeIcmp, tcp: probeTcp, dns: probeDns };

/** Probes one configured source with the prober its kind (and engine) names. */
export function probeSource(
  s: SourceConfig,
  probers: ProberRegistry,
  ctx: ProbeContext,
): Promise<ProbeResult> {
  switch (s.kind) {
    case 'http':
      return probers.http[s.engine](s.source, s.options, ctx);
    case 'icmp':
      return probers.icmp(s.source, s.options, ctx);
    case 'tcp':
      return probers.tcp(s.source, s.options, ctx);
    case 'dns':
      return probers.dns(s.source, s.options, ctx);
  }
}
