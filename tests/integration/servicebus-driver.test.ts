import path from 'node:path';
import { ServiceBusClient } from '@azure/service-bus';
import { startLocalHost, type LocalHost } from '../../local/host/local-host';
import { startServiceBusBroker, type ServiceBusBroker } from '../../local/servicebus/broker.server';
import { deliveryProbe } from './support/delivery-probe.function';

const PROBE = path.join(__dirname, 'support', 'delivery-probe.function.ts');

const SESSIONS = ['s0', 's1', 's2', 's3', 's4', 's5'];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The harness receives with the real SDK. A batch receive (receiveMessages) that times out drains
 * the link and, when the drain is answered more than 200 ms later, the SDK closes the link even
 * after handing over a message that came in meanwhile: the broker then gave that message to the
 * session's next receiver while its first invocation still ran. Seen in `npm start`, where a busy
 * event loop delays the answer (a job run twice at once, SessionLockLost on its completion); here
 * the broker answers every drain 300 ms late. Every message must still be handled exactly once,
 * a session's messages one at a time, and nothing reported as failed.
 */
describe('the host harness when drain requests are answered late', () => {
  let broker: ServiceBusBroker;
  let host: LocalHost;
  let client: ServiceBusClient;
  const hostErrors: string[] = [];

  beforeAll(async () => {
    broker = await startServiceBusBroker({
      port: 0,
      drainReplyDelayMs: 300,
      queues: [
        { name: 'session-probe', requiresSession: true, maxDeliveryCount: 10, lockDurationMs: 60_000 },
        { name: 'plain-probe', requiresSession: false, maxDeliveryCount: 10, lockDurationMs: 60_000 },
      ],
    });
    host = await startLocalHost({
      env: { PROBE_SERVICEBUS: broker.connectionString },
      modules: [PROBE],
      startTimers: false,
      onError: (name, error) => hostErrors.push(`${name}: ${String(error)}`),
    });
    client = new ServiceBusClient(broker.connectionString);
  });

  afterAll(async () => {
    await client?.close();
    await host?.stop();
    await broker?.close();
  });

  it('hands every message to its function once, never two of a session at once', async () => {
    deliveryProbe.reset();
    const sessionSender = client.createSender('session-probe');
    const plainSender = client.createSender('plain-probe');
    const sent: string[] = [];
    {
      // Each session (and the plain queue) gets a message every 0.2-1.2 s, from its own sender
      // loop: about the session idle timeout, so receives keep ending (and sessions being let go)
      // just as messages arrive.
      const until = Date.now() + 6_000;
      const feed = async (lane: string, send: (messageId: string) => Promise<void>) => {
        for (let i = 0; Date.now() < until; i++) {
          const messageId = `${lane}-${i}`;
          sent.push(messageId);
          await send(messageId);
          await sleep(200 + Math.random() * 1000);
        }
      };
      await Promise.all([
        ...SESSIONS.map((sessionId) =>
          feed(sessionId, (messageId) =>
            sessionSender.sendMessages({ body: messageId, messageId, sessionId }),
          ),
        ),
        feed('plain', (messageId) => plainSender.sendMessages({ body: messageId, messageId })),
      ]);
    }
    const deadline = Date.now() + 30_000;
    while (deliveryProbe.handled.size < sent.length && Date.now() < deadline) await sleep(100);
    await sleep(1500); // a second delivery of anything would land by now

    const twice = [...deliveryProbe.handled].filter(([, n]) => n > 1).map(([id]) => id);
    expect({ twice, overlaps: deliveryProbe.overlaps, hostErrors }).toEqual({
      twice: [],
      overlaps: [],
      hostErrors: [],
    });
    expect([...deliveryProbe.handled.keys()].sort()).toEqual([...sent].sort());
    for (const queue of ['session-probe', 'plain-probe']) {
      const c = broker.counters(queue);
      expect({ queue, active: c.active, locked: c.locked, deadLettered: c.deadLettered }).toEqual({
        queue,
        active: 0,
        locked: 0,
        deadLettered: 0,
      });
    }
    await sessionSender.close();
    await plainSender.close();
  }, 90_000);
});
