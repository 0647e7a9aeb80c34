import {
  ServiceBusClient,
  type ServiceBusClientOptions,
  type ServiceBusReceiver,
  type ServiceBusReceiverOptions,
  type ServiceBusSender,
} from '@azure/service-bus';
import { startServiceBusBroker, type ServiceBusBroker } from '../../local/servicebus/broker.server';
import type { BrokerOptionsInput } from '../../local/servicebus/broker.schema';
import { useStarted } from './lifecycle.helpers';

export interface BrokerFixture {
  broker: ServiceBusBroker;
  client: ServiceBusClient;
  /** A sender on `queue`, closed by closeLinks(). */
  sender(queue: string): ServiceBusSender;
  /** A receiver on `queue`, closed by closeLinks(). */
  receiver(queue: string, options?: ServiceBusReceiverOptions): ServiceBusReceiver;
  /** A sender and a receiver on `queue`, closed by closeLinks(). */
  links(
    queue: string,
    options?: ServiceBusReceiverOptions,
  ): { sender: ServiceBusSender; receiver: ServiceBusReceiver };
  /** Closes the senders and receivers opened through the fixture, the latest first. */
  closeLinks(): Promise<void>;
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
  const opened: { close(): Promise<void> }[] = [];
  const track = <T extends { close(): Promise<void> }>(link: T): T => {
    opened.push(link);
    return link;
  };
  const sender = (queue: string) => track(client.createSender(queue));
  const receiver = (queue: string, options?: ServiceBusReceiverOptions) =>
    track(options ? client.createReceiver(queue, options) : client.createReceiver(queue));
  const closeLinks = async () => {
    for (const link of opened.splice(0).reverse()) await link.close();
  };
  return {
    broker,
    client,
    sender,
    receiver,
    links: (queue, options) => ({ sender: sender(queue), receiver: receiver(queue, options) }),
    closeLinks,
    close: async () => {
      await closeLinks();
      await client.close();
      await broker.close();
    },
  };
}

/**
 * {@link startBrokerFixture} for the enclosing describe: started before its tests, closed after
 * them; the links a test opens through it are closed after that test.
 */
export function useBrokerFixture(
  options: BrokerOptionsInput,
  clientOptions?: ServiceBusClientOptions,
): () => BrokerFixture {
  const fx = useStarted(() => startBrokerFixture(options, clientOptions));
  afterEach(() => fx().closeLinks());
  return fx;
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
