import type { Database } from '@azure/cosmos';
import { closeServices } from '../../functions/app.services';
import type { HostLogEntry } from '../../local/host/function-host';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../local/stack';
import { cosmosClientFor } from './cosmos.fixture';
import { useStarted } from './lifecycle.helpers';

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

/** {@link startHostStack} for the enclosing describe, started before its tests and closed after them. */
export const useHostStack = (options: LocalStackOptions = {}): (() => HostStack) =>
  useStarted(() => startHostStack(options));
