import { startDataverseSimulator, type DataverseSimulator } from './dataverse/simulator.server';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET } from './dataverse/simulator.options';
import { startServiceBusBroker, type ServiceBusBroker } from './servicebus/broker.server';
import type { QueueDefinitionInput } from './servicebus/broker.schema';
import { startCosmosStandIn, type CosmosStandIn } from './cosmos/cosmos.server';
import { startLocalHost, type LocalHost, type LocalHostOptions } from './host/local-host';
import { createCosmosClient } from '../shared/cosmos/cosmos.client';
import { provisionCosmos } from '../shared/cosmos/cosmos.provisioning';
import { LOCAL_QUEUES } from './local-queues';

export { LOCAL_QUEUES };

export interface LocalStackOptions {
  /** 0 = ephemeral (tests); `npm start` uses fixed, documented ports. */
  ports?: { http?: number; dataverse?: number; serviceBus?: number; cosmos?: number };
  records?: number;
  seed?: number;
  /** Extra settings, e.g. a faster SYNC_SCHEDULE in tests. */
  env?: Record<string, string>;
  host?: Omit<LocalHostOptions, 'env' | 'httpPort'>;
  /** Start only the stand-ins, not the functions (tests that drive use cases directly). */
  withoutHost?: boolean;
  /** Broker queues; default LOCAL_QUEUES (tests lower maxDeliveryCount to see dead-lettering soon). */
  queues?: QueueDefinitionInput[];
}

export interface LocalStack {
  dataverse: DataverseSimulator;
  broker: ServiceBusBroker;
  cosmos: CosmosStandIn;
  host: LocalHost | undefined;
  /** The app settings the functions run with, as they would be in Azure (but with local secrets). */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const ports = options.ports ?? {};
  const started: { stop: () => Promise<void> }[] = [];
  try {
    const dataverse = await startDataverseSimulator({
      port: ports.dataverse ?? 0,
      records: options.records ?? 1000,
      seed: options.seed ?? 42,
    });
    started.push({ stop: () => dataverse.close() });
    const broker = await startServiceBusBroker({
      port: ports.serviceBus ?? 0,
      queues: options.queues ?? LOCAL_QUEUES,
    });
    started.push({ stop: () => broker.close() });
    const cosmos = await startCosmosStandIn({ port: ports.cosmos ?? 0 });
    started.push({ stop: () => cosmos.close() });

    const env: Record<string, string> = {
      DATAVERSE_URL: dataverse.url,
      DATAVERSE_TENANT_ID: dataverse.tenantId,
      DATAVERSE_CLIENT_ID: DEFAULT_CLIENT_ID,
      DATAVERSE_CLIENT_SECRET: DEFAULT_CLIENT_SECRET,
      DATAVERSE_TOKEN_ENDPOINT: dataverse.tokenEndpoint,
      COSMOS_ENDPOINT: cosmos.endpoint,
      COSMOS_KEY: cosmos.key,
      COSMOS_DATABASE: 'marketing',
      COSMOS: `AccountEndpoint=${cosmos.endpoint}/;AccountKey=${cosmos.key};`,
      SERVICEBUS: broker.connectionString,
      // The local stack listens on 127.0.0.1 only and has no App Service authentication in front.
      API_AUTHORIZATION: 'off',
      ...options.env,
    };
    const cosmosClient = createCosmosClient({
      COSMOS_ENDPOINT: cosmos.endpoint,
      COSMOS_KEY: cosmos.key,
      COSMOS_DATABASE: 'marketing',
    });
    try {
      await provisionCosmos(cosmosClient, env.COSMOS_DATABASE as string, 'create');
    } finally {
      cosmosClient.dispose();
    }

    const host = options.withoutHost
      ? undefined
      : await startLocalHost({ ...options.host, env, httpPort: ports.http ?? 0 });
    if (host !== undefined) started.push({ stop: () => host.stop() });

    return {
      dataverse,
      broker,
      cosmos,
      host,
      env,
      stop: async () => {
        // Functions first, so nothing is mid-request when the stand-ins go away.
        for (const part of started.reverse()) await part.stop();
        started.length = 0;
      },
    };
  } catch (error) {
    for (const part of started.reverse()) await part.stop().catch(() => undefined);
    throw error;
  }
}
