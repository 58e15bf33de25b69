/**
 * Echo loss and jitter of `icmp://` sources, from each probe's echo round trips (`samplesMs`, null for
 * an echo that got no reply). Loss is two counters rather than a ratio gauge: a scrape sees only the
 * latest cycle (one in fifteen at a 15 s scrape of 1 s cycles), while counters hold every echo, so
 * `1 - increase(replies) / increase(requests)` is the loss over any window, summed correctly across
 * sources and agents.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * Mean absolute difference between the round trips of consecutive replies, in ms (RFC 3550's
 * interarrival jitter without its smoothing, which needs more echoes than a cycle sends); null with
 * fewer than two replies. Lost echoes are skipped, so a loss does not read as jitter.
 */
export function jitterMs(samples: readonly (number | null)[]): number | null {
  const replies = samples.filter((s): s is number => s !== null);
  if (replies.length < 2) return null;
  let sum = 0;
  for (let i = 1; i < replies.length; i++)
    sum += Math.abs((replies[i] as number) - (replies[i - 1] as number));
  return sum / (replies.length - 1);
}

export interface IcmpMetrics {
  /** Starts a new icmp source's counters at 0, so increase() sees its first echoes. */
  start(source: string): void;
  /** Counts every echo of one probe (a probe that never ran fping has no samples and counts none). */
  count(source: string, samples: readonly (number | null)[] | undefined): void;
  /** Shows the jitter of the source's latest probe (absent with fewer than two replies). */
  show(source: string, samples: readonly (number | null)[] | undefined): void;
  forget(source: string): void;
}

export function icmpMetrics(registry: Registry): IcmpMetrics {
  const registers = [registry];
  const requests = new Counter({
    name: 'wmn_probe_icmp_requests_total',
    help: 'Echo requests sent by the icmp:// probes of the source.',
    labelNames: ['source'],
    registers,
  });
  const replies = new Counter({
    name: 'wmn_probe_icmp_replies_total',
    help: 'Echo replies received by the icmp:// probes of the source; the loss is 1 - replies / requests.',
    labelNames: ['source'],
    registers,
  });
  const jitter = new Gauge({
    name: 'wmn_probe_icmp_jitter_seconds',
    help: 'Mean difference between the round trips of consecutive replies of the latest icmp:// probe; absent with fewer than two replies.',
    labelNames: ['source'],
    registers,
  });
  return {
    start(source) {
      requests.inc({ source }, 0);
      replies.inc({ source }, 0);
    },
    count(source, samples) {
      if (samples === undefined) return;
      requests.inc({ source }, samples.length);
      replies.inc({ source }, samples.filter((s) => s !== null).length);
    },
    show(source, samples) {
      const ms = samples === undefined ? null : jitterMs(samples);
      if (ms === null) jitter.remove({ source });
      else jitter.set({ source }, ms / 1000);
    },
    forget(source) {
      for (const metric of [requests, replies, jitter]) metric.remove({ source });
    },
  };
}
