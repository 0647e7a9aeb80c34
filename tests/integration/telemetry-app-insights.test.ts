import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { generate } from 'selfsigned';
import { createTelemetry, type Telemetry } from '../../shared/telemetry/app-insights.telemetry';
import { METRIC_NAMES } from '../../shared/telemetry/sync-metrics';

/** One Application Insights envelope as the exporter sends it to /v2.1/track. */
interface Envelope {
  name: string;
  tags?: Record<string, string>;
  data?: { baseType?: string; baseData?: Record<string, unknown> };
}

interface MetricPoint {
  name: string;
  value: number;
  count?: number;
  max?: number;
}

// The exporter and its status reporting would otherwise look for a cloud host (and its metadata
// endpoint) to describe; these make it believe it runs on Functions and keep everything local.
const GUARD_ENV: Record<string, string> = {
  WEBSITE_SITE_NAME: 'dms-telemetry-test',
  FUNCTIONS_EXTENSION_VERSION: '~4',
  APPLICATIONINSIGHTS_STATSBEAT_DISABLED: 'true',
  APPLICATION_INSIGHTS_NO_STATSBEAT: 'true',
};

const savedEnv = new Map<string, string | undefined>();
const envelopes: Envelope[] = [];
const authorizations: (string | undefined)[] = [];
const connectHosts: string[] = [];
let ingestion: HttpsServer;
let dataverse: HttpServer;
let ingestionPort = 0;
let dataversePort = 0;
let telemetry: Telemetry;
let certificate = '';
const originalConnect = net.Socket.prototype.connect;

const listen = (server: HttpServer | HttpsServer) =>
  new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
const close = (server: HttpServer | HttpsServer | undefined) =>
  new Promise<void>((resolve) => {
    if (server === undefined || !server.listening) return resolve();
    server.closeAllConnections();
    server.close(() => resolve());
  });

beforeAll(async () => {
  for (const [name, value] of Object.entries(GUARD_ENV)) {
    savedEnv.set(name, process.env[name]);
    process.env[name] = value;
  }
  // Records every outgoing connection on top of the network guard, so the test can prove that
  // nothing (no metadata probe, no status report) even tried to leave 127.0.0.1.
  net.Socket.prototype.connect = function recordingConnect(this: net.Socket, ...args: unknown[]) {
    // net.createConnection (used by every http Agent) passes its normalized arguments as one array.
    const raw = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
    const first = raw as { host?: string; path?: string } | number;
    if (typeof first === 'object' && first !== null && first.path === undefined) {
      connectHosts.push(first.host ?? 'localhost');
    }
    if (typeof first === 'number') connectHosts.push(typeof args[1] === 'string' ? args[1] : 'localhost');
    return (originalConnect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof net.Socket.prototype.connect;

  // A throwaway self-signed certificate; the exporter trusts exactly this one, nothing is disabled.
  const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keySize: 2048,
    notAfterDate: new Date(Date.now() + 24 * 3_600_000),
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
  });
  certificate = pems.cert;
  ingestion = createHttpsServer({ key: pems.private, cert: pems.cert }, (request, response) => {
    authorizations.push(request.headers.authorization);
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks);
      const text = (request.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
      const received = text.trim().startsWith('[')
        ? (JSON.parse(text) as Envelope[])
        : text
            .split('\n')
            .filter((line) => line.trim() !== '')
            .map((line) => JSON.parse(line) as Envelope);
      envelopes.push(...received);
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({ itemsReceived: received.length, itemsAccepted: received.length, errors: [] }),
      );
    });
  });
  ingestionPort = await listen(ingestion);
  dataverse = createHttpServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end('{"value":[]}');
  });
  dataversePort = await listen(dataverse);

  telemetry = createTelemetry(
    {
      APPLICATIONINSIGHTS_CONNECTION_STRING: `InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:${ingestionPort}/`,
      WEBSITE_SITE_NAME: GUARD_ENV.WEBSITE_SITE_NAME,
    },
    {
      disableOfflineStorage: true,
      exportIntervalMs: 60_000,
      exporterOptions: { tlsOptions: { ca: certificate } },
    },
  );
});

afterAll(async () => {
  await telemetry?.shutdown();
  net.Socket.prototype.connect = originalConnect;
  await close(ingestion);
  await close(dataverse);
  for (const [name, value] of savedEnv) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

function metricPoints(): (MetricPoint & { properties: Record<string, string> })[] {
  return envelopes
    .filter((e) => e.data?.baseType === 'MetricData')
    .flatMap((e) => {
      const base = e.data?.baseData as { metrics?: MetricPoint[]; properties?: Record<string, string> };
      return (base.metrics ?? []).map((metric) => ({ ...metric, properties: base.properties ?? {} }));
    });
}

describe('Application Insights telemetry against a local HTTPS ingestion endpoint', () => {
  it('is enabled by a connection string and a no-op without one', () => {
    expect(telemetry.enabled).toBe(true);
    expect(createTelemetry({}).enabled).toBe(false);
  });

  it('sends per-entity sync metrics with the entity as a dimension', async () => {
    telemetry.metrics.recordsPulled('lead', 120);
    telemetry.metrics.recordsPulled('lead', 30);
    telemetry.metrics.recordsPulled('contact', 7);
    telemetry.metrics.recordsPushed('contact', 3);
    telemetry.metrics.syncErrors('contact', 2, 'validation');
    telemetry.metrics.lag('lead', 42);
    telemetry.metrics.lag('lead', 90);
    telemetry.metrics.dataverseRequests('lead', 5);
    telemetry.metrics.dataverseThrottled('lead', 1);
    telemetry.metrics.runDuration('lead', 12.5, 'succeeded');
    telemetry.metrics.verifyDrift('contact', 4);
    await telemetry.flush();

    const points = metricPoints();
    const pulled = (entity: string) =>
      points
        .filter((p) => p.name === METRIC_NAMES.recordsPulled && p.properties.entity === entity)
        .reduce((sum, p) => sum + p.value, 0);
    expect(pulled('lead')).toBe(150);
    expect(pulled('contact')).toBe(7);
    const lag = points.find((p) => p.name === METRIC_NAMES.lagSeconds && p.properties.entity === 'lead');
    expect(lag?.max).toBe(90);
    expect(lag?.count).toBe(2);
    const errors = points.find((p) => p.name === METRIC_NAMES.syncErrors);
    expect(errors?.properties).toEqual(expect.objectContaining({ entity: 'contact', kind: 'validation' }));
    const drift = points.find((p) => p.name === METRIC_NAMES.verifyDrift);
    expect(drift?.properties.entity).toBe('contact');
    expect(drift?.max).toBe(4);
    // Every metric the alert rules query reached the endpoint.
    for (const name of Object.values(METRIC_NAMES)) expect(points.map((p) => p.name)).toContain(name);
  });

  it('records outgoing HTTP as dependencies of the operation, which carries the correlation id', async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    await telemetry.operation(
      {
        name: 'pull lead',
        correlationId: 'corr-123',
        entity: 'lead',
        traceParent: `00-${traceId}-b7ad6b7169203331-01`,
      },
      async () => {
        const response = await fetch(`http://127.0.0.1:${dataversePort}/api/data/v9.2/leads`);
        expect(response.status).toBe(200);
        await response.text();
      },
    );
    await telemetry.flush();

    // Joined to the host's request for the invocation: same operation id, parent = the host's span.
    const request = envelopes.find((e) => e.data?.baseData?.name === 'pull lead');
    expect(request?.data?.baseType).toBe('RemoteDependencyData');
    expect(request?.data?.baseData?.type).toBe('InProc');
    expect(request?.tags?.['ai.operation.id']).toBe(traceId);
    expect(request?.tags?.['ai.operation.parentId']).toBe('b7ad6b7169203331');
    expect(request?.data?.baseData?.properties).toEqual(
      expect.objectContaining({ correlationId: 'corr-123', entity: 'lead' }),
    );
    const dependency = envelopes.find(
      (e) =>
        e.data?.baseType === 'RemoteDependencyData' &&
        String(e.data.baseData?.data ?? '').startsWith(`http://127.0.0.1:${dataversePort}/`),
    );
    expect(dependency?.data?.baseData?.resultCode).toBe('200');
    expect(dependency?.data?.baseData?.properties).toEqual(
      expect.objectContaining({ correlationId: 'corr-123', entity: 'lead' }),
    );
    expect(dependency?.tags?.['ai.operation.id']).toBe(traceId);
    expect(dependency?.tags?.['ai.operation.parentId']).toBe(request?.data?.baseData?.id);
  });

  it('outside an invocation, an operation is a request; a failed one is marked failed and rethrown', async () => {
    await expect(
      telemetry.operation(
        { name: 'pull contact', correlationId: 'corr-456', entity: 'contact' },
        async () => {
          throw new Error('Dataverse said no');
        },
      ),
    ).rejects.toThrow('Dataverse said no');
    await telemetry.flush();
    const request = envelopes.find(
      (e) => e.data?.baseType === 'RequestData' && e.data.baseData?.name === 'pull contact',
    );
    expect(request?.data?.baseData?.success).toBe(false);
  });

  it('authenticates ingestion with an Entra token when the authentication string asks for it', async () => {
    const scopes: string[][] = [];
    const aad = createTelemetry(
      {
        APPLICATIONINSIGHTS_CONNECTION_STRING: `InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:${ingestionPort}/`,
        APPLICATIONINSIGHTS_AUTHENTICATION_STRING:
          'ClientId=11111111-2222-3333-4444-555555555555;Authorization=AAD',
      },
      {
        disableOfflineStorage: true,
        instrumentHttp: false,
        exporterOptions: { tlsOptions: { ca: certificate } },
        credential: () => ({
          getToken: async (scope: string | string[]) => {
            scopes.push(Array.isArray(scope) ? scope : [scope]);
            return { token: 'entra-token', expiresOnTimestamp: Date.now() + 3_600_000 };
          },
        }),
      },
    );
    try {
      const before = authorizations.length;
      aad.metrics.recordsPushed('lead', 1);
      await aad.flush();
      expect(authorizations.slice(before)).toContain('Bearer entra-token');
      expect(scopes.flat().some((scope) => scope.includes('monitor.azure.com'))).toBe(true);
    } finally {
      await aad.shutdown();
    }
    // Key-based ingestion sends no token at all.
    expect(authorizations.slice(0, 1)).toEqual([undefined]);
  });

  it('never connected anywhere but 127.0.0.1, and never tracked its own uploads', () => {
    expect(connectHosts.length).toBeGreaterThan(0);
    expect(connectHosts.filter((host) => !host.startsWith('127.') && host !== 'localhost')).toEqual([]);
    const selfTracked = envelopes.filter(
      (e) =>
        e.data?.baseType === 'RemoteDependencyData' &&
        String(e.data.baseData?.data ?? '').includes(`:${ingestionPort}`),
    );
    expect(selfTracked).toEqual([]);
  });
});
