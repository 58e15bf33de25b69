/**
 * The agent's one HTTP listener: the dashboard, its API and live events, /metrics, /healthz and /readyz.
 * Routes come from their modules (src/web/dashboard.ts, src/exporter/); this file only listens, routes
 * and checks the token. With a token (always, for an address other machines can reach) every route but
 * /healthz needs it: `Authorization: Bearer <token>`, basic auth with the token as password (what
 * Prometheus' `basic_auth` and `authorization` send), or a browser's cookie, set by opening /?token=….
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WebConfig } from '../config/types.js';
import { errorText, type Logger } from '../log.js';

export type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

export interface Route {
  /** Exact path, or a prefix ending in '/' (e.g. '/assets/'). */
  readonly path: string;
  readonly handler: Handler;
  /** Served without the token (only /healthz: it tells nothing but that the process answers). */
  readonly open?: boolean;
}

export interface WebServer {
  /** Base URL, e.g. http://127.0.0.1:9797 (with the port chosen when the config said 0). */
  readonly url: string;
  close(): Promise<void>;
}

const COOKIE = 'wmn_token';

export async function startWebServer(opts: {
  readonly web: WebConfig;
  readonly routes: readonly Route[];
  readonly log: Logger;
}): Promise<WebServer> {
  const { web, routes, log } = opts;
  const server = createServer((req, res) => {
    void serve(req, res).catch((err: unknown) => {
      log.error('web request failed', { path: req.url, err: errorText(err) });
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error\n');
    });
  });
  const serve = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://wmn');
    const route = findRoute(routes, url.pathname);
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return plain(res, 405, 'only GET\n', { allow: 'GET, HEAD' });
    if (!route) return plain(res, 404, 'not found\n');
    if (web.token !== null && !route.open) {
      const offered = url.searchParams.get('token');
      if (offered !== null && same(offered, web.token)) {
        // The token leaves the address bar (and history) for a cookie only this origin's requests carry.
        url.searchParams.delete('token');
        res.writeHead(303, {
          location: `${url.pathname}${url.search}`,
          'set-cookie': `${COOKIE}=${encodeURIComponent(web.token)}; HttpOnly; SameSite=Strict; Path=/`,
        });
        return res.end();
      }
      if (!authorised(req, web.token)) {
        return plain(res, 401, 'token required: open /?token=… or send Authorization: Bearer …\n', {
          'www-authenticate': 'Basic realm="wmn"',
        });
      }
    }
    await route.handler(req, res, url);
  };
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(web.port, web.host === '' ? undefined : web.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  const url = `http://${host === '[::]' ? '[::1]' : host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  log.info('web dashboard and /metrics listening', { url, token: web.token === null ? 'none' : 'required' });
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Live-event streams never end by themselves.
        server.closeAllConnections();
      }),
  };
}

function findRoute(routes: readonly Route[], path: string): Route | undefined {
  return routes.find((r) =>
    r.path.endsWith('/') && r.path !== '/' ? path.startsWith(r.path) : path === r.path,
  );
}

function authorised(req: IncomingMessage, token: string): boolean {
  const header = req.headers.authorization ?? '';
  const [scheme, value = ''] = header.split(' ', 2);
  if (scheme?.toLowerCase() === 'bearer' && same(value, token)) return true;
  if (scheme?.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    if (same(decoded.slice(decoded.indexOf(':') + 1), token)) return true;
  }
  const cookie = (req.headers.cookie ?? '')
    .split(';')
    .map((c) => c.trim())
    .find((c) => c.startsWith(`${COOKIE}=`));
  return cookie !== undefined && same(decodeURIComponent(cookie.slice(COOKIE.length + 1)), token);
}

/** Compares in constant time, so response times do not reveal how much of a guess was right. */
function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A short text response. */
export function plain(
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
  res.end(body);
}
