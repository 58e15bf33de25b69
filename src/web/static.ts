/**
 * The page and its assets, from memory: the files of src/web/assets (dist/web/assets once built) and
 * uPlot from its package, read once, each with a content hash. The page names every asset with its hash
 * (`/assets/app.js?v=…`), so an asset asked for by that name may be cached for a year; asked for
 * otherwise it is revalidated by ETag. Nothing comes from another host: the page works offline.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SECURITY_HEADERS } from './respond.js';
import { plain } from './server.js';

export interface Asset {
  readonly body: Buffer;
  readonly type: string;
  /** First 16 hex digits of the body's SHA-256. */
  readonly hash: string;
}

export interface Assets {
  /** The page, with every asset reference carrying its hash. */
  readonly page: Asset;
  /** By file name (no directories). */
  readonly files: ReadonlyMap<string, Asset>;
}

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.webmanifest': 'application/manifest+json',
};

/** Where the assets are: beside this module (src/web/assets under tsx, dist/web/assets once built). */
export const ASSETS_DIR = fileURLToPath(new URL('./assets/', import.meta.url));

/** Reads the assets directory and uPlot once. */
export async function loadAssets(dir: string = ASSETS_DIR): Promise<Assets> {
  const files = new Map<string, Asset>();
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const type = TYPES[extname(entry.name)];
    if (!entry.isFile() || type === undefined || !/^[\w-][\w.-]*$/.test(entry.name)) continue;
    files.set(entry.name, asset(await readFile(join(dir, entry.name)), type));
  }
  const require = createRequire(import.meta.url);
  files.set('uplot.js', asset(await readFile(require.resolve('uplot/dist/uPlot.iife.min.js')), TYPES['.js']));
  files.set('uplot.css', asset(await readFile(require.resolve('uplot/dist/uPlot.min.css')), TYPES['.css']));
  const html = files.get('index.html');
  if (html === undefined) throw new Error(`${join(dir, 'index.html')} is missing`);
  files.delete('index.html');
  const text = html.body
    .toString('utf8')
    .replace(/(["'])\/assets\/([\w.-]+)\1/g, (whole, quote: string, name: string) => {
      const file = files.get(name);
      return file === undefined ? whole : `${quote}/assets/${name}?v=${file.hash}${quote}`;
    });
  return { page: asset(Buffer.from(text), html.type), files };
}

function asset(body: Buffer, type = 'application/octet-stream'): Asset {
  return { body, type, hash: createHash('sha256').update(body).digest('hex').slice(0, 16) };
}

/**
 * Sends an asset. `immutable`: the request named it by its current hash, so it never changes under
 * that name; otherwise the browser revalidates it (a 304 when its ETag still matches).
 */
export function sendAsset(req: IncomingMessage, res: ServerResponse, file: Asset, immutable: boolean): void {
  const etag = `"${file.hash}"`;
  const headers = {
    ...SECURITY_HEADERS,
    'content-type': file.type,
    etag,
    'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
  };
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': String(file.body.length) });
  res.end(file.body);
}

/** Handlers for `/` and `/assets/…`, reading the assets on first use (a broken install fails loudly). */
export function staticHandlers(load: () => Promise<Assets>): {
  page: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>;
  asset: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>;
} {
  let loaded: Promise<Assets> | undefined;
  const assets = () => {
    loaded ??= load().catch((err: unknown) => {
      loaded = undefined;
      throw err;
    });
    return loaded;
  };
  return {
    async page(req, res) {
      sendAsset(req, res, (await assets()).page, false);
    },
    async asset(req, res, url) {
      const name = url.pathname.slice('/assets/'.length);
      const file = (await assets()).files.get(name);
      if (file === undefined) return plain(res, 404, 'not found\n', SECURITY_HEADERS);
      sendAsset(req, res, file, url.searchParams.get('v') === file.hash);
    },
  };
}
