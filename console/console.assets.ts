import type { HttpResponseInit } from '@azure/functions';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';

/** Only these kinds of file are served; a file of any other kind in the folder is not. */
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** A bundle name the build stamped with its content hash (`app-A7ULR57I.js`): it never changes. */
const HASHED = /-[A-Z0-9]{8}\.(?:js|css)$/;

/**
 * The console only talks to its own origin and loads only its own files. `frame-ancestors` keeps
 * it out of other sites' frames (clickjacking an operator into a resync).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const COMMON_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'content-security-policy': CONTENT_SECURITY_POLICY,
};

interface Asset {
  type: string;
  etag: string;
  cacheControl: string;
  identity: Buffer;
  gzip: Buffer;
  br: Buffer;
}

/** What the server needs from a request to answer it. */
export interface AssetRequest {
  /** The `{*path}` of the route, as the host decoded it; empty for the console itself. */
  path: string;
  /** The request's URL, to tell `/console` from `/console/`. */
  url: string;
  acceptEncoding: string | null;
  ifNoneMatch: string | null;
}

const notFound = (what: string): HttpResponseInit => ({
  status: 404,
  headers: COMMON_HEADERS,
  jsonBody: { error: { code: 'not_found', message: `the console has no file ${what}` } },
});

/** `br` and `gzip` when the browser takes them (q=0 refuses), brotli first: it is the smaller. */
function encodingFor(accept: string | null): 'br' | 'gzip' | undefined {
  const offered = new Map<string, number>();
  for (const part of (accept ?? '').toLowerCase().split(',')) {
    const [name, ...params] = part.trim().split(';');
    const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
    if (name !== undefined && name !== '') offered.set(name.trim(), q === undefined ? 1 : Number(q));
  }
  if ((offered.get('br') ?? 0) > 0) return 'br';
  if ((offered.get('gzip') ?? 0) > 0) return 'gzip';
  return undefined;
}

/**
 * The built console (`npm run build:console`), held in memory: index.html, a hashed script and a
 * hashed stylesheet, each with its compressed forms. A request names a file only by looking it up
 * in this table; no part of a URL ever reaches the file system, so `..`, slashes, backslashes or
 * encoded forms of them can only miss.
 */
export class ConsoleAssets {
  private constructor(private readonly files: ReadonlyMap<string, Asset>) {}

  static async load(dir: string): Promise<ConsoleAssets> {
    const files = new Map<string, Asset>();
    const names = existsSync(dir) ? await readdir(dir, { withFileTypes: true }) : [];
    for (const entry of names) {
      const type = CONTENT_TYPES[path.extname(entry.name)];
      if (!entry.isFile() || type === undefined) continue;
      const identity = await readFile(path.join(dir, entry.name));
      files.set(entry.name, {
        type,
        etag: `W/"${createHash('sha256').update(identity).digest('base64url').slice(0, 22)}"`,
        // index.html names the bundles of this build, so it is checked on each visit (a 304 when
        // unchanged); the hashed bundles can be kept for a year.
        cacheControl: HASHED.test(entry.name)
          ? 'public, max-age=31536000, immutable'
          : entry.name === 'index.html'
            ? 'no-cache'
            : 'public, max-age=3600',
        identity,
        gzip: gzipSync(identity, { level: 9 }),
        br: brotliCompressSync(identity, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11 } }),
      });
    }
    return new ConsoleAssets(files);
  }

  /** True when the console was built: without index.html there is nothing to serve. */
  get built(): boolean {
    return this.files.has('index.html');
  }

  respond(request: AssetRequest): HttpResponseInit {
    if (!this.built) {
      return {
        status: 503,
        headers: COMMON_HEADERS,
        jsonBody: {
          error: {
            code: 'console_not_built',
            message: 'the console was not built with this deployment; run `npm run build` before deploying',
          },
        },
      };
    }
    const name = request.path === '' ? 'index.html' : request.path;
    // `/api/console` without the slash: the page's relative links need the folder form.
    if (request.path === '' && !new URL(request.url).pathname.endsWith('/')) {
      return {
        status: 308,
        headers: { ...COMMON_HEADERS, location: 'console/', 'cache-control': 'no-cache' },
      };
    }
    const asset = this.files.get(name);
    if (asset === undefined) return notFound(JSON.stringify(request.path.slice(0, 100)));
    const headers: Record<string, string> = {
      ...COMMON_HEADERS,
      'content-type': asset.type,
      'cache-control': asset.cacheControl,
      etag: asset.etag,
      vary: 'Accept-Encoding',
    };
    if (
      request.ifNoneMatch !== null &&
      request.ifNoneMatch.split(',').some((tag) => tag.trim() === asset.etag)
    ) {
      return { status: 304, headers };
    }
    const encoding = encodingFor(request.acceptEncoding);
    if (encoding !== undefined) headers['content-encoding'] = encoding;
    return { status: 200, headers, body: encoding === undefined ? asset.identity : asset[encoding] };
  }
}

/**
 * Where the built console is: `console/dist` under the app's root (the folder with host.json),
 * both when the functions run from source and when they run compiled from `dist/`.
 */
export function consoleDistDir(from: string = __dirname): string {
  let dir = from;
  for (let up = 0; up < 5; up += 1) {
    if (existsSync(path.join(dir, 'host.json'))) return path.join(dir, 'console', 'dist');
    dir = path.dirname(dir);
  }
  return path.resolve(from, '..', 'console', 'dist');
}
