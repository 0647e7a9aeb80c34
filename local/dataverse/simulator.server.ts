import { PrivilegeRules } from './privilege.rules';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import { TokenService } from './auth.service';
import { runBatch } from './batch.handler';
import { createControl, handleControlHttp, type SimulatorControl } from './control.api';
import { DataStore } from './data.store';
import { FaultInjector } from './fault.injector';
import { registrationTables, seedRegistration } from './registration.tables';
import { builtInTables } from './schema.catalog';
import { BUSINESS_UNIT_ID, customTableDef, defaultCounts, seedOrganisation } from './seed.generator';
import { releasePageBody } from './json-page.writer';
import { guidFromText } from './seed.random';
import { DataverseSimulatorError } from './simulator.errors';
import {
  DEFAULT_CLIENT_ID,
  DEFAULT_CLIENT_SECRET,
  DEFAULT_TENANT_ID,
  latencyModelSchema,
  readCostMs,
  resolveLimits,
  simulatorOptionsSchema,
  webhookSettingsSchema,
  type ResolvedSimulatorOptions,
  type SimulatorOptions,
} from './simulator.options';
import { ThrottleLimiter } from './throttle.limiter';
import { TrafficRecorder } from './traffic.counters';
import { errorResponse, WebApi, type ApiResponse } from './web-api.handler';
import { WebhookDispatcher } from './webhook.dispatcher';

export { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID };
export type { SimulatorOptions, SimulatorControl };
export { DataverseSimulatorError };

export interface DataverseSimulator {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `${url}/api/data/v9.2/` */
  apiUrl: string;
  tenantId: string;
  /** `${url}/${tenantId}/oauth2/v2.0/token` */
  tokenEndpoint: string;
  /** Scope for client credentials: `${url}/.default`. */
  scope: string;
  /** JSON string for msal-node's `authorityMetadata` (token_endpoint points at this simulator). */
  authorityMetadata(): string;
  /** Milliseconds the seeding took. */
  seedMs: number;
  options: ResolvedSimulatorOptions;
  control: SimulatorControl;
  /** Registered webhooks' deliveries (also `GET/POST /_sim/webhooks`). */
  webhooks: WebhookDispatcher;
  close(): Promise<void>;
}

const readBody = (req: http.IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });

const lowerHeaders = (req: http.IncomingMessage): Record<string, string | undefined> => {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(req.headers))
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
};

const FAULT_MESSAGES: Record<number, [string, string]> = {
  500: ['0x80040216', 'An unexpected error occurred.'],
  502: ['', 'Bad Gateway'],
  503: ['', 'The service is temporarily unavailable. Please try again later.'],
  504: ['', 'The operation has timed out.'],
};

export const startDataverseSimulator = async (
  options: SimulatorOptions = {},
): Promise<DataverseSimulator> => {
  const opts = simulatorOptionsSchema.parse(options);
  const latency = opts.latency !== undefined ? latencyModelSchema.parse(opts.latency) : undefined;
  const base = opts.now ?? Date.now;
  let offset = 0;
  const now = () => base() + offset;
  const clock = {
    now,
    set: (ms: number) => {
      offset = ms - base();
    },
    advance: (ms: number) => {
      offset += ms;
    },
  };

  const seedStart = performance.now();
  const defs = [...builtInTables(), ...registrationTables(), ...opts.customTables.map(customTableDef)];
  const store = new DataStore(defs, now, opts.untrackedTables);
  const appUsers = new Map(
    opts.clients.map((c) => [c.clientId, guidFromText(`application-user:${c.clientId}`)]),
  );
  const counts = { ...defaultCounts(opts.records), ...(opts.counts ?? {}) };
  seedOrganisation({
    store,
    seed: opts.seed,
    counts,
    customTables: opts.customTables,
    appUsers: [...appUsers],
  });
  // After every other table, so the rows seeded before keep their version numbers.
  seedRegistration(store, now());
  const seedMs = performance.now() - seedStart;
  const users = store.table('systemuser');
  const humanUserId =
    [...(users?.rows.values() ?? [])].find(
      (r) => r.values.applicationid === null && r.values.isdisabled === false,
    )?.id ?? (appUsers.values().next().value as string);

  const limiter = new ThrottleLimiter(resolveLimits(opts.limits), now);
  const faults = new FaultInjector(opts.seed);
  const recorder = new TrafficRecorder(opts.requestLogSize);
  const tenant = opts.tenantId;
  const pendingTimers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          pendingTimers.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      pendingTimers.add(entry);
    });

  // Everything that needs the URL is built once the port is known.
  let url = '';
  const late: {
    api?: WebApi;
    tokens?: TokenService;
    info?: Parameters<typeof handleControlHttp>[1];
    control?: SimulatorControl;
  } = {};

  const send = (res: http.ServerResponse, r: ApiResponse) => {
    if (res.destroyed) {
      releasePageBody(r.body);
      return;
    }
    const length = typeof r.body === 'string' ? Buffer.byteLength(r.body) : r.body.length;
    res.writeHead(r.status, { ...r.headers, 'Content-Length': length });
    // The socket holds the body until it is written; only then may a page writer reuse it.
    res.once('close', () => releasePageBody(r.body));
    res.end(r.body);
  };
  const sendJson = (
    res: http.ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) =>
    send(res, {
      status,
      headers: { 'Content-Type': 'application/json; charset=utf-8', ...headers },
      body: JSON.stringify(body),
    });

  const handleApi = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    u: URL,
    apiPath: string,
    body: string,
  ): Promise<void> => {
    const { api, tokens } = late;
    if (!api || !tokens) return;
    const t0 = performance.now();
    const start = now();
    const headers = lowerHeaders(req);
    const clientId = opts.requireAuth
      ? tokens.verify(headers.authorization)
      : (opts.clients[0]?.clientId ?? DEFAULT_CLIENT_ID);
    const method = (req.method ?? 'GET').toUpperCase();
    recorder.start(clientId);
    let status = 0;
    let throttled = false;
    let violation = false;
    let fault: 'error' | 'reset' | undefined;
    let writes = 0;
    try {
      if (!clientId) {
        status = 401;
        send(res, {
          status,
          headers: {
            'WWW-Authenticate': `Bearer authorization_uri=${url}/${tenant}/oauth2/authorize, resource_id=${url}/`,
          },
          body: '',
        });
        return;
      }
      const admission = limiter.admit(clientId);
      if (!admission.ok) {
        status = 429;
        throttled = true;
        violation = admission.violation;
        send(res, errorResponse(admission.error));
        return;
      }
      try {
        const decision = faults.decide(method, u.pathname + u.search, false);
        if (decision.latencyMs > 0) await sleep(decision.latencyMs);
        if (decision.kind === 'reset') {
          fault = 'reset';
          req.socket.destroy();
          return;
        }
        if (decision.kind === 'error') {
          fault = 'error';
          status = decision.status;
          let err: DataverseSimulatorError;
          if (decision.status === 429) {
            const l = limiter.getLimits();
            err = new DataverseSimulatorError(
              429,
              decision.code ?? '0x80072322',
              decision.message ??
                `Number of requests exceeded the limit of ${l.requestsPerWindow} over time window of ${l.windowSeconds} seconds.`,
            );
            err.headers['Retry-After'] = String(decision.retryAfterSeconds ?? l.retryAfterSeconds);
            throttled = true;
          } else {
            const [code, message] = FAULT_MESSAGES[decision.status] ?? ['', 'Injected fault'];
            err = new DataverseSimulatorError(
              decision.status,
              decision.code ?? code,
              decision.message ?? message,
            );
            if (decision.retryAfterSeconds !== undefined)
              err.headers['Retry-After'] = String(decision.retryAfterSeconds);
          }
          send(res, errorResponse(err));
          return;
        }
        const userId = appUsers.get(clientId) ?? humanUserId;
        const w0 = store.writes;
        const r =
          apiPath === '$batch'
            ? method === 'POST'
              ? runBatch({ api, store, apiUrl: `${url}/api/data/v9.2/`, userId }, body, headers)
              : errorResponse(
                  new DataverseSimulatorError(
                    405,
                    '0x80060888',
                    'The requested resource does not support http method.',
                  ),
                )
            : api.handle({ method, path: apiPath, query: u.searchParams, headers, body, userId });
        writes = store.writes - w0;
        status = r.status;
        // Charged before the answer leaves, inside the admission, so it counts as execution time.
        if (latency !== undefined && r.reads !== undefined && r.status < 300) {
          await sleep(readCostMs(latency, r.reads.rows, r.reads.columns));
        }
        r.headers['x-ms-ratelimit-burst-remaining-xrm-requests'] = String(limiter.remaining(clientId));
        r.headers['x-ms-service-request-id'] = randomUUID();
        send(res, r);
      } finally {
        admission.release(performance.now() - t0);
      }
    } finally {
      recorder.finish(
        clientId,
        {
          method,
          path: u.pathname + u.search,
          status,
          start,
          end: now(),
          throttled,
          ...(fault ? { fault } : {}),
          ...(apiPath === '$batch' ? { batch: true } : {}),
        },
        { writes, violation },
      );
    }
  };

  const handleToken = async (res: http.ServerResponse, u: URL, body: string, req: http.IncomingMessage) => {
    const { tokens } = late;
    if (!tokens) return;
    const decision = faults.decide('POST', u.pathname, true);
    if (decision.latencyMs > 0) await sleep(decision.latencyMs);
    if (decision.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (decision.kind === 'error') {
      sendJson(res, decision.status, {
        error: 'temporarily_unavailable',
        error_description: 'AADSTS90033: Injected fault.',
      });
      return;
    }
    const answer = tokens.issue(new URLSearchParams(body));
    sendJson(res, answer.status, answer.body, { 'Cache-Control': 'no-store, no-cache', Pragma: 'no-cache' });
  };

  const onRequest = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const body = await readBody(req);
    const u = new URL(req.url ?? '/', url);
    const path = u.pathname;
    const method = (req.method ?? 'GET').toUpperCase();
    if (path === '/_sim/webhooks' || path.startsWith('/_sim/webhooks/')) {
      const r = webhookControl(method, u.searchParams, body);
      sendJson(res, r.status, r.body);
      return;
    }
    if (path === '/_sim' || path.startsWith('/_sim/')) {
      const { control, info } = late;
      if (!control || !info) return;
      const r = handleControlHttp(control, info, store, method, path, u.searchParams, body);
      sendJson(res, r.status, r.body);
      return;
    }
    if (path === `/${tenant}/oauth2/v2.0/token` && method === 'POST') return handleToken(res, u, body, req);
    if (path === `/${tenant}/v2.0/.well-known/openid-configuration` && method === 'GET') {
      sendJson(res, 200, openIdConfiguration());
      return;
    }
    if (path === `/${tenant}/discovery/v2.0/keys`) {
      sendJson(res, 200, { keys: [] });
      return;
    }
    const m = /^\/api\/data\/v9\.[0-2]\/(.*)$/.exec(path);
    if (m) return handleApi(req, res, u, m[1] as string, body);
    sendJson(res, 404, { error: { code: '', message: `No route for ${method} ${path}` } });
  };

  const server = http.createServer((req, res) => {
    onRequest(req, res).catch((err: unknown) => {
      console.error('dataverse simulator: unhandled error', err);
      if (!res.headersSent && !res.destroyed) {
        sendJson(res, 500, { error: { code: '0x80040216', message: 'An unexpected error occurred.' } });
      } else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const apiUrl = `${url}/api/data/v9.2/`;
  const tokenEndpoint = `${url}/${tenant}/oauth2/v2.0/token`;

  const openIdConfiguration = () => ({
    token_endpoint: tokenEndpoint,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${url}/${tenant}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: `${url}/${tenant}/v2.0`,
    request_uri_parameter_supported: false,
    userinfo_endpoint: `${url}/oidc/userinfo`,
    authorization_endpoint: `${url}/${tenant}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${url}/${tenant}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${url}/${tenant}/oauth2/v2.0/logout`,
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'tid'],
    tenant_region_scope: 'EU',
    cloud_instance_name: 'microsoftonline.com',
    cloud_graph_host_name: 'graph.windows.net',
    msgraph_host: 'graph.microsoft.com',
  });
  const authorityMetadata = () => {
    const c = openIdConfiguration();
    return JSON.stringify({
      issuer: c.issuer,
      authorization_endpoint: c.authorization_endpoint,
      token_endpoint: c.token_endpoint,
      jwks_uri: c.jwks_uri,
      end_session_endpoint: c.end_session_endpoint,
    });
  };

  const tokens = new TokenService({
    clients: opts.clients,
    tenantId: tenant,
    lifetimeSeconds: opts.tokenLifetimeSeconds,
    now,
    resources: () => [url, url.replace('127.0.0.1', 'localhost'), opts.orgUrl],
  });
  const privileges = new PrivilegeRules();
  const api = new WebApi({
    store,
    apiUrl,
    now,
    maxPageSize: opts.maxPageSize,
    retentionDays: opts.changeTrackingRetentionDays,
    initialTokenAt: opts.initialTokenAt,
    organizationId: opts.organizationId?.toLowerCase() ?? guidFromText(`organization:${opts.seed}`),
    businessUnitId: BUSINESS_UNIT_ID,
    privileges,
  });
  const control = createControl({
    privileges,
    store,
    api,
    faults,
    limiter,
    recorder,
    clock,
    humanUserId,
    appUsers,
    defaultClientId: opts.clients[0]?.clientId ?? DEFAULT_CLIENT_ID,
    revokeTokens: () => tokens.revokeAll(),
  });
  const webhooks = new WebhookDispatcher({
    store,
    now,
    organizationId: () => api.organizationId,
    organizationName: new URL(opts.orgUrl).hostname.split('.')[0] ?? 'simulator',
    businessUnitId: BUSINESS_UNIT_ID,
    options: opts.webhooks,
  });
  const webhookControl = (method: string, query: URLSearchParams, body: string) => {
    if (method === 'GET') return { status: 200, body: webhooks.report(Number(query.get('limit') ?? '100')) };
    if (method !== 'POST') return { status: 405, body: { error: 'GET or POST' } };
    try {
      webhooks.configure(webhookSettingsSchema.parse(body.trim() === '' ? {} : JSON.parse(body)));
      return { status: 200, body: webhooks.report(0) };
    } catch {
      return { status: 400, body: { error: 'expected {"enabled"?: boolean, "delayMs"?: number}' } };
    }
  };
  Object.assign(late, {
    api,
    tokens,
    control,
    info: { url, apiUrl, tenantId: tenant, tokenEndpoint, authorityMetadata: authorityMetadata() },
  });

  let closed = false;
  return {
    url,
    apiUrl,
    tenantId: tenant,
    tokenEndpoint,
    scope: `${url}/.default`,
    authorityMetadata,
    seedMs,
    options: opts,
    control,
    webhooks,
    close: async () => {
      if (closed) return;
      closed = true;
      webhooks.close();
      for (const p of pendingTimers) {
        clearTimeout(p.timer);
        p.resolve();
      }
      pendingTimers.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
};
