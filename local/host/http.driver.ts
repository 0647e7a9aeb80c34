import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { FunctionHost, type RpcHttpData } from './function-host';

interface Route {
  name: string;
  methods: string[];
  pattern: RegExp;
  params: string[];
}

/** Turns a Functions route template (`errors/{entity}/{id?}`, `{*path}`) into a matcher. */
export function compileRoute(template: string): { pattern: RegExp; params: string[] } {
  const params: string[] = [];
  const body = template
    .replace(/^\/+|\/+$/g, '')
    .split('/')
    .map((segment) => {
      const match = /^\{(\*)?([A-Za-z_][A-Za-z0-9_]*)(?::[^}?]*)?(\?)?\}$/.exec(segment);
      if (match === null) return `/${segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`;
      params.push(match[2] as string);
      if (match[1] === '*') return '(?:/(.*))?';
      return match[3] === '?' ? '(?:/([^/]+))?' : '/([^/]+)';
    })
    .join('');
  return { pattern: new RegExp(`^${body}/?$`, 'i'), params };
}

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' };

const errorBody = (code: string, message: string): string => JSON.stringify({ error: { code, message } });

/** The route's parameters, percent-decoded; undefined when one is not valid percent-encoding. */
function decodeParams(names: readonly string[], match: RegExpExecArray): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (const [i, name] of names.entries()) {
    const value = match[i + 1];
    if (value === undefined) continue;
    try {
      params[name] = decodeURIComponent(value);
    } catch {
      return undefined;
    }
  }
  return params;
}

/** Serves HTTP-triggered functions under /api, like the host on localhost:7071. */
export class HttpDriver {
  private server: http.Server | undefined;
  private routes: Route[] = [];

  constructor(
    private readonly host: FunctionHost,
    private readonly onError: (name: string, error: unknown) => void,
  ) {}

  async start(port: number): Promise<number> {
    this.routes = [];
    for (const { metadata } of this.host.registrations) {
      const { binding } = FunctionHost.trigger(metadata);
      if (binding.type !== 'httpTrigger') continue;
      const template = typeof binding.route === 'string' ? binding.route : metadata.name;
      const methods = Array.isArray(binding.methods)
        ? binding.methods.map((m) => String(m).toUpperCase())
        : [];
      this.routes.push({ name: metadata.name, methods, ...compileRoute(template) });
    }
    // A failure of the driver itself answers that request with a 500 and is reported; it never
    // becomes an unhandled rejection that would end the whole local stack.
    this.server = http.createServer((req, res) => {
      this.serve(req, res).catch((error: unknown) => {
        this.onError('(http driver)', error);
        if (!res.headersSent) res.writeHead(500, JSON_HEADERS);
        res.end(errorBody('internal_error', 'the local host failed to handle this request; see its log'));
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', reject);
      this.server?.listen(port, '127.0.0.1', () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
    const method = (req.method ?? 'GET').toUpperCase();
    const path = url.pathname.replace(/^\/api(?=\/|$)/, '');
    let matched: { route: Route; params: Record<string, string> } | undefined;
    let methodMismatch = false;
    for (const route of this.routes) {
      const match = route.pattern.exec(path);
      if (match === null) continue;
      if (route.methods.length > 0 && !route.methods.includes(method)) {
        methodMismatch = true;
        continue;
      }
      const params = decodeParams(route.params, match);
      if (params === undefined) {
        res
          .writeHead(400, JSON_HEADERS)
          .end(
            errorBody(
              'invalid_url',
              'the URL holds a malformed percent-encoding (a % not followed by two hex digits); encode path segments with encodeURIComponent',
            ),
          );
        return;
      }
      matched = { route, params };
      break;
    }
    if (matched === undefined || !url.pathname.startsWith('/api')) {
      if (methodMismatch) {
        const allowed = [
          ...new Set(this.routes.filter((r) => r.pattern.test(path)).flatMap((r) => r.methods)),
        ];
        res
          .writeHead(405, { ...JSON_HEADERS, allow: allowed.join(', ') })
          .end(errorBody('method_not_allowed', `${method} is not allowed here; use ${allowed.join(' or ')}`));
      } else {
        res.writeHead(404, JSON_HEADERS).end(errorBody('not_found', `no function serves ${path || '/'}`));
      }
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(', ') : value;
    }
    const request: RpcHttpData = {
      method,
      url: url.toString(),
      headers,
      query: Object.fromEntries(url.searchParams),
      params: matched.params,
      body: { bytes: Buffer.concat(chunks) },
    };
    try {
      const { returnValue } = await this.host.invoke(matched.route.name, { http: request });
      const response = (returnValue as { http?: RpcHttpData } | undefined)?.http ?? {};
      const body =
        response.body?.bytes ??
        (response.body?.string !== undefined ? Buffer.from(response.body.string) : undefined);
      res.writeHead(Number(response.statusCode ?? 200), response.headers ?? {});
      res.end(body === undefined ? undefined : Buffer.from(body));
    } catch (error) {
      this.onError(matched.route.name, error);
      // Never the error text: it may hold anything. The log has it.
      if (!res.headersSent) res.writeHead(500, JSON_HEADERS);
      res.end(errorBody('internal_error', `function ${matched.route.name} failed; see the host's log`));
    }
  }
}
