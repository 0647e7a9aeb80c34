import type { ServiceBusReceivedMessage } from '@azure/service-bus';
import { useBrokerFixture, sleep, eventually } from './servicebus-broker.fixture';

describe('local Service Bus broker: sessions', () => {
  const fx = useBrokerFixture({
    queues: [
      { name: 'order', requiresSession: true },
      { name: 'two', requiresSession: true },
      { name: 'excl', requiresSession: true },
      { name: 'next', requiresSession: true },
      { name: 'empty', requiresSession: true },
      { name: 'state', requiresSession: true },
      { name: 'renew', requiresSession: true, lockDurationMs: 600 },
      { name: 'release', requiresSession: true },
      { name: 'sub', requiresSession: true },
      { name: 'nosession', requiresSession: true },
      { name: 'plain' },
      { name: 'poison', requiresSession: true, maxDeliveryCount: 3 },
    ],
  });

  it('rejects a message without session id on a session queue', async () => {
    const sender = fx().client.createSender('nosession');
    await expect(sender.sendMessages({ body: 'x' })).rejects.toThrow(/SessionId/);
    const batch = await sender.createMessageBatch();
    batch.tryAddMessage({ body: 'ok', sessionId: 'a' });
    batch.tryAddMessage({ body: 'missing' });
    // A batch is all or nothing.
    await expect(sender.sendMessages(batch)).rejects.toThrow(/SessionId/);
    expect(fx().broker.counters('nosession')).toMatchObject({ active: 0, sent: 0 });
    await sender.close();
  });

  it('refuses a plain receiver on a session queue and a session receiver on a plain queue', async () => {
    const sender = fx().client.createSender('nosession');
    await sender.sendMessages({ body: 'x', sessionId: 'a' });
    const plain = fx().client.createReceiver('nosession');
    await expect(plain.receiveMessages(1, { maxWaitTimeInMs: 300 })).rejects.toThrow(
      /requires sessions to create a non-sessionful/,
    );
    await expect(fx().client.acceptSession('plain', 'a')).rejects.toThrow(/does not require sessions/);
    expect(fx().broker.counters('nosession')).toMatchObject({ active: 1, locked: 0 });
    await plain.close();
    await sender.close();
  });

  it('delivers the messages of one session in order, abandoned ones first again', async () => {
    const sender = fx().client.createSender('order');
    const batch = await sender.createMessageBatch();
    for (let i = 0; i < 20; i++) batch.tryAddMessage({ body: i, sessionId: 'contact' });
    await sender.sendMessages(batch);
    const receiver = await fx().client.acceptSession('order', 'contact');
    expect(receiver.sessionId).toBe('contact');
    const lockedFor = receiver.sessionLockedUntilUtc!.getTime() - Date.now();
    expect(lockedFor).toBeGreaterThan(25_000);
    const first = await receiver.receiveMessages(5, { maxWaitTimeInMs: 500 });
    expect(first.map((m) => m.body)).toEqual([0, 1, 2, 3, 4]);
    await receiver.abandonMessage(first[0]!);
    for (const m of first.slice(1)) await receiver.completeMessage(m);
    const rest: ServiceBusReceivedMessage[] = [];
    while (rest.length < 16) {
      const got = await receiver.receiveMessages(16 - rest.length, { maxWaitTimeInMs: 500 });
      if (got.length === 0) break;
      rest.push(...got);
    }
    expect(rest.map((m) => m.body)).toEqual([0, ...Array.from({ length: 15 }, (_, i) => i + 5)]);
    expect(rest[0]?.deliveryCount).toBe(1);
    expect(rest.every((m) => m.sessionId === 'contact')).toBe(true);
    for (const m of rest) await receiver.completeMessage(m);
    expect(fx().broker.counters('order')).toMatchObject({ active: 0, locked: 0, completed: 20 });
    await receiver.close();
    await sender.close();
  });

  it('gives two sessions to two receivers, each seeing only its own messages', async () => {
    const sender = fx().client.createSender('two');
    await sender.sendMessages([
      { body: 'a1', sessionId: 'A' },
      { body: 'b1', sessionId: 'B' },
      { body: 'a2', sessionId: 'A' },
      { body: 'b2', sessionId: 'B' },
    ]);
    const r1 = await fx().client.acceptNextSession('two');
    const r2 = await fx().client.acceptNextSession('two');
    expect(new Set([r1.sessionId, r2.sessionId])).toEqual(new Set(['A', 'B']));
    expect(fx().broker.counters('two').sessions).toEqual({ withMessages: 2, locked: 2 });
    for (const r of [r1, r2]) {
      const msgs = await r.receiveMessages(5, { maxWaitTimeInMs: 300 });
      const id = r.sessionId.toLowerCase();
      expect(msgs.map((m) => m.body)).toEqual([`${id}1`, `${id}2`]);
      for (const m of msgs) await r.completeMessage(m);
    }
    await r1.close();
    await r2.close();
    await sender.close();
  });

  it('locks a session for one receiver at a time (SessionCannotBeLocked) until it is closed', async () => {
    const sender = fx().client.createSender('excl');
    await sender.sendMessages({ body: 1, sessionId: 'S' });
    const owner = await fx().client.acceptSession('excl', 'S');
    await expect(fx().client.acceptSession('excl', 'S')).rejects.toMatchObject({
      code: 'SessionCannotBeLocked',
    });
    // Next-available must not hand out a locked session either.
    const otherClient = await startBrokerFixtureClient();
    await expect(otherClient.acceptNextSession('excl')).rejects.toMatchObject({ code: 'ServiceTimeout' });
    await otherClient.close();
    await owner.close();
    const again = await fx().client.acceptSession('excl', 'S');
    const [m] = await again.receiveMessages(1, { maxWaitTimeInMs: 500 });
    expect(m?.body).toBe(1);
    await again.completeMessage(m!);
    await again.close();
    await sender.close();
  });

  it('acceptNextSession waits for a session to get a message', async () => {
    const pending = fx().client.acceptNextSession('next');
    await sleep(300);
    const sender = fx().client.createSender('next');
    await sender.sendMessages({ body: 'wake', sessionId: 'late' });
    const receiver = await pending;
    expect(receiver.sessionId).toBe('late');
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 500 });
    expect(m?.body).toBe('wake');
    await receiver.completeMessage(m!);
    await receiver.close();
    await sender.close();
  });

  it('acceptNextSession times out with ServiceTimeout when no session has messages', async () => {
    const client = await startBrokerFixtureClient();
    const started = Date.now();
    const err = await client.acceptNextSession('empty').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'ServiceTimeout' });
    // The client's 1 s operation timeout bounds the wait (the SDK sends it in the attach).
    expect(Date.now() - started).toBeGreaterThan(900);
    expect(Date.now() - started).toBeLessThan(2_500);
    await client.close();
  });

  it('gets and sets session state', async () => {
    const sender = fx().client.createSender('state');
    await sender.sendMessages({ body: 1, sessionId: 'st' });
    const receiver = await fx().client.acceptSession('state', 'st');
    expect(await receiver.getSessionState()).toBeNull();
    await receiver.setSessionState({ page: 3, token: 'abc' });
    expect(await receiver.getSessionState()).toEqual({ page: 3, token: 'abc' });
    await receiver.close();
    // State outlives the lock.
    const again = await fx().client.acceptSession('state', 'st');
    expect(await again.getSessionState()).toEqual({ page: 3, token: 'abc' });
    await again.setSessionState(null);
    expect(await again.getSessionState()).toBeNull();
    await again.close();
    await sender.close();
  });

  it('renews the session lock explicitly and loses the session when it lapses', async () => {
    const sender = fx().client.createSender('renew');
    await sender.sendMessages({ body: 1, sessionId: 'r' });
    const receiver = await fx().client.acceptSession('renew', 'r', { maxAutoLockRenewalDurationInMs: 0 });
    const first = receiver.sessionLockedUntilUtc!.getTime();
    await sleep(300);
    const renewed = await receiver.renewSessionLock();
    expect(renewed.getTime()).toBeGreaterThan(first);
    await sleep(400);
    // 700 ms after accepting with a 600 ms lock: alive only thanks to the renewal.
    expect(fx().broker.counters('renew').sessions?.locked).toBe(1);
    await eventually(
      () => fx().broker.counters('renew').sessions?.locked,
      (n) => n === 0,
    );
    expect(fx().broker.counters('renew').sessions?.locked).toBe(0);
    await expect(receiver.renewSessionLock()).rejects.toBeDefined();
    await receiver.close();
    await sender.close();
  });

  it('releases the session and its locked messages when the receiver closes', async () => {
    const sender = fx().client.createSender('release');
    await sender.sendMessages([
      { body: 1, sessionId: 'x' },
      { body: 2, sessionId: 'x' },
    ]);
    const r1 = await fx().client.acceptSession('release', 'x');
    const got = await r1.receiveMessages(1, { maxWaitTimeInMs: 300 });
    expect(got).toHaveLength(1);
    await r1.close();
    const r2 = await fx().client.acceptNextSession('release');
    expect(r2.sessionId).toBe('x');
    const msgs = await r2.receiveMessages(5, { maxWaitTimeInMs: 300 });
    expect(msgs.map((m) => m.body)).toEqual([1, 2]);
    expect(msgs[0]?.deliveryCount).toBe(1);
    for (const m of msgs) await r2.completeMessage(m);
    await r2.close();
    await sender.close();
  });

  it('subscribe() on session receivers processes every session in order', async () => {
    const sender = fx().client.createSender('sub');
    const messages = [];
    for (let i = 0; i < 10; i++) {
      for (const s of ['s1', 's2', 's3']) messages.push({ body: i, sessionId: s });
    }
    await sender.sendMessages(messages);
    const seen = new Map<string, number[]>();
    const receivers = await Promise.all([1, 2, 3].map(() => fx().client.acceptNextSession('sub')));
    expect(new Set(receivers.map((r) => r.sessionId))).toEqual(new Set(['s1', 's2', 's3']));
    const errors: unknown[] = [];
    for (const r of receivers) {
      r.subscribe(
        {
          processMessage: async (m) => {
            const list = seen.get(m.sessionId!) ?? [];
            list.push(m.body as number);
            seen.set(m.sessionId!, list);
          },
          processError: async (args) => {
            errors.push(args.error);
          },
        },
        { autoCompleteMessages: true },
      );
    }
    await eventually(
      () => fx().broker.counters('sub'),
      (c) => c.completed === 30,
    );
    expect(errors).toEqual([]);
    for (const s of ['s1', 's2', 's3']) expect(seen.get(s)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(fx().broker.counters('sub')).toMatchObject({ active: 0, locked: 0, completed: 30 });
    for (const r of receivers) await r.close();
    await sender.close();
  });

  it('a failing subscribe handler abandons; the message is redelivered, then dead-lettered', async () => {
    const sender = fx().client.createSender('poison');
    await sender.sendMessages({ body: 'boom', sessionId: 'p', messageId: 'poison-1' });
    const receiver = await fx().client.acceptNextSession('poison');
    const deliveryCounts: number[] = [];
    receiver.subscribe({
      processMessage: async (m) => {
        deliveryCounts.push(m.deliveryCount ?? -1);
        throw new Error('handler failed');
      },
      processError: async () => undefined,
    });
    const dead = await eventually(
      () => fx().broker.deadLetters('poison'),
      (d) => d.length === 1,
    );
    expect(dead[0]).toMatchObject({
      messageId: 'poison-1',
      reason: 'MaxDeliveryCountExceeded',
      sessionId: 'p',
    });
    expect(deliveryCounts).toEqual([0, 1, 2]);
    expect(fx().broker.counters('poison')).toMatchObject({
      active: 0,
      locked: 0,
      abandoned: 3,
      deadLettered: 1,
    });
    await receiver.close();
    await sender.close();
  });

  /** A second client so that its failing attach does not disturb the shared one. */
  async function startBrokerFixtureClient(): Promise<import('@azure/service-bus').ServiceBusClient> {
    const { ServiceBusClient } = await import('@azure/service-bus');
    return new ServiceBusClient(fx().broker.connectionString, {
      retryOptions: { maxRetries: 0, timeoutInMs: 1_000 },
    });
  }
});
