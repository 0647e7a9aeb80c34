import {
  InProcessJobQueue,
  type DeliveredMessage,
  type MessageHandler,
} from '../../shared/queue/in-process.job-queue';
import { QueueError } from '../../shared/queue/queue.errors';

const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));
const msg = (messageId: string, sessionId?: string, body: unknown = { id: messageId }) => ({
  messageId,
  body,
  ...(sessionId !== undefined ? { sessionId } : {}),
});

describe('InProcessJobQueue', () => {
  let queue: InProcessJobQueue;
  afterEach(async () => {
    await queue.close();
  });

  it('runs one handler per session at a time, in order, while sessions run side by side', async () => {
    queue = new InProcessJobQueue();
    const active = new Map<string, number>();
    let maxPerSession = 0;
    let maxOverall = 0;
    let overall = 0;
    const seen = new Map<string, number[]>();
    const handler: MessageHandler = async (m) => {
      const session = m.sessionId as string;
      active.set(session, (active.get(session) ?? 0) + 1);
      overall += 1;
      maxPerSession = Math.max(maxPerSession, active.get(session) as number);
      maxOverall = Math.max(maxOverall, overall);
      // Random, interleaved durations: a broken lock would show as overlap or reordering.
      await tick(Math.floor(Math.random() * 4));
      seen.set(session, [...(seen.get(session) ?? []), (m.body as { n: number }).n]);
      active.set(session, (active.get(session) as number) - 1);
      overall -= 1;
    };
    queue.consume('jobs', handler, { concurrency: 8 });
    const sessions = ['a', 'b', 'c', 'd'];
    for (let n = 0; n < 25; n += 1) {
      await queue.send(
        'jobs',
        sessions.map((s) => msg(`${s}-${n}`, s, { n })),
      );
      if (n % 5 === 0) await tick(1);
    }
    await queue.idle();
    expect(maxPerSession).toBe(1);
    expect(maxOverall).toBeGreaterThan(1);
    expect(maxOverall).toBeLessThanOrEqual(4);
    for (const s of sessions) expect(seen.get(s)).toEqual(Array.from({ length: 25 }, (_, i) => i));
  });

  it('caps handlers at the concurrency, including messages without a session', async () => {
    queue = new InProcessJobQueue();
    let running = 0;
    let max = 0;
    queue.consume(
      'q',
      async () => {
        running += 1;
        max = Math.max(max, running);
        await tick(2);
        running -= 1;
      },
      { concurrency: 3 },
    );
    await queue.send(
      'q',
      Array.from({ length: 12 }, (_, i) => msg(`m${i}`)),
    );
    await queue.idle();
    expect(max).toBe(3);
  });

  it('drops a repeated message id within the duplicate window, accepts it after', async () => {
    let now = 1_000;
    queue = new InProcessJobQueue({ duplicateWindowMs: 60_000, now: () => now });
    const got: string[] = [];
    queue.consume('q', async (m) => void got.push(m.messageId));
    await queue.send('q', [msg('x', 's'), msg('x', 's'), msg('y', 's')]);
    await queue.idle();
    await queue.send('q', [msg('x', 's')]);
    await queue.idle();
    expect(got).toEqual(['x', 'y']);
    now += 60_001;
    await queue.send('q', [msg('x', 's')]);
    await queue.idle();
    expect(got).toEqual(['x', 'y', 'x']);
  });

  it('holds a scheduled message until its time, and idle() waits for it', async () => {
    queue = new InProcessJobQueue();
    const got: { id: string; at: number }[] = [];
    queue.consume('q', async (m) => void got.push({ id: m.messageId, at: Date.now() }));
    const start = Date.now();
    await queue.send('q', [{ ...msg('later'), scheduledAt: new Date(start + 60) }, msg('now')]);
    await queue.idle();
    expect(got.map((g) => g.id)).toEqual(['now', 'later']);
    expect((got[1] as { at: number }).at - start).toBeGreaterThanOrEqual(55);
  });

  it('redelivers a failed message before later ones of its session, then dead-letters it with the reason', async () => {
    queue = new InProcessJobQueue({ maxDeliveryCount: 3, redeliveryDelayMs: 1 });
    const deliveries: string[] = [];
    queue.consume(
      'q',
      async (m: DeliveredMessage) => {
        deliveries.push(`${m.messageId}#${m.deliveryCount}`);
        if (m.messageId === 'bad') throw new Error('handler exploded');
        if (m.messageId === 'flaky' && m.deliveryCount < 2) throw new Error('transient');
      },
      { concurrency: 4 },
    );
    await queue.send('q', [
      msg('flaky', 's'),
      msg('after-flaky', 's'),
      msg('bad', 't'),
      msg('after-bad', 't'),
    ]);
    await queue.idle();
    const order = (session: string[]) => deliveries.filter((d) => session.some((s) => d.startsWith(`${s}#`)));
    expect(order(['flaky', 'after-flaky'])).toEqual(['flaky#1', 'flaky#2', 'after-flaky#1']);
    expect(order(['bad', 'after-bad'])).toEqual(['bad#1', 'bad#2', 'bad#3', 'after-bad#1']);
    const dead = queue.deadLettered('q');
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({
      reason: 'MaxDeliveryCountExceeded',
      description: 'handler exploded',
      message: { messageId: 'bad', deliveryCount: 3, sessionId: 't' },
    });
  });

  it('lets a handler dead-letter a message explicitly', async () => {
    queue = new InProcessJobQueue();
    queue.consume('q', async (m, settle) => {
      if (m.messageId === 'poison') settle.deadLetter('InvalidMessage', 'body is not a pull job');
    });
    await queue.send('q', [msg('poison'), msg('fine')]);
    await queue.idle();
    expect(queue.deadLettered().map((d) => [d.message.messageId, d.reason, d.description])).toEqual([
      ['poison', 'InvalidMessage', 'body is not a pull job'],
    ]);
  });

  it('delivers a copy of the body, and messages a handler sends are part of idle()', async () => {
    queue = new InProcessJobQueue();
    const body = { n: 1 };
    const got: number[] = [];
    queue.consume('q', async (m) => {
      const n = (m.body as { n: number }).n;
      got.push(n);
      if (n < 3) {
        await tick(2);
        await queue.send('q', [msg(`n${n + 1}`, 's', { n: n + 1 })]);
      }
    });
    await queue.send('q', [msg('n1', 's', body)]);
    body.n = 99;
    await queue.idle();
    expect(got).toEqual([1, 2, 3]);
  });

  it('idle() resolves at once when empty; send after close and a message without id are refused', async () => {
    queue = new InProcessJobQueue();
    await expect(queue.idle()).resolves.toBeUndefined();
    await expect(queue.send('q', [{ messageId: '', body: 1 }])).rejects.toMatchObject({
      code: 'invalid_message',
    });
    await queue.close();
    const refused = queue.send('q', [msg('a')]);
    await expect(refused).rejects.toBeInstanceOf(QueueError);
    await expect(refused).rejects.toMatchObject({ code: 'closed', retryable: false });
  });
});
