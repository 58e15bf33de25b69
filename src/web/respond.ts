/** What every dashboard response carries, and the JSON responses of its API. */
import type { ServerResponse } from 'node:http';

/**
 * Sent with the page, its assets and its API. Scripts and styles come only from this origin (no inline
 * code, no CDN), the page cannot be framed, and nothing about it leaks to other sites.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** A JSON answer of the API: never cached (every figure is as of the request). */
export function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  });
  res.end(JSON.stringify(body));
}

/** A client's mistake, answered 400 with the reason. */
export function badRequest(res: ServerResponse, message: string): void {
  json(res, 400, { error: message });
}
