import { isServiceBusError } from '@azure/service-bus';
import { startBrokerFixture, useBrokerFixture, sleep } from './servicebus-broker.fixture';

describe('local Service Bus broker: send, receive, properties', () => {
  const fx = useBrokerFixture({
    queues: [
      { name: 'basic' },
      { name: 'batch' },
      { name: 'props' },
      { name: 'rnd' },
      { name: 'peek' },
      { name: 'dedupe', duplicateDetectionWindowMs: 60_000 },
      { name: 'drain' },
      { name: 'ttl', defaultMessageTtlMs: 200, deadLetteringOnMessageExpiration: true },
      { name: 'big' },
    ],
  });

  it('sends one message and receives it peek-locked with broker annotations, then completes it', async () => {
    const { sender, receiver } = fx().links('basic');
    const before = Date.now();
    await sender.sendMessages({ body: { hello: 'world' }, messageId: 'one' });
    expect(fx().broker.counters('basic')).toMatchObject({ active: 1, sent: 1 });

    const [msg] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    expect(msg).toBeDefined();
    expect(msg?.body).toEqual({ hello: 'world' });
    expect(msg?.messageId).toBe('one');
    expect(msg?.sequenceNumber?.toNumber()).toBe(1);
    expect(msg?.deliveryCount).toBe(0);
    expect(msg?.lockToken).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(msg?.enqueuedTimeUtc?.getTime()).toBeGreaterThanOrEqual(before - 5);
    expect(msg?.lockedUntilUtc?.getTime()).toBeGreaterThan(Date.now() + 20_000);
    expect(fx().broker.counters('basic')).toMatchObject({ active: 0, locked: 1 });

    await receiver.completeMessage(msg!);
    expect(fx().broker.counters('basic')).toMatchObject({ active: 0, locked: 0, completed: 1 });
  });

  it('accepts a batch built with createMessageBatch and keeps the order', async () => {
    const sender = fx().sender('batch');
    const batch = await sender.createMessageBatch();
    for (let i = 0; i < 50; i++) expect(batch.tryAddMessage({ body: { i } })).toBe(true);
    await sender.sendMessages(batch);
    await sender.sendMessages([{ body: { i: 50 } }, { body: { i: 51 } }]);
    expect(fx().broker.counters('batch').active).toBe(52);

    const receiver = fx().receiver('batch', { receiveMode: 'receiveAndDelete' });
    const got: number[] = [];
    while (got.length < 52) {
      const msgs = await receiver.receiveMessages(52 - got.length, { maxWaitTimeInMs: 1_000 });
      if (msgs.length === 0) break;
      for (const m of msgs) got.push((m.body as { i: number }).i);
    }
    expect(got).toEqual(Array.from({ length: 52 }, (_, i) => i));
    // Messages without an id get one from the broker, as on Service Bus.
  });

  it('round-trips message properties, application properties and body types', async () => {
    const { sender, receiver } = fx().links('props');
    const when = new Date('2024-05-06T07:08:09.000Z');
    await sender.sendMessages([
      {
        body: { nested: { list: [1, 2, 3], flag: true } },
        messageId: 'json-1',
        correlationId: 'corr-1',
        subject: 'subject-1',
        contentType: 'application/json',
        timeToLive: 60_000,
        partitionKey: 'pk-ignored',
        applicationProperties: { str: 's', int: 42, neg: -7, float: 1.5, bool: false, when },
      },
      { body: 'plain string', messageId: 'str-1' },
      { body: Buffer.from([0, 1, 2, 250]), messageId: 'buf-1', contentType: 'application/octet-stream' },
    ]);
    const msgs = await receiver.receiveMessages(3, { maxWaitTimeInMs: 2_000 });
    expect(msgs).toHaveLength(3);
    const [json, str, buf] = msgs;
    expect(json?.body).toEqual({ nested: { list: [1, 2, 3], flag: true } });
    expect(json?.messageId).toBe('json-1');
    expect(json?.correlationId).toBe('corr-1');
    expect(json?.subject).toBe('subject-1');
    expect(json?.contentType).toBe('application/json');
    expect(json?.timeToLive).toBe(60_000);
    expect(json?.expiresAtUtc?.getTime()).toBe((json?.enqueuedTimeUtc?.getTime() ?? 0) + 60_000);
    expect(json?.applicationProperties).toEqual({
      str: 's',
      int: 42,
      neg: -7,
      float: 1.5,
      bool: false,
      when: when.getTime(),
    });
    expect(str?.body).toBe('plain string');
    expect(Buffer.isBuffer(buf?.body)).toBe(true);
    expect([...(buf?.body as Buffer)]).toEqual([0, 1, 2, 250]);
    expect(buf?.contentType).toBe('application/octet-stream');
    for (const m of msgs) await receiver.completeMessage(m);
  });

  it('receiveAndDelete removes messages on delivery', async () => {
    const sender = fx().sender('rnd');
    await sender.sendMessages([{ body: 1 }, { body: 2 }]);
    const receiver = fx().receiver('rnd', { receiveMode: 'receiveAndDelete' });
    const msgs = await receiver.receiveMessages(2, { maxWaitTimeInMs: 1_000 });
    expect(msgs.map((m) => m.body)).toEqual([1, 2]);
    expect(msgs[0]?.lockToken).toBeUndefined();
    expect(fx().broker.counters('rnd')).toMatchObject({ active: 0, locked: 0, completed: 2 });
  });

  it('peeks without locking, in sequence order, page by page', async () => {
    const sender = fx().sender('peek');
    await sender.sendMessages([1, 2, 3, 4, 5].map((n) => ({ body: n })));
    const receiver = fx().receiver('peek');
    const first = await receiver.peekMessages(3);
    const second = await receiver.peekMessages(3);
    expect(first.map((m) => m.body)).toEqual([1, 2, 3]);
    expect(second.map((m) => m.body)).toEqual([4, 5]);
    expect(first[0]?.lockToken).toBeUndefined();
    expect(await receiver.peekMessages(3)).toEqual([]);
    expect(fx().broker.counters('peek')).toMatchObject({ active: 5, locked: 0 });
  });

  it('drops duplicates by message id within the window and counts them', async () => {
    const sender = fx().sender('dedupe');
    await sender.sendMessages({ body: 'a', messageId: 'same' });
    await sender.sendMessages({ body: 'b', messageId: 'same' });
    const batch = await sender.createMessageBatch();
    batch.tryAddMessage({ body: 'c', messageId: 'same' });
    batch.tryAddMessage({ body: 'd', messageId: 'other' });
    await sender.sendMessages(batch);
    expect(fx().broker.counters('dedupe')).toMatchObject({ active: 2, duplicatesDropped: 2, sent: 2 });
    const receiver = fx().receiver('dedupe', { receiveMode: 'receiveAndDelete' });
    const msgs = await receiver.receiveMessages(5, { maxWaitTimeInMs: 500 });
    expect(msgs.map((m) => m.body)).toEqual(['a', 'd']);
  });

  it('drains credit: receiveMessages returns what is there after maxWaitTimeInMs', async () => {
    const { sender, receiver } = fx().links('drain');
    const started = Date.now();
    expect(await receiver.receiveMessages(10, { maxWaitTimeInMs: 300 })).toEqual([]);
    expect(Date.now() - started).toBeLessThan(3_000);
    await sender.sendMessages([{ body: 1 }, { body: 2 }]);
    const got = await receiver.receiveMessages(10, { maxWaitTimeInMs: 300 });
    expect(got.map((m) => m.body)).toEqual([1, 2]);
    // After the drain the link has no credit left: a new message waits for the next request.
    await sender.sendMessages({ body: 3 });
    await sleep(100);
    expect(fx().broker.counters('drain')).toMatchObject({ active: 1, locked: 2 });
    const next = await receiver.receiveMessages(10, { maxWaitTimeInMs: 300 });
    expect(next.map((m) => m.body)).toEqual([3]);
    for (const m of [...got, ...next]) await receiver.completeMessage(m);
  });

  it('expires messages by TTL and dead-letters them when the queue says so', async () => {
    const sender = fx().sender('ttl');
    await sender.sendMessages({ body: 'short-lived', messageId: 'ttl-1' });
    await sleep(300);
    const receiver = fx().receiver('ttl');
    expect(await receiver.receiveMessages(1, { maxWaitTimeInMs: 300 })).toEqual([]);
    const dead = fx().broker.deadLetters('ttl');
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ messageId: 'ttl-1', reason: 'TTLExpiredException', body: 'short-lived' });
  });

  it('fails with MessagingEntityNotFound for unknown queues (send and receive)', async () => {
    const sender = fx().sender('does-not-exist');
    await expect(sender.sendMessages({ body: 1 })).rejects.toMatchObject({ code: 'MessagingEntityNotFound' });
    const receiver = fx().receiver('does-not-exist');
    const err = await receiver.receiveMessages(1, { maxWaitTimeInMs: 500 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isServiceBusError(err) && err.code).toBe('MessagingEntityNotFound');
  });

  it('rejects a message above the advertised max size with MessageSizeExceeded', async () => {
    const sender = fx().client.createSender('big');
    await expect(sender.sendMessages({ body: Buffer.alloc(300 * 1024) })).rejects.toMatchObject({
      code: 'MessageSizeExceeded',
    });
    await sender.close();
  });

  it('close() with connected clients returns promptly and leaves the clients closable', async () => {
    const other = await startBrokerFixture(
      { queues: [{ name: 'q' }, { name: 's', requiresSession: true }] },
      { retryOptions: { maxRetries: 0, timeoutInMs: 2_000, retryDelayInMs: 50, maxRetryDelayInMs: 50 } },
    );
    const receiver = other.client.createReceiver('q');
    try {
      const settled = (p: Promise<unknown>): Promise<string> =>
        p.then(
          () => 'resolved',
          () => 'rejected',
        );
      await receiver.receiveMessages(1, { maxWaitTimeInMs: 50 });
      const receiving = settled(receiver.receiveMessages(5, { maxWaitTimeInMs: 10_000 }));
      const waiting = settled(other.client.acceptNextSession('s'));
      await sleep(100);
      const started = Date.now();
      await other.broker.close();
      expect(Date.now() - started).toBeLessThan(1_000);
      // Both pending operations end (one way or the other) long before their own timeouts.
      expect(await waiting).toBe('rejected');
      expect(await receiving).toMatch(/resolved|rejected/);
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      const closing = Date.now();
      await receiver.close();
      await other.client.close();
      expect(Date.now() - closing).toBeLessThan(2_000);
    }
  });

  it('queues created at runtime are usable and names are listed', async () => {
    fx().broker.createQueue({ name: 'late' });
    expect(fx().broker.queueNames).toContain('late');
    expect(() => fx().broker.createQueue({ name: 'late' })).toThrow(/already exists/);
    const sender = fx().client.createSender('late');
    await sender.sendMessages({ body: 'x' });
    expect(fx().broker.counters('late').active).toBe(1);
    await sender.close();
  });
});
