import { ServiceBusClient, type ServiceBusClientOptions } from '@azure/service-bus';
import { startServiceBusBroker, type ServiceBusBroker } from '../../local/servicebus/broker.server';
import type { BrokerOptionsInput } from '../../local/servicebus/broker.schema';

export interface BrokerFixture {
  broker: ServiceBusBroker;
  client: ServiceBusClient;
  close(): Promise<void>;
}

/** One broker on an ephemeral port plus one SDK client, with short SDK timeouts for fast failures. */
export async function startBrokerFixture(
  options: BrokerOptionsInput,
  clientOptions: ServiceBusClientOptions = {},
): Promise<BrokerFixture> {
  const broker = await startServiceBusBroker({ port: 0, ...options });
  const client = new ServiceBusClient(broker.connectionString, {
    retryOptions: { maxRetries: 0, timeoutInMs: 5_000 },
    ...clientOptions,
  });
  return {
    broker,
    client,
    close: async () => {
      await client.close();
      await broker.close();
    },
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` passes or the deadline hits; returns the last value for the assertion. */
export async function eventually<T>(read: () => T, check: (v: T) => boolean, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = read();
  while (!check(value) && Date.now() < deadline) {
    await sleep(20);
    value = read();
  }
  return value;
}
