import { spawn } from 'node:child_process';
import path from 'node:path';
import { ServiceBusClient } from '@azure/service-bus';
import { parseQueueSpec } from '../../local/servicebus/cli';

const root = path.resolve(__dirname, '../..');

describe('local Service Bus broker CLI', () => {
  it('parses queue specs', () => {
    expect(parseQueueSpec('pull-jobs:session')).toEqual({ name: 'pull-jobs', requiresSession: true });
    expect(parseQueueSpec('push-retry:lock=5000:maxDelivery=3:dedupe=60000:ttl=1000:dlqOnExpiry')).toEqual({
      name: 'push-retry',
      lockDurationMs: 5000,
      maxDeliveryCount: 3,
      duplicateDetectionWindowMs: 60000,
      defaultMessageTtlMs: 1000,
      deadLetteringOnMessageExpiration: true,
    });
    expect(() => parseQueueSpec('q:bogus')).toThrow(/unknown queue option/);
  });

  it('starts, prints where it listens and the connection string, serves the SDK, exits on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      [
        path.join(root, 'node_modules/tsx/dist/cli.mjs'),
        'local/servicebus/cli.ts',
        '--port',
        '0',
        '--queue',
        'pull-jobs:session',
        '--queue',
        'push-retry',
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // If an assertion fails the child must not outlive the test run.
    const killTimer = setTimeout(() => child.kill('SIGKILL'), 25_000);
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const deadline = Date.now() + 20_000;
    while (!/SERVICEBUS_CONNECTION_STRING=\S+/.test(out) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(out).toMatch(/Service Bus broker listening on amqp:\/\/127\.0\.0\.1:\d+/);
    const connectionString = /SERVICEBUS_CONNECTION_STRING=(\S+)/.exec(out)?.[1] as string;
    expect(connectionString).toContain('UseDevelopmentEmulator=true');

    const client = new ServiceBusClient(connectionString, {
      retryOptions: { maxRetries: 0, timeoutInMs: 5_000 },
    });
    await client
      .createSender('pull-jobs')
      .sendMessages({ body: { entity: 'contact' }, sessionId: 'contact' });
    const receiver = await client.acceptNextSession('pull-jobs');
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 1_000 });
    expect(m?.body).toEqual({ entity: 'contact' });
    await receiver.completeMessage(m!);
    await client.close();

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    clearTimeout(killTimer);
  }, 30_000);
});
