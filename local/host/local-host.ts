import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { CosmosClient } from '@azure/cosmos';
import { ServiceBusClient } from '@azure/service-bus';
import { z } from 'zod';
import { createCosmosClient } from '../../shared/cosmos/cosmos.client';
import { CosmosDriver } from './cosmos.driver';
import { FunctionHost, type HostLogEntry } from './function-host';
import { installFunctionsCore } from './functions-core.install';
import { HttpDriver } from './http.driver';
import { DEFAULT_SERVICEBUS_HOST_OPTIONS, ServiceBusDriver } from './servicebus.driver';
import { acquireSettlementServer } from './settlement.server';
import { TimerDriver } from './timer.driver';

const ROOT = path.resolve(__dirname, '..', '..');

const hostJsonSchema = z.object({
  version: z.literal('2.0'),
  extensions: z
    .object({
      serviceBus: z
        .object({
          maxConcurrentSessions: z.number().int().positive().optional(),
          maxConcurrentCalls: z.number().int().positive().optional(),
          autoCompleteMessages: z.boolean().optional(),
          sessionIdleTimeout: z.string().optional(),
        })
        .optional(),
    })
    .optional(),
});

/** "hh:mm:ss" as in host.json. */
function timeSpanMs(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const [h = 0, m = 0, s = 0] = value.split(':').map(Number);
  return ((h * 60 + m) * 60 + s) * 1000;
}

export function functionModules(dir = path.join(ROOT, 'functions')): string[] {
  return readdirSync(dir)
    .filter((file) => /\.function\.(ts|js)$/.test(file))
    .map((file) => path.join(dir, file));
}

/** Parses a Cosmos connection string (`AccountEndpoint=...;AccountKey=...;`) as the host does. */
export function cosmosFromConnection(value: string): CosmosClient {
  const parts = Object.fromEntries(
    value
      .split(';')
      .filter((p) => p.includes('='))
      .map((p) => [p.slice(0, p.indexOf('=')).trim(), p.slice(p.indexOf('=') + 1).trim()]),
  );
  const endpoint = parts.AccountEndpoint;
  if (endpoint === undefined) throw new Error('Cosmos connection setting has no AccountEndpoint');
  return createCosmosClient({
    COSMOS_ENDPOINT: endpoint.replace(/\/+$/, ''),
    COSMOS_KEY: parts.AccountKey,
    COSMOS_DATABASE: '',
  });
}

/** One client per connection setting, made from the setting's value the first time it is asked for. */
function clientsBySetting<Client>(
  env: Record<string, string | undefined>,
  service: string,
  create: (connection: string) => Client,
): { get(setting: string): Client; created(): Iterable<Client> } {
  const clients = new Map<string, Client>();
  return {
    get(setting) {
      let client = clients.get(setting);
      if (client === undefined) {
        const value = env[setting];
        if (value === undefined) throw new Error(`${service} connection setting ${setting} is not set`);
        client = create(value);
        clients.set(setting, client);
      }
      return client;
    },
    created: () => clients.values(),
  };
}

export interface LocalHostOptions {
  env: Record<string, string | undefined>;
  httpPort?: number;
  /** Defaults to every `*.function.ts` in functions/. */
  modules?: string[];
  log?: (entry: HostLogEntry) => void;
  onError?: (functionName: string, error: unknown) => void;
  cosmosPollIntervalMs?: number;
  /** Tests drive timers by hand with `timers.tick`. */
  startTimers?: boolean;
}

export interface LocalHost {
  host: FunctionHost;
  timers: TimerDriver;
  serviceBus: ServiceBusDriver;
  cosmos: CosmosDriver;
  httpPort: number;
  stop(): Promise<void>;
}

/**
 * Runs the app's functions the way the Azure Functions host would: registrations from the real
 * `@azure/functions` package, settings from the environment, options from host.json.
 */
export async function startLocalHost(options: LocalHostOptions): Promise<LocalHost> {
  installFunctionsCore();
  const hostJson = hostJsonSchema.parse(JSON.parse(readFileSync(path.join(ROOT, 'host.json'), 'utf8')));
  const sb = hostJson.extensions?.serviceBus ?? {};
  const log = options.log ?? (() => undefined);
  const onError =
    options.onError ??
    ((name, error) =>
      log({
        functionName: name,
        invocationId: '',
        level: 'error',
        category: 'host',
        message: String(error),
      }));

  // The modules read settings when they load, as they do in the worker, so set them first.
  Object.assign(process.env, options.env);
  const host = new FunctionHost(log);
  host.load(options.modules ?? functionModules());

  const sbClients = clientsBySetting(
    options.env,
    'Service Bus',
    // A pending acceptNextSession only gives up at the operation timeout (not on abort or close),
    // so a short one keeps shutdown quick; the session loops simply accept again.
    (value) => new ServiceBusClient(value, { retryOptions: { timeoutInMs: 3000 } }),
  );
  const cosmosClients = clientsBySetting(options.env, 'Cosmos DB', cosmosFromConnection);

  const timers = new TimerDriver(host, options.env, onError);
  const serviceBus = new ServiceBusDriver(
    host,
    (setting) => sbClients.get(setting),
    options.env,
    {
      ...DEFAULT_SERVICEBUS_HOST_OPTIONS,
      maxConcurrentSessions:
        sb.maxConcurrentSessions ?? DEFAULT_SERVICEBUS_HOST_OPTIONS.maxConcurrentSessions,
      maxConcurrentCalls: sb.maxConcurrentCalls ?? DEFAULT_SERVICEBUS_HOST_OPTIONS.maxConcurrentCalls,
      autoCompleteMessages: sb.autoCompleteMessages ?? true,
      sessionIdleTimeoutMs: timeSpanMs(
        sb.sessionIdleTimeout,
        DEFAULT_SERVICEBUS_HOST_OPTIONS.sessionIdleTimeoutMs,
      ),
    },
    onError,
    acquireSettlementServer,
  );
  const cosmos = new CosmosDriver(
    host,
    (setting) => cosmosClients.get(setting),
    options.env,
    { pollIntervalMs: options.cosmosPollIntervalMs ?? 1000, maxItemsPerInvocation: 100 },
    onError,
  );
  const http = new HttpDriver(host, onError);

  timers.start({ arm: options.startTimers !== false });
  await serviceBus.start();
  await cosmos.start();
  const httpPort = await http.start(options.httpPort ?? 0);

  return {
    host,
    timers,
    serviceBus,
    cosmos,
    httpPort,
    stop: async () => {
      timers.stop();
      await http.stop();
      await cosmos.stop();
      await serviceBus.stop();
      await Promise.all([...sbClients.created()].map((c) => c.close()));
      for (const c of cosmosClients.created()) c.dispose();
    },
  };
}
