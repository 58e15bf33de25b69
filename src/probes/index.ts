/** The engine registry: the only place that maps an engine name to its prober. */
import { probeCurl } from './curl.js';
import { probeHttp } from './http.js';
import type { Engine, Prober } from './types.js';

export const ENGINES = { curl: probeCurl, http: probeHttp } as const satisfies Record<Engine, Prober>;
