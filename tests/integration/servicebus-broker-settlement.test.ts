import { useBrokerFixture, sleep, eventually } from './servicebus-broker.fixture';

describe('local Service Bus broker: settlement, locks, dead letters, scheduling', () => {
  const fx = useBrokerFixture({
    queues: [
      { name: 'abandon', maxDeliveryCount: 10 },
      { name: 'maxdc', maxDeliveryCount: 3 },
      { name: 'dlq' },
      { name: 'lock', lockDurationMs: 500 },
      { name: 'renew', lockDurationMs: 500 },
      { name: 'defer' },
      { name: 'sched' },
      { name: 'sched-plain' },
      { name: 'mgmt-settle' },
    ],
  });

  it('abandon puts the message back with delivery count + 1', async () => {
    const { sender, receiver } = fx().links('abandon');
    await sender.sendMessages({ body: 'again', messageId: 'ab-1' });
    const [first] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 1_000 });
    expect(first?.deliveryCount).toBe(0);
    await receiver.abandonMessage(first!);
    const [second] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 1_000 });
    expect(second?.messageId).toBe('ab-1');
    expect(second?.deliveryCount).toBe(1);
    expect(second?.sequenceNumber?.toNumber()).toBe(first?.sequenceNumber?.toNumber());
    expect(second?.lockToken).not.toBe(first?.lockToken);
    await receiver.completeMessage(second!);
    expect(fx().broker.counters('abandon')).toMatchObject({ abandoned: 1, completed: 1, active: 0 });
  });

  it('dead-letters with MaxDeliveryCountExceeded once deliveries reach maxDeliveryCount', async () => {
    const { sender, receiver } = fx().links('maxdc');
    await sender.sendMessages({ body: { poison: true }, messageId: 'poison-1' });
    const counts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 1_000 });
      counts.push(m!.deliveryCount!);
      await receiver.abandonMessage(m!);
    }
    expect(counts).toEqual([0, 1, 2]);
    expect(await receiver.receiveMessages(1, { maxWaitTimeInMs: 200 })).toEqual([]);
    expect(fx().broker.counters('maxdc')).toMatchObject({ active: 0, deadLettered: 1 });

    const dlq = fx().client.createReceiver('maxdc', { subQueueType: 'deadLetter' });
    const [dead] = await dlq.receiveMessages(1, { maxWaitTimeInMs: 1_000 });
    expect(dead?.messageId).toBe('poison-1');
    expect(dead?.body).toEqual({ poison: true });
    expect(dead?.deadLetterReason).toBe('MaxDeliveryCountExceeded');
    expect(dead?.deadLetterSource).toBe('maxdc');
    await dlq.completeMessage(dead!);
    expect(fx().broker.counters('maxdc').deadLettered).toBe(0);
    await dlq.close();
  });

  it('explicit dead-letter keeps reason, description and extra properties, readable from the DLQ', async () => {
    const { sender, receiver } = fx().links('dlq');
    await sender.sendMessages({
      body: 'bad row',
      messageId: 'bad-1',
      applicationProperties: { entity: 'contact' },
    });
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 1_000 });
    await receiver.deadLetterMessage(m!, {
      deadLetterReason: 'ValidationFailed',
      deadLetterErrorDescription: 'emailaddress1 is not an email',
    });
    expect(fx().broker.counters('dlq')).toMatchObject({ active: 0, deadLettered: 1 });
    expect(fx().broker.deadLetters('dlq')).toEqual([
      expect.objectContaining({
        messageId: 'bad-1',
        reason: 'ValidationFailed',
        description: 'emailaddress1 is not an email',
        body: 'bad row',
      }),
    ]);

    const dlq = fx().client.createReceiver('dlq', { subQueueType: 'deadLetter' });
    const peeked = await dlq.peekMessages(5);
    expect(peeked).toHaveLength(1);
    const [dead] = await dlq.receiveMessages(1, { maxWaitTimeInMs: 1_000 });
    expect(dead?.deadLetterReason).toBe('ValidationFailed');
    expect(dead?.deadLetterErrorDescription).toBe('emailaddress1 is not an email');
    expect(dead?.applicationProperties).toMatchObject({ entity: 'contact' });
    await dlq.completeMessage(dead!);
    await dlq.close();
  });

  it('a lock that expires makes the message available again with delivery count + 1', async () => {
    const { sender, receiver } = fx().links('lock', { maxAutoLockRenewalDurationInMs: 0 });
    await sender.sendMessages({ body: 'slow', messageId: 'lock-1' });
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 1_000 });
    const lockedFor = m!.lockedUntilUtc!.getTime() - Date.now();
    expect(lockedFor).toBeGreaterThan(300);
    expect(lockedFor).toBeLessThanOrEqual(600);
    expect(fx().broker.counters('lock').locked).toBe(1);
    await eventually(
      () => fx().broker.counters('lock').active,
      (n) => n === 1,
    );
    await expect(receiver.completeMessage(m!)).rejects.toMatchObject({ code: 'MessageLockLost' });
    const [again] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 1_000 });
    expect(again?.messageId).toBe('lock-1');
    expect(again?.deliveryCount).toBe(1);
    await receiver.completeMessage(again!);
  });

  it('renewing the lock keeps the message locked past its original lock time', async () => {
    const { sender, receiver } = fx().links('renew', { maxAutoLockRenewalDurationInMs: 0 });
    await sender.sendMessages({ body: 'long job' });
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 1_000 });
    const firstUntil = m!.lockedUntilUtc!.getTime();
    for (let i = 0; i < 3; i++) {
      await sleep(250);
      const until = await receiver.renewMessageLock(m!);
      expect(until.getTime()).toBeGreaterThan(firstUntil);
    }
    // 750 ms after receipt with a 500 ms lock: still ours thanks to the renewals.
    expect(fx().broker.counters('renew')).toMatchObject({ locked: 1, active: 0 });
    await receiver.completeMessage(m!);
    expect(fx().broker.counters('renew')).toMatchObject({ locked: 0, completed: 1 });
  });

  it('the SDK auto-renews locks through the management link', async () => {
    const receiver = fx().receiver('renew', { maxAutoLockRenewalDurationInMs: 5_000 });
    const sender = fx().sender('renew');
    await sender.sendMessages({ body: 'auto' });
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 1_000 });
    await sleep(900);
    await receiver.completeMessage(m!);
    expect(fx().broker.counters('renew').abandoned).toBe(0);
  });

  it('defers a message and receives it by sequence number, settling via the management link', async () => {
    const { sender, receiver } = fx().links('defer');
    await sender.sendMessages([{ body: 'later' }, { body: 'now' }]);
    const [first, second] = await receiver.receiveMessages(2, { maxWaitTimeInMs: 1_000 });
    await receiver.deferMessage(first!);
    await receiver.completeMessage(second!);
    expect(fx().broker.counters('defer')).toMatchObject({ deferred: 1, active: 0 });
    expect(await receiver.receiveMessages(1, { maxWaitTimeInMs: 200 })).toEqual([]);
    const [deferred] = await receiver.receiveDeferredMessages(first!.sequenceNumber!);
    expect(deferred?.body).toBe('later');
    expect(deferred?.lockToken).toBeDefined();
    await receiver.completeMessage(deferred!);
    expect(fx().broker.counters('defer')).toMatchObject({ deferred: 0, locked: 0, completed: 2 });
  });

  it('settles through update-disposition when the receiving link is gone', async () => {
    const sender = fx().client.createSender('mgmt-settle');
    await sender.sendMessages({ body: 'x' });
    const receiver = fx().client.createReceiver('mgmt-settle');
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 1_000 });
    // Another receiver on the same entity settles a message it did not receive: the SDK uses $management.
    const other = fx().client.createReceiver('mgmt-settle');
    await other.receiveMessages(1, { maxWaitTimeInMs: 100 });
    await receiver.close();
    await other.deadLetterMessage(m!, { deadLetterReason: 'ViaManagement', deadLetterErrorDescription: 'd' });
    expect(fx().broker.deadLetters('mgmt-settle')[0]).toMatchObject({
      reason: 'ViaManagement',
      description: 'd',
    });
    await other.close();
    await sender.close();
  });

  it('scheduleMessages returns sequence numbers, activates on time, and cancel removes them', async () => {
    const { sender, receiver } = fx().links('sched');
    const at = new Date(Date.now() + 300);
    const seqs = await sender.scheduleMessages(
      [
        { body: 'keep', messageId: 'k' },
        { body: 'cancel', messageId: 'c' },
      ],
      at,
    );
    expect(seqs.map((s) => s.toNumber())).toEqual([1, 2]);
    expect(fx().broker.counters('sched')).toMatchObject({ scheduled: 2, active: 0 });
    const peeked = await receiver.peekMessages(5);
    expect(peeked.map((p) => p.state)).toEqual(['scheduled', 'scheduled']);
    await sender.cancelScheduledMessages(seqs[1]!);
    expect(fx().broker.counters('sched')).toMatchObject({ scheduled: 1 });

    expect(await receiver.receiveMessages(1, { maxWaitTimeInMs: 100 })).toEqual([]);
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    expect(Date.now()).toBeGreaterThanOrEqual(at.getTime() - 5);
    expect(m?.body).toBe('keep');
    expect(m?.scheduledEnqueueTimeUtc?.getTime()).toBe(at.getTime());
    await receiver.completeMessage(m!);
    await sleep(350);
    expect(fx().broker.counters('sched')).toMatchObject({ scheduled: 0, active: 0, locked: 0 });
  });

  it('honours scheduledEnqueueTimeUtc on a plain send', async () => {
    const { sender, receiver } = fx().links('sched-plain');
    const at = new Date(Date.now() + 300);
    await sender.sendMessages({ body: 'delayed', scheduledEnqueueTimeUtc: at });
    expect(fx().broker.counters('sched-plain')).toMatchObject({ scheduled: 1, active: 0 });
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    expect(m?.body).toBe('delayed');
    expect(Date.now()).toBeGreaterThanOrEqual(at.getTime() - 5);
    await receiver.completeMessage(m!);
  });

  it('subscribe() streams messages with autoComplete', async () => {
    const sender = fx().client.createSender('abandon');
    const receiver = fx().client.createReceiver('abandon');
    const seen: number[] = [];
    const done = new Promise<void>((resolve, reject) => {
      const sub = receiver.subscribe(
        {
          processMessage: async (m) => {
            seen.push(m.body as number);
            if (seen.length === 20) {
              await sub.close();
              resolve();
            }
          },
          processError: async (args) => reject(args.error),
        },
        { maxConcurrentCalls: 4 },
      );
    });
    await sender.sendMessages(Array.from({ length: 20 }, (_, i) => ({ body: i })));
    await done;
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    await eventually(
      () => fx().broker.counters('abandon'),
      (c) => c.active === 0 && c.locked === 0,
    );
    expect(fx().broker.counters('abandon')).toMatchObject({ active: 0, locked: 0 });
    await receiver.close();
    await sender.close();
  });
});
