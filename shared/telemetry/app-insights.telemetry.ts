import type { TokenCredential } from '@azure/identity';
import {
  AzureMonitorMetricExporter,
  AzureMonitorTraceExporter,
  type AzureMonitorExporterOptions,
} from '@azure/monitor-opentelemetry-exporter';
import {
  context,
  createContextKey,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Counter,
  type Histogram,
  type Meter,
  type Tracer,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type Span,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { METRIC_NAMES, noopSyncMetrics, type SyncMetrics } from './sync-metrics';
import { TelemetryError } from './telemetry.errors';
import { parseAuthenticationString, telemetryEnvSchema } from './telemetry.settings';
import { describeError } from '../errors/app.errors';

/** What one unit of work (a scheduled tick, a pull job, a push batch) is known by in telemetry. */
export interface OperationScope {
  /** Operation name in Application Insights, e.g. `pull lead`. */
  name: string;
  correlationId: string;
  entity?: string;
  /** W3C traceparent of the invocation (InvocationContext.traceContext), to join the host's request. */
  traceParent?: string | null;
  attributes?: Attributes;
}

export interface Telemetry {
  readonly enabled: boolean;
  readonly metrics: SyncMetrics;
  /**
   * Runs `work` as one operation: outgoing HTTP calls made inside it (Dataverse, Cosmos DB, Service
   * Bus) are recorded as its dependencies and carry its operation id and correlation id.
   */
  operation<T>(scope: OperationScope, work: () => Promise<T>): Promise<T>;
  /** Sends everything buffered; call before a function invocation returns on a scale-to-zero plan. */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

export interface TelemetryDeps {
  /** Token source for Entra-authenticated ingestion; defaults to the managed identity of AZURE_CLIENT_ID. */
  credential?: () => TokenCredential;
  /** Metric export period; the Functions host may freeze an idle instance, so flush() matters more. */
  exportIntervalMs?: number;
  /** Offline retry storage on local disk; off in tests. */
  disableOfflineStorage?: boolean;
  /** Patch http/https and fetch (undici) to record dependencies. */
  instrumentHttp?: boolean;
  serviceName?: string;
  /** Passed to the exporters, e.g. `tlsOptions` to trust a private ingestion endpoint's CA. */
  exporterOptions?: Omit<AzureMonitorExporterOptions, 'connectionString' | 'credential'>;
}

const TRACE_PARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The invocation's parent span context, so worker spans join the host's request in the same operation. */
function parentContext(traceParent: string | null | undefined): Context {
  const match = traceParent ? TRACE_PARENT.exec(traceParent.trim()) : null;
  if (match === null) return context.active();
  const [, traceId, spanId, flags] = match as unknown as [string, string, string, string];
  return trace.setSpanContext(context.active(), {
    traceId,
    spanId,
    traceFlags: Number.parseInt(flags, 16) & TraceFlags.SAMPLED,
    isRemote: true,
  });
}

interface Endpoint {
  hostname: string;
  port: string;
}

function ingestionEndpoint(connectionString: string): Endpoint | undefined {
  const endpoint = /(?:^|;)\s*IngestionEndpoint=([^;]+)/i.exec(connectionString)?.[1];
  if (endpoint === undefined) return undefined;
  try {
    const url = new URL(endpoint.trim());
    return { hostname: url.hostname, port: url.port || (url.protocol === 'http:' ? '80' : '443') };
  } catch {
    throw new TelemetryError(
      'invalid_connection_string',
      'IngestionEndpoint in the connection string is not a URL',
    );
  }
}

/** SyncMetrics over OpenTelemetry instruments; the Azure Monitor exporter turns them into customMetrics. */
export class OpenTelemetrySyncMetrics implements SyncMetrics {
  private readonly pulled: Counter;
  private readonly pushed: Counter;
  private readonly errors: Counter;
  private readonly requests: Counter;
  private readonly throttled: Counter;
  private readonly lagSeconds: Histogram;
  private readonly duration: Histogram;
  private readonly drift: Histogram;

  constructor(meter: Meter) {
    this.pulled = meter.createCounter(METRIC_NAMES.recordsPulled, { unit: '{record}' });
    this.pushed = meter.createCounter(METRIC_NAMES.recordsPushed, { unit: '{record}' });
    this.errors = meter.createCounter(METRIC_NAMES.syncErrors, { unit: '{error}' });
    this.requests = meter.createCounter(METRIC_NAMES.dataverseRequests, { unit: '{request}' });
    this.throttled = meter.createCounter(METRIC_NAMES.dataverseThrottled, { unit: '{response}' });
    // Histograms, so each export carries min/max/sum/count and the lag alert can use the maximum.
    this.lagSeconds = meter.createHistogram(METRIC_NAMES.lagSeconds, { unit: 's' });
    this.duration = meter.createHistogram(METRIC_NAMES.runDuration, { unit: 's' });
    // A histogram too: every verify reports its drift, zero included, so the alert sees each one.
    this.drift = meter.createHistogram(METRIC_NAMES.verifyDrift, { unit: '{finding}' });
  }

  recordsPulled(entity: string, count: number): void {
    if (count > 0) this.pulled.add(count, { entity });
  }
  recordsPushed(entity: string, count: number): void {
    if (count > 0) this.pushed.add(count, { entity });
  }
  syncErrors(entity: string, count: number, kind = 'unknown'): void {
    if (count > 0) this.errors.add(count, { entity, kind });
  }
  lag(entity: string, seconds: number): void {
    if (Number.isFinite(seconds)) this.lagSeconds.record(Math.max(0, seconds), { entity });
  }
  dataverseRequests(entity: string, count: number): void {
    if (count > 0) this.requests.add(count, { entity });
  }
  dataverseThrottled(entity: string, count: number): void {
    if (count > 0) this.throttled.add(count, { entity });
  }
  runDuration(entity: string, seconds: number, outcome: 'succeeded' | 'failed' | 'partial'): void {
    if (Number.isFinite(seconds)) this.duration.record(Math.max(0, seconds), { entity, outcome });
  }
  verifyDrift(entity: string, drift: number): void {
    if (Number.isFinite(drift)) this.drift.record(Math.max(0, drift), { entity });
  }
}

const OPERATION_ATTRIBUTES = createContextKey('dynamics-marketing-sync.operation');

/**
 * Copies the operation's correlation id and entity onto every span started inside it, so each
 * dependency row in Application Insights can be found by correlation id, not only by operation id.
 */
class OperationAttributesProcessor implements SpanProcessor {
  onStart(span: Span, parent: Context): void {
    const attributes = parent.getValue(OPERATION_ATTRIBUTES) as Attributes | undefined;
    if (attributes !== undefined) span.setAttributes(attributes);
  }
  onEnd(): void {}
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** Runs operations as spans of a tracer; spans end with the work, failed ones are marked as errors. */
async function runOperation<T>(tracer: Tracer, scope: OperationScope, work: () => Promise<T>): Promise<T> {
  const attributes: Attributes = { ...scope.attributes, correlationId: scope.correlationId };
  if (scope.entity !== undefined) attributes.entity = scope.entity;
  // Inside a Functions invocation the host already records the request: the operation nests under it
  // (INTERNAL) so a failure is not counted twice. Standalone (CLI, local stack) it is the request.
  const kind = scope.traceParent ? SpanKind.INTERNAL : SpanKind.SERVER;
  const span = tracer.startSpan(scope.name, { kind, attributes }, parentContext(scope.traceParent));
  try {
    const inherited: Attributes = { correlationId: scope.correlationId };
    if (scope.entity !== undefined) inherited.entity = scope.entity;
    const active = trace.setSpan(context.active(), span).setValue(OPERATION_ATTRIBUTES, inherited);
    const result = await context.with(active, work);
    span.setStatus({ code: SpanStatusCode.OK });
    return result;
  } catch (error) {
    span.recordException(error instanceof Error ? error : new Error(String(error)));
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: describeError(error),
    });
    throw error;
  } finally {
    span.end();
  }
}

const disabledTelemetry = (): Telemetry => ({
  enabled: false,
  metrics: noopSyncMetrics,
  operation: (_scope, work) => work(),
  flush: async () => undefined,
  shutdown: async () => undefined,
});

function managedIdentity(clientId: string | undefined): TokenCredential {
  // Loaded lazily so runs without Entra ingestion never load the identity stack.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { ManagedIdentityCredential } = require('@azure/identity') as typeof import('@azure/identity');
  return clientId === undefined
    ? new ManagedIdentityCredential()
    : new ManagedIdentityCredential({ clientId });
}

/**
 * Application Insights through its OpenTelemetry exporter. Without a connection string it returns a
 * no-op, so local runs and tests need nothing. The SDK pieces are wired here rather than through
 * the all-in-one distro because the distro always probes the VM metadata endpoint (169.254.169.254)
 * at start, which is pointless on Functions and forbidden in tests.
 *
 * Instrumentation and the context manager are process-wide by nature (they patch http and keep
 * async context); create one Telemetry per process and shut it down on exit.
 */
export function createTelemetry(
  source: Record<string, string | undefined>,
  deps: TelemetryDeps = {},
): Telemetry {
  const env = telemetryEnvSchema.parse(source);
  const connectionString = env.APPLICATIONINSIGHTS_CONNECTION_STRING;
  if (connectionString === undefined) return disabledTelemetry();

  const auth = parseAuthenticationString(env.APPLICATIONINSIGHTS_AUTHENTICATION_STRING);
  const credential =
    auth === undefined
      ? undefined
      : (deps.credential ?? (() => managedIdentity(auth.clientId ?? env.AZURE_CLIENT_ID)))();
  const exporterOptions: AzureMonitorExporterOptions = {
    ...deps.exporterOptions,
    connectionString,
    ...(credential !== undefined ? { credential } : {}),
    ...(deps.disableOfflineStorage ? { disableOfflineStorage: true } : {}),
  };
  const ingestion = ingestionEndpoint(connectionString);

  const resource = resourceFromAttributes({
    'service.name': deps.serviceName ?? source.WEBSITE_SITE_NAME ?? 'dynamics-marketing-sync',
  });

  const meterProvider = new MeterProvider({
    resource,
    readers: [
      new PeriodicExportingMetricReader({
        exporter: new AzureMonitorMetricExporter(exporterOptions),
        exportIntervalMillis: deps.exportIntervalMs ?? 60_000,
      }),
    ],
  });
  const tracerProvider = new BasicTracerProvider({
    resource,
    spanProcessors: [
      new OperationAttributesProcessor(),
      new BatchSpanProcessor(new AzureMonitorTraceExporter(exporterOptions)),
    ],
  });
  const tracer = tracerProvider.getTracer('dynamics-marketing-sync');

  const contextManager = new AsyncLocalStorageContextManager().enable();
  // False when another SDK in the process already set one; theirs then carries our spans too.
  const ownsContext = context.setGlobalContextManager(contextManager);

  const isIngestion = (hostname: string | null | undefined, port: string | number | null | undefined) =>
    ingestion !== undefined && hostname === ingestion.hostname && String(port ?? '443') === ingestion.port;
  const unregister =
    deps.instrumentHttp === false
      ? () => undefined
      : registerInstrumentations({
          tracerProvider,
          meterProvider,
          instrumentations: [
            new HttpInstrumentation({
              // The exporter's own uploads are not dependencies of the sync.
              ignoreOutgoingRequestHook: (request) =>
                isIngestion(request.hostname ?? request.host, request.port ?? request.defaultPort),
              // Incoming HTTP is recorded by the Functions host as requests already.
              ignoreIncomingRequestHook: () => true,
            }),
            new UndiciInstrumentation({
              ignoreRequestHook: (request) => {
                const url = new URL(request.origin);
                return isIngestion(url.hostname, url.port || (url.protocol === 'http:' ? '80' : '443'));
              },
            }),
          ],
        });

  if (deps.instrumentHttp !== false) {
    // Instrumentations patch a module when it is next required; http and https are normally loaded
    // long before telemetry starts, so require them once more to have them patched now.
    /* eslint-disable @typescript-eslint/no-require-imports */
    require('http');
    require('https');
    /* eslint-enable @typescript-eslint/no-require-imports */
  }

  let stopped = false;
  return {
    enabled: true,
    metrics: new OpenTelemetrySyncMetrics(meterProvider.getMeter('dynamics-marketing-sync')),
    operation: (scope, work) => runOperation(tracer, scope, work),
    flush: async () => {
      try {
        await Promise.all([tracerProvider.forceFlush(), meterProvider.forceFlush()]);
      } catch (error) {
        throw new TelemetryError('export_failed', 'could not send telemetry to Application Insights', {
          cause: error,
        });
      }
    },
    shutdown: async () => {
      if (stopped) return;
      stopped = true;
      unregister();
      await Promise.allSettled([tracerProvider.shutdown(), meterProvider.shutdown()]);
      if (ownsContext) context.disable();
      else contextManager.disable();
    },
  };
}
