/**
 * Throughput of the local Service Bus broker with the real SDK:
 *   npx tsx bench/servicebus-broker.bench.ts [--messages 10000] [--batch 500] [--concurrency 8]
 * Measures send (message batches), receive+complete (receiveMessages in peek-lock) and
 * subscribe+autoComplete, on one connection, in one process with the broker.
 */
import { ServiceBusClient, type ServiceBusReceivedMessage } from '@azure/service-bus';
import { startServiceBusBroker } from '../local/servicebus/broker.server';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : NaN;
  return Number.isFinite(v) && v > 0 ? v : fallback;
};

const rate = (n: number, ms: number): string =>
  `${Math.round((n / ms) * 1000).toLocaleString('en-US')} msg/s`;

async function main(): Promise<void> {
  const total = arg('messages', 10_000);
  const batchSize = arg('batch', 500);
  const concurrency = arg('concurrency', 8);
  const broker = await startServiceBusBroker({
    queues: [{ name: 'bench' }, { name: 'bench-sub' }, { name: 'bench-session', requiresSession: true }],
  });
  const client = new ServiceBusClient(broker.connectionString);
  const body = { entity: 'contact', id: '00000000-0000-0000-0000-000000000000', page: 1, attempt: 0 };

  const sendAll = async (queue: string, sessionOf?: (i: number) => string): Promise<number> => {
    const sender = client.createSender(queue);
    const started = performance.now();
    let sent = 0;
    while (sent < total) {
      const batch = await sender.createMessageBatch();
      while (sent < total && batch.count < batchSize) {
        const msg = sessionOf ? { body, sessionId: sessionOf(sent) } : { body };
        if (!batch.tryAddMessage(msg)) break;
        sent++;
      }
      await sender.sendMessages(batch);
    }
    const ms = performance.now() - started;
    await sender.close();
    return ms;
  };

  // 1. send
  const sendMs = await sendAll('bench');
  console.log(
    `send (batches of ${batchSize}):        ${total} in ${sendMs.toFixed(0)} ms = ${rate(total, sendMs)}`,
  );

  // 2. receive + complete with receiveMessages
  const receiver = client.createReceiver('bench');
  let received = 0;
  let started = performance.now();
  while (received < total) {
    const msgs: ServiceBusReceivedMessage[] = await receiver.receiveMessages(
      Math.min(500, total - received),
      {
        maxWaitTimeInMs: 1_000,
      },
    );
    if (msgs.length === 0) throw new Error(`stalled at ${received}`);
    await Promise.all(msgs.map((m) => receiver.completeMessage(m)));
    received += msgs.length;
  }
  let ms = performance.now() - started;
  console.log(`receiveMessages(500) + complete:   ${total} in ${ms.toFixed(0)} ms = ${rate(total, ms)}`);
  await receiver.close();

  // 3. subscribe with autoComplete
  await sendAll('bench-sub');
  const subReceiver = client.createReceiver('bench-sub');
  started = performance.now();
  await new Promise<void>((resolve, reject) => {
    let done = 0;
    subReceiver.subscribe(
      {
        processMessage: async () => {
          done++;
          if (done === total) resolve();
        },
        processError: async (args) => reject(args.error),
      },
      { maxConcurrentCalls: concurrency },
    );
  });
  ms = performance.now() - started;
  console.log(
    `subscribe(maxConcurrentCalls=${concurrency}):  ${total} in ${ms.toFixed(0)} ms = ${rate(total, ms)}`,
  );
  await subReceiver.close();

  // 4. sessions: 10 sessions, acceptNextSession + receive + complete
  const sessions = 10;
  await sendAll('bench-session', (i) => `s${i % sessions}`);
  started = performance.now();
  let sessionReceived = 0;
  for (let s = 0; s < sessions; s++) {
    const sr = await client.acceptNextSession('bench-session');
    // Each session holds total/sessions messages; stop at that count instead of waiting out a timeout.
    for (let inSession = 0; inSession < total / sessions;) {
      const msgs = await sr.receiveMessages(500, { maxWaitTimeInMs: 1_000 });
      if (msgs.length === 0) throw new Error(`session ${sr.sessionId} stalled at ${inSession}`);
      inSession += msgs.length;
      await Promise.all(msgs.map((m) => sr.completeMessage(m)));
      sessionReceived += msgs.length;
    }
    await sr.close();
  }
  ms = performance.now() - started;
  console.log(
    `sessions (${sessions}) receive + complete:  ${sessionReceived} in ${ms.toFixed(0)} ms = ${rate(sessionReceived, ms)}`,
  );

  const c = broker.counters('bench');
  if (c.active !== 0 || c.locked !== 0 || c.completed !== total)
    throw new Error(`unexpected counters ${JSON.stringify(c)}`);
  await client.close();
  await broker.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
