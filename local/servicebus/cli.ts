import { Command } from 'commander';
import { startServiceBusBroker } from './broker.server';
import type { QueueDefinitionInput } from './broker.schema';

/** `name[:session][:lock=ms][:maxDelivery=n][:dedupe=ms][:ttl=ms]`, e.g. `pull-jobs:session`. */
export function parseQueueSpec(spec: string): QueueDefinitionInput {
  const [name, ...flags] = spec.split(':');
  const def: QueueDefinitionInput = { name: name ?? '' };
  for (const flag of flags) {
    const [key, value] = flag.split('=');
    const n = Number(value);
    switch (key) {
      case 'session':
        def.requiresSession = true;
        break;
      case 'lock':
        def.lockDurationMs = n;
        break;
      case 'maxDelivery':
        def.maxDeliveryCount = n;
        break;
      case 'dedupe':
        def.duplicateDetectionWindowMs = n;
        break;
      case 'ttl':
        def.defaultMessageTtlMs = n;
        break;
      case 'dlqOnExpiry':
        def.deadLetteringOnMessageExpiration = true;
        break;
      default:
        throw new Error(`unknown queue option '${flag}' in '${spec}'`);
    }
  }
  return def;
}

async function main(argv: string[]): Promise<void> {
  const program = new Command()
    .name('broker')
    .description('Local AMQP 1.0 broker that the @azure/service-bus SDK can talk to')
    .option('--port <port>', 'port to listen on (0 = any free port)', '5672')
    .option('--host <host>', 'interface to bind', '127.0.0.1')
    .option(
      '--queue <spec>',
      'queue to create: name[:session][:lock=ms][:maxDelivery=n][:dedupe=ms][:ttl=ms][:dlqOnExpiry] (repeatable)',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .parse(argv);
  const opts = program.opts<{ port: string; host: string; queue: string[] }>();
  const broker = await startServiceBusBroker({
    port: Number(opts.port),
    host: opts.host,
    queues: opts.queue.map(parseQueueSpec),
  });
  process.stdout.write(`Service Bus broker listening on amqp://${broker.host}:${broker.port}\n`);
  process.stdout.write(`Queues: ${broker.queueNames.join(', ') || '(none)'}\n`);
  process.stdout.write(`SERVICEBUS_CONNECTION_STRING=${broker.connectionString}\n`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${signal} received, closing broker\n`);
    broker.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

if (require.main === module) {
  main(process.argv).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
