import type { Database } from '@azure/cosmos';
import { ServiceBusClient, type ServiceBusMessage } from '@azure/service-bus';
import { closeServices } from '../../functions/app.services';
import type { HostLogEntry } from '../../local/host/function-host';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../local/stack';
import { main } from '../../shared/cli/cli';
import { cosmosClientFor } from './cosmos.fixture';
import { useStarted } from './lifecycle.helpers';
import { waitFor } from './polling.helpers';

export interface HostStack extends LocalStack {
  /** The app's database on the Cosmos stand-in. */
  database: Database;
  /** Everything the functions logged. */
  logs: HostLogEntry[];
  /** `function: error` for every invocation that threw. */
  hostErrors: string[];
  /** Stops the stack, then the app services the functions made, then the database client. */
  close(): Promise<void>;
}

/**
 * The local stack with the functions host, timers driven by hand (`host.timers.tick`), its logs
 * and errors kept, and a client for the app's database. `options.host` adds to or overrides that.
 */
export async function startHostStack(options: LocalStackOptions = {}): Promise<HostStack> {
  const logs: HostLogEntry[] = [];
  const hostErrors: string[] = [];
  const stack = await startLocalStack({
    ...options,
    host: {
      startTimers: false,
      log: (entry) => logs.push(entry),
      onError: (name, error) => hostErrors.push(`${name}: ${String(error)}`),
      ...options.host,
    },
  });
  const client = cosmosClientFor(stack.cosmos, 'marketing');
  return {
    ...stack,
    database: client.database('marketing'),
    logs,
    hostErrors,
    close: async () => {
      await stack.stop();
      await closeServices();
      client.dispose();
    },
  };
}

/** Sends messages to a queue of the stack's broker with the real SDK, as another app would. */
export async function sendToQueue(
  stack: LocalStack,
  queue: string,
  messages: ServiceBusMessage[],
): Promise<void> {
  const client = new ServiceBusClient(stack.broker.connectionString);
  try {
    const sender = client.createSender(queue);
    await sender.sendMessages(messages);
    await sender.close();
  } finally {
    await client.close();
  }
}

/** {@link startHostStack} for the enclosing describe, started before its tests and closed after them. */
export const useHostStack = (options: LocalStackOptions = {}): (() => HostStack) =>
  useStarted(() => startHostStack(options));

/** Ticks the scheduler and waits until `dynamics-sync status` shows every entity synced. */
export async function syncEveryEntity(stack: HostStack): Promise<void> {
  await stack.host?.timers.tick('scheduler');
  await waitFor(async () => {
    const out: string[] = [];
    await main(['node', 'dynamics-sync', 'status', '--json'], {
      env: stack.env,
      out: (line) => out.push(line),
      err: () => undefined,
    });
    const status = JSON.parse(out.join('\n')) as { entities: { state: string }[] };
    return status.entities.every((e) => e.state === 'synced') ? status : undefined;
  }, 'every entity synced');
}
