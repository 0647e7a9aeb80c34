import http from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { buildConsole, CONSOLE_DIST, type ConsoleBuild } from '../../console/build';
import { ConsoleAssets } from '../../console/console.assets';
import { useHostStack } from './host-stack.fixture';

interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * A request sent exactly as written: `fetch` and `URL` would resolve `..` and `\` before sending,
 * and the point here is to see what the server does with them.
 */
function raw(port: number, rawPath: string, headers: Record<string, string> = {}, method = 'GET') {
  return new Promise<RawAnswer>((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port, path: rawPath, method, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }),
      );
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end();
  });
}

const principal = (roles: string[]) =>
  Buffer.from(
    JSON.stringify({
      auth_typ: 'aad',
      claims: [{ typ: 'name', val: 'reader' }, ...roles.map((val) => ({ typ: 'roles', val }))],
    }),
  ).toString('base64');

let built: ConsoleBuild;

beforeAll(async () => {
  built = await buildConsole();
});

describe('the console is served by the Functions app', () => {
  const stack = useHostStack({ records: 10, env: { SYNC_ENTITIES: 'account' } });
  const port = () => stack().host?.httpPort ?? 0;
  const fileNamed = (suffix: string) => built.files.find((f) => f.name.endsWith(suffix))?.name ?? '';

  it('redirects /api/console to the folder form, whose relative links the page uses', async () => {
    const answer = await raw(port(), '/api/console');
    expect(answer.status).toBe(308);
    expect(answer.headers.location).toBe('console/');
    expect(
      new URL(answer.headers.location as string, `http://127.0.0.1:${port()}/api/console`).pathname,
    ).toBe('/api/console/');
  });

  it('serves the page with a strict content security policy, revalidated on each visit', async () => {
    const answer = await raw(port(), '/api/console/');
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(answer.headers['cache-control']).toBe('no-cache');
    expect(answer.headers['x-content-type-options']).toBe('nosniff');
    expect(answer.headers['content-security-policy']).toContain("default-src 'none'");
    expect(answer.headers['content-security-policy']).toContain("script-src 'self'");
    expect(answer.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(answer.body.toString()).toContain(`<script type="module" src="${fileNamed('.js')}"></script>`);
    expect(answer.body.toString()).toContain(`href="${fileNamed('.css')}"`);
    // Same answer under its own name, and 304 when the browser already has it.
    expect((await raw(port(), '/api/console/index.html')).body).toEqual(answer.body);
    const again = await raw(port(), '/api/console/', { 'if-none-match': String(answer.headers.etag) });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
  });

  it('serves the hashed bundles with their types, cached for a year, compressed as the browser asks', async () => {
    for (const [suffix, type] of [
      ['.js', 'text/javascript; charset=utf-8'],
      ['.css', 'text/css; charset=utf-8'],
    ] as const) {
      const name = fileNamed(suffix);
      const onDisk = await readFile(path.join(CONSOLE_DIST, name));
      const plain = await raw(port(), `/api/console/${name}`);
      expect(plain.status).toBe(200);
      expect(plain.headers['content-type']).toBe(type);
      expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(plain.headers['content-encoding']).toBeUndefined();
      expect(plain.headers.vary).toBe('Accept-Encoding');
      expect(plain.body).toEqual(onDisk);
      const gzip = await raw(port(), `/api/console/${name}`, { 'accept-encoding': 'gzip' });
      expect(gzip.headers['content-encoding']).toBe('gzip');
      expect(gunzipSync(gzip.body)).toEqual(onDisk);
      const br = await raw(port(), `/api/console/${name}`, { 'accept-encoding': 'gzip, deflate, br' });
      expect(br.headers['content-encoding']).toBe('br');
      expect(brotliDecompressSync(br.body)).toEqual(onDisk);
      expect(br.body.length).toBeLessThan(onDisk.length / 2);
      const refused = await raw(port(), `/api/console/${name}`, { 'accept-encoding': 'br;q=0, gzip;q=0' });
      expect(refused.headers['content-encoding']).toBeUndefined();
    }
  });

  it('refuses path traversal in every spelling: nothing outside the built files is ever read', async () => {
    const secrets = [
      '"name": "dynamics-marketing-sync"', // package.json
      '"extensionBundle"', // host.json
      'root:', // /etc/passwd
      'import ', // a source file
    ];
    const attempts = [
      '/api/console/../package.json',
      '/api/console/../../package.json',
      '/api/console/..%2Fpackage.json',
      '/api/console/..%2F..%2Fpackage.json',
      '/api/console/%2e%2e/%2e%2e/package.json',
      '/api/console/%2E%2E%2F%2E%2E%2Fhost.json',
      '/api/console/%252e%252e%252fpackage.json',
      '/api/console/..\\..\\package.json',
      '/api/console/..%5C..%5Cpackage.json',
      '/api/console/....//....//package.json',
      '/api/console//etc/passwd',
      '/api/console/%2Fetc%2Fpasswd',
      '/api/console/index.html%00.js',
      '/api/console/dist/index.html',
      '/api/console/console/dist/index.html',
      '/api/console/src/main.tsx',
      '/api/console/build.ts',
      '/api/console/console.assets.ts',
      `/api/console/${fileNamed('.js')}/../../../package.json`,
      '/api/console/%',
    ];
    for (const attempt of attempts) {
      const answer = await raw(port(), attempt);
      // The attempt is part of what is compared, so a failure names it.
      expect({ attempt, refused: [400, 404].includes(answer.status) }).toEqual({ attempt, refused: true });
      expect(answer.headers['content-type']).toMatch(/^application\/json/);
      const body = answer.body.toString();
      for (const secret of secrets)
        expect({ attempt, leaked: body.includes(secret) }).toEqual({ attempt, leaked: false });
      expect(JSON.parse(body)).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
    }
  });

  it('takes no query parameters but Azure’s function key, and only GET', async () => {
    const withParameter = await raw(port(), '/api/console/?debug=1');
    expect(withParameter.status).toBe(400);
    expect(JSON.parse(withParameter.body.toString())).toMatchObject({ error: { code: 'invalid_query' } });
    expect((await raw(port(), '/api/console/?code=function-key')).status).toBe(200);
    const posted = await raw(port(), '/api/console/', {}, 'POST');
    expect(posted.status).toBe(405);
    expect(posted.headers.allow).toBe('GET');
  });
});

describe('the console behind App Service authentication', () => {
  const stack = useHostStack({
    records: 10,
    env: { SYNC_ENTITIES: 'account', API_AUTHORIZATION: 'app-roles' },
  });
  const port = () => stack().host?.httpPort ?? 0;

  it('needs a signed-in caller with a role of the API, as the API does', async () => {
    expect((await raw(port(), '/api/console/')).status).toBe(401);
    const noRole = await raw(port(), '/api/console/', { 'x-ms-client-principal': principal([]) });
    expect(noRole.status).toBe(403);
    expect(JSON.parse(noRole.body.toString()).error.message).toMatch(/Sync\.Read/);
    const reader = await raw(port(), '/api/console/', { 'x-ms-client-principal': principal(['Sync.Read']) });
    expect(reader.status).toBe(200);
    expect(reader.headers['content-type']).toBe('text/html; charset=utf-8');
  });
});

describe('a package without the built console', () => {
  it('answers 503 with what to do instead of an empty page', async () => {
    const empty = await mkdtemp(path.join(os.tmpdir(), 'console-unbuilt-'));
    try {
      const assets = await ConsoleAssets.load(empty);
      expect(assets.built).toBe(false);
      expect(
        assets.respond({
          path: '',
          url: 'http://127.0.0.1/api/console/',
          acceptEncoding: null,
          ifNoneMatch: null,
        }),
      ).toMatchObject({ status: 503, jsonBody: { error: { code: 'console_not_built' } } });
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
