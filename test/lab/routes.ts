/**
 * The lab's HTTP application, served over both HTTP and HTTPS:
 *
 * - `/ok`: 200 with a small favicon-sized body
 * - `/status/NNN`: that status (200–599)
 * - `/ttfb/MS`: waits MS ms before sending any byte of the response
 * - `/redirect/N[?to=/PATH]`: N hops of 302, then `/ok` (or PATH); `/redirect-loop`: 302 to itself
 * - `/big/BYTES`: a body of that many bytes
 *
 * Every response says `Connection: close`, so each probe (and each hop of a redirect chain) is a fresh
 * connection for every engine: curl would otherwise reuse a kept-alive connection for same-host hops
 * and skip their DNS/TCP/TLS phases, while the in-process engine never reuses one.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** A favicon-sized body (a few KB, like the icons the original probed), so transfers are realistic. */
const FAVICON = Buffer.alloc(5430, 0x5a);
const BIG_CHUNK = Buffer.alloc(64 * 1024, 0x5a);
const MAX_BIG = 1 << 30;

type Route = (res: ServerResponse, n: number, url: URL) => void;

/** Routes by first path segment; `n` is the second segment as a number (NaN when it is not one). */
const ROUTES: Readonly<Record<string, Route>> = {
  ok: (res) => send(res, 200, FAVICON),
  status: (res, n) => (n >= 200 && n <= 599 ? send(res, n, Buffer.from(`status ${n}\n`)) : badRequest(res)),
  ttfb: (res, n) => (Number.isNaN(n) ? badRequest(res) : later(res, n, () => send(res, 200, FAVICON))),
  redirect: (res, n, url) =>
    Number.isNaN(n) ? badRequest(res) : redirect(res, nextHop(n, url.searchParams.get('to'))),
  'redirect-loop': (res) => redirect(res, '/redirect-loop'),
  big: (res, n) => (n <= MAX_BIG ? sendBig(res, n) : badRequest(res)),
};

const notFound: Route = (res) => send(res, 404, Buffer.from('not found\n'));

/** Handles one lab request (the `request` listener of the lab's HTTP and HTTPS servers). */
export function labRoutes(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('Connection', 'close');
  const url = new URL(req.url ?? '/', 'http://lab');
  const [, name = '', arg = ''] = url.pathname.split('/');
  const route = (Object.hasOwn(ROUTES, name) ? ROUTES[name] : undefined) ?? notFound;
  route(res, /^\d+$/.test(arg) ? Number(arg) : Number.NaN, url);
}

function send(res: ServerResponse, status: number, body: Buffer): void {
  res.writeHead(status, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length });
  res.end(body);
}

/** The Location of hop `n` of a redirect chain; the last hop goes to `to` (a path on this server). */
function nextHop(n: number, to: string | null): string {
  const end = to?.startsWith('/') ? to : '/ok';
  return n > 1 ? `/redirect/${n - 1}${to === null ? '' : `?to=${encodeURIComponent(end)}`}` : end;
}

function badRequest(res: ServerResponse): void {
  send(res, 400, Buffer.from('bad argument\n'));
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(302, { Location: location, 'Content-Length': 0 });
  res.end();
}

/** Runs `fn` after `ms`, unless the client went away first (no timer outlives its connection). */
function later(res: ServerResponse, ms: number, fn: () => void): void {
  const timer = setTimeout(fn, ms);
  res.once('close', () => clearTimeout(timer));
}

/** Streams `size` bytes, honouring back-pressure so a slow reader never makes the lab buffer it all. */
function sendBig(res: ServerResponse, size: number): void {
  res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': size });
  let left = size;
  const pump = () => {
    while (left > 0) {
      const chunk = left >= BIG_CHUNK.length ? BIG_CHUNK : BIG_CHUNK.subarray(0, left);
      left -= chunk.length;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
}
