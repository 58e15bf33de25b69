/**
 * `/api/events`: server-sent events pushing every finished cycle of this agent to the page as it
 * happens, straight from memory (the live hub), so the page turns DOWN within a cycle without asking
 * the database. A comment line every 15 s keeps proxies and phones from closing an idle stream; a client
 * that goes away, or reads too slowly, is dropped with its listener.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { waitMs } from '../analysis/index.js';
import { cycleDiagnosis } from '../diagnosis/cycle.js';
import { describeDiagnosis } from '../diagnosis/describe.js';
import { type DiagnosisKind, isDown } from '../diagnosis/diagnose.js';
import type { Layer } from '../diagnosis/layers.js';
import type { CycleRecord } from '../store/types.js';
import { SECURITY_HEADERS } from './respond.js';
import type { RouteDeps } from './routes.js';
import { plain } from './server.js';

/** One cycle as the page receives it. Durations in ms (3 decimals), null where a phase did not happen. */
export interface CycleEvent {
  readonly agent: string;
  readonly probe_id: number;
  readonly ts: string;
  /** DOWN when every source of the internet layers failed, as the SQL definition reads a stored cycle. */
  readonly state: 'UP' | 'DOWN';
  /** Where it broke (src/diagnosis): the kind and the sentence saying it. */
  readonly diagnosis: { readonly kind: DiagnosisKind; readonly text: string };
  readonly sources: readonly {
    readonly source: string;
    readonly disconnected: boolean;
    readonly error: string | null;
    readonly status: number | null;
    /** Where the source sits on the path out; null in cycles spooled before layers existed. */
    readonly layer: Layer | null;
    /** https: the earliest expiry (unix seconds) of the certificates presented; null when none was. */
    readonly cert_expires_at: number | null;
    readonly phases: {
      readonly dns: number | null;
      readonly connect: number | null;
      readonly tls: number | null;
      readonly wait: number | null;
      readonly ttfb: number | null;
      readonly total: number;
    };
  }[];
}

export const HEARTBEAT_MS = 15_000;
/** Clients streaming at once; more are refused (503) rather than letting listeners pile up. */
export const MAX_CLIENTS = 64;
/** Bytes a client may leave unread before it is dropped (a stalled phone must not hold memory). */
const MAX_BUFFERED = 256 * 1024;

function diagnosisOf(cycle: CycleRecord): CycleEvent['diagnosis'] {
  const d = cycleDiagnosis(cycle);
  return { kind: d.kind, text: describeDiagnosis(d) };
}

export function cycleEvent(cycle: CycleRecord): CycleEvent {
  const ms = (v: number | null) => (v === null ? null : Math.round(v * 1000) / 1000);
  return {
    agent: cycle.agent,
    probe_id: cycle.probeId,
    ts: cycle.ts.toISOString(),
    state: isDown(cycle.results) ? 'DOWN' : 'UP',
    diagnosis: diagnosisOf(cycle),
    sources: cycle.results.map((r) => ({
      source: r.source,
      disconnected: r.disconnected,
      error: r.error,
      status: r.status,
      layer: r.layer ?? null,
      cert_expires_at: r.certExpiresAt ?? null,
      phases: {
        dns: ms(r.dnsMs),
        connect: ms(r.connectMs),
        tls: ms(r.tlsMs),
        wait: ms(waitMs(r)),
        ttfb: ms(r.ttfbMs),
        total: ms(r.totalMs) as number,
      },
    })),
  };
}

/** The `/api/events` handler; `heartbeatMs` is shortened by tests. */
export function eventsHandler(deps: RouteDeps, heartbeatMs = HEARTBEAT_MS) {
  let clients = 0;
  return (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    if ([...url.searchParams.keys()].some((k) => k !== 'token')) {
      plain(res, 400, 'this endpoint takes no parameters\n', SECURITY_HEADERS);
      return;
    }
    if (clients >= MAX_CLIENTS) {
      plain(res, 503, `too many live clients (${MAX_CLIENTS}); try again later\n`, {
        ...SECURITY_HEADERS,
        'retry-after': '30',
      });
      return;
    }
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    clients++;
    const send = (chunk: string) => {
      if (res.writableLength > MAX_BUFFERED) res.destroy();
      else res.write(chunk);
    };
    const config = deps.config();
    send(
      `retry: 2000\n\nevent: hello\ndata: ${JSON.stringify({ agent: config.agent, interval_s: config.intervalMs / 1000 })}\n\n`,
    );
    const last = deps.live.lastCycle();
    if (last) send(`event: cycle\ndata: ${JSON.stringify(cycleEvent(last))}\n\n`);
    const unsubscribe = deps.live.on('cycle', (cycle) =>
      send(`event: cycle\ndata: ${JSON.stringify(cycleEvent(cycle))}\n\n`),
    );
    const heartbeat = setInterval(() => send(': heartbeat\n\n'), heartbeatMs);
    heartbeat.unref();
    res.once('close', () => {
      clients--;
      unsubscribe();
      clearInterval(heartbeat);
    });
  };
}
