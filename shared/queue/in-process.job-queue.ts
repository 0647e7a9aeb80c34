import type { JobQueue, OutgoingMessage } from './job-queue.port';
import { QueueError } from './queue.errors';

/** A message as a handler sees it: what was sent plus delivery facts. */
export interface DeliveredMessage {
  readonly queue: string;
  readonly body: unknown;
  readonly messageId: string;
  readonly sessionId: string | undefined;
  readonly correlationId: string | undefined;
  readonly subject: string | undefined;
  /** 1 on the first delivery, as in Service Bus. */
  readonly deliveryCount: number;
  readonly sequenceNumber: number;
  readonly enqueuedAt: Date;
}

export interface DeadLetter {
  message: DeliveredMessage;
  reason: string;
  description: string;
  at: Date;
}

export interface SettleActions {
  /** Moves the message to the dead-letter list at once, with the reason, instead of completing it. */
  deadLetter(reason: string, description?: string): void;
}

/** Resolving completes the message; throwing abandons it (redelivered until maxDeliveryCount). */
export type MessageHandler = (message: DeliveredMessage, settle: SettleActions) => Promise<void>;

export interface ConsumeOptions {
  /** Handlers running at once on this queue; a session still has at most one. */
  concurrency?: number;
}

export interface Consumer {
  /** Stops taking new messages and waits for the running handlers. */
  close(): Promise<void>;
}

export interface InProcessJobQueueOptions {
  /** Service Bus default: 10. */
  maxDeliveryCount?: number;
  /** Service Bus default duplicate detection history: 10 minutes. */
  duplicateWindowMs?: number;
  /**
   * Wait before redelivering a failed message, doubled per delivery. The session stays locked
   * meanwhile, so later messages of the session never overtake the failed one.
   */
  redeliveryDelayMs?: number;
  maxRedeliveryDelayMs?: number;
  now?: () => number;
}

interface Envelope {
  queue: string;
  message: OutgoingMessage;
  sequenceNumber: number;
  enqueuedAt: number;
  deliveryCount: number;
}

interface QueueState {
  name: string;
  /** Available messages without a session, in order. */
  plain: Envelope[];
  /** Available messages per session, in order; a session is served by one handler at a time. */
  sessions: Map<string, Envelope[]>;
  lockedSessions: Set<string>;
  /** Message id -> time it was accepted, for duplicate detection. */
  seen: Map<string, number>;
  consumer: { handler: MessageHandler; concurrency: number; running: number; closed: boolean } | undefined;
}

/**
 * The job queue of the CLI and benchmarks: the Service Bus semantics the sync relies on, in one
 * process. Sessions give one handler per session at a time with messages in order; duplicate
 * detection drops a repeated message id within the window; scheduled messages wait for their time;
 * a failing handler gets the message again until maxDeliveryCount, then it is dead-lettered.
 */
export class InProcessJobQueue implements JobQueue {
  private readonly queues = new Map<string, QueueState>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();
  private readonly deadLetters: DeadLetter[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  private readonly maxDeliveryCount: number;
  private readonly duplicateWindowMs: number;
  private readonly redeliveryDelayMs: number;
  private readonly maxRedeliveryDelayMs: number;
  private readonly now: () => number;
  private sequence = 0;
  /** Messages scheduled for later or waiting to be redelivered. */
  private waiting = 0;
  private closed = false;

  constructor(options: InProcessJobQueueOptions = {}) {
    this.maxDeliveryCount = Math.max(1, options.maxDeliveryCount ?? 10);
    this.duplicateWindowMs = options.duplicateWindowMs ?? 10 * 60_000;
    this.redeliveryDelayMs = Math.max(0, options.redeliveryDelayMs ?? 0);
    this.maxRedeliveryDelayMs = options.maxRedeliveryDelayMs ?? 30_000;
    this.now = options.now ?? Date.now;
  }

  async send(queue: string, messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.closed) throw new QueueError('closed', `queue ${queue} is closed`);
    for (const message of messages) {
      if (typeof message.messageId !== 'string' || message.messageId === '') {
        throw new QueueError('invalid_message', `a message sent to ${queue} has no messageId`);
      }
    }
    const state = this.state(queue);
    const now = this.now();
    for (const [id, at] of state.seen) {
      if (now - at < this.duplicateWindowMs) break;
      state.seen.delete(id);
    }
    for (const message of messages) {
      const seenAt = state.seen.get(message.messageId);
      if (seenAt !== undefined && now - seenAt < this.duplicateWindowMs) continue;
      // Re-inserting keeps the map ordered by acceptance time, which the pruning above relies on.
      state.seen.delete(message.messageId);
      state.seen.set(message.messageId, now);
      const envelope: Envelope = {
        queue,
        // A copy, as a broker would hold: the sender mutating its object later changes nothing.
        message: { ...message, body: structuredClone(message.body) },
        sequenceNumber: ++this.sequence,
        enqueuedAt: now,
        deliveryCount: 0,
      };
      const delay = message.scheduledAt === undefined ? 0 : message.scheduledAt.getTime() - now;
      if (delay > 0) {
        this.waiting += 1;
        this.later(delay, () => {
          this.waiting -= 1;
          this.enqueue(state, envelope, 'back');
        });
      } else {
        this.enqueue(state, envelope, 'back');
      }
    }
    this.pump(state);
  }

  /** Starts handling messages of a queue; one consumer per queue. */
  consume(queue: string, handler: MessageHandler, options: ConsumeOptions = {}): Consumer {
    if (this.closed) throw new QueueError('closed', `queue ${queue} is closed`);
    const state = this.state(queue);
    if (state.consumer !== undefined && !state.consumer.closed) {
      throw new QueueError('invalid_message', `queue ${queue} already has a consumer`, { retryable: false });
    }
    const consumer = {
      handler,
      concurrency: Math.max(1, options.concurrency ?? 1),
      running: 0,
      closed: false,
    };
    state.consumer = consumer;
    this.pump(state);
    return {
      close: async () => {
        consumer.closed = true;
        await Promise.allSettled([...this.running]);
      },
    };
  }

  /** Resolves when no message is available, scheduled, waiting for redelivery or being handled. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Messages available now (not scheduled, not running). */
  pending(queue?: string): number {
    let count = 0;
    for (const state of this.queues.values()) {
      if (queue !== undefined && state.name !== queue) continue;
      count += state.plain.length;
      for (const list of state.sessions.values()) count += list.length;
    }
    return count;
  }

  deadLettered(queue?: string): DeadLetter[] {
    return this.deadLetters.filter((d) => queue === undefined || d.message.queue === queue);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const state of this.queues.values()) if (state.consumer) state.consumer.closed = true;
    await Promise.allSettled([...this.running]);
    // Nothing will run any more: whoever waits for idle must not hang.
    this.waiting = 0;
    for (const state of this.queues.values()) {
      state.plain.length = 0;
      state.sessions.clear();
    }
    this.notifyIdle();
  }

  private state(queue: string): QueueState {
    let state = this.queues.get(queue);
    if (state === undefined) {
      state = {
        name: queue,
        plain: [],
        sessions: new Map(),
        lockedSessions: new Set(),
        seen: new Map(),
        consumer: undefined,
      };
      this.queues.set(queue, state);
    }
    return state;
  }

  private enqueue(state: QueueState, envelope: Envelope, where: 'front' | 'back'): void {
    const sessionId = envelope.message.sessionId;
    let list = state.plain;
    if (sessionId !== undefined) {
      list = state.sessions.get(sessionId) ?? [];
      state.sessions.set(sessionId, list);
    }
    if (where === 'front') list.unshift(envelope);
    else list.push(envelope);
    this.pump(state);
  }

  /** The available message with the lowest sequence number whose session is free. */
  private take(state: QueueState): Envelope | undefined {
    let best: Envelope | undefined;
    let bestSession: string | undefined;
    const head = state.plain[0];
    if (head !== undefined) best = head;
    for (const [sessionId, list] of state.sessions) {
      const first = list[0];
      if (first === undefined || state.lockedSessions.has(sessionId)) continue;
      if (best === undefined || first.sequenceNumber < best.sequenceNumber) {
        best = first;
        bestSession = sessionId;
      }
    }
    if (best === undefined) return undefined;
    if (bestSession === undefined) {
      state.plain.shift();
    } else {
      const list = state.sessions.get(bestSession) as Envelope[];
      list.shift();
      if (list.length === 0) state.sessions.delete(bestSession);
      state.lockedSessions.add(bestSession);
    }
    return best;
  }

  private pump(state: QueueState): void {
    const consumer = state.consumer;
    if (consumer === undefined || this.closed) {
      this.notifyIdle();
      return;
    }
    while (!consumer.closed && consumer.running < consumer.concurrency) {
      const envelope = this.take(state);
      if (envelope === undefined) break;
      consumer.running += 1;
      const task = this.deliver(state, envelope, consumer.handler).finally(() => {
        consumer.running -= 1;
        this.running.delete(task);
        this.pump(state);
      });
      this.running.add(task);
    }
    this.notifyIdle();
  }

  private async deliver(state: QueueState, envelope: Envelope, handler: MessageHandler): Promise<void> {
    envelope.deliveryCount += 1;
    const { message } = envelope;
    const delivered: DeliveredMessage = {
      queue: envelope.queue,
      body: structuredClone(message.body),
      messageId: message.messageId,
      sessionId: message.sessionId,
      correlationId: message.correlationId,
      subject: message.subject,
      deliveryCount: envelope.deliveryCount,
      sequenceNumber: envelope.sequenceNumber,
      enqueuedAt: new Date(envelope.enqueuedAt),
    };
    let deadLetter: { reason: string; description: string } | undefined;
    const settle: SettleActions = {
      deadLetter: (reason, description = '') => {
        deadLetter ??= { reason, description };
      },
    };
    let failure: unknown;
    let failed = false;
    try {
      await handler(delivered, settle);
    } catch (error) {
      failed = true;
      failure = error;
    }
    const sessionId = message.sessionId;
    if (!failed || deadLetter !== undefined) {
      if (deadLetter !== undefined) this.addDeadLetter(delivered, deadLetter.reason, deadLetter.description);
      if (sessionId !== undefined) state.lockedSessions.delete(sessionId);
      return;
    }
    const description = failure instanceof Error ? failure.message : String(failure);
    if (envelope.deliveryCount >= this.maxDeliveryCount || this.closed) {
      this.addDeadLetter(delivered, 'MaxDeliveryCountExceeded', description);
      if (sessionId !== undefined) state.lockedSessions.delete(sessionId);
      return;
    }
    const delay = Math.min(
      this.maxRedeliveryDelayMs,
      this.redeliveryDelayMs * 2 ** (envelope.deliveryCount - 1),
    );
    const redeliver = () => {
      if (sessionId !== undefined) state.lockedSessions.delete(sessionId);
      // Back at the head: an abandoned message is the next one its session receives.
      this.enqueue(state, envelope, 'front');
    };
    if (delay <= 0) {
      redeliver();
      return;
    }
    this.waiting += 1;
    this.later(delay, () => {
      this.waiting -= 1;
      redeliver();
    });
  }

  private addDeadLetter(message: DeliveredMessage, reason: string, description: string): void {
    this.deadLetters.push({ message, reason, description, at: new Date(this.now()) });
  }

  private later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
  }

  private isIdle(): boolean {
    if (this.waiting > 0 || this.running.size > 0) return false;
    for (const state of this.queues.values()) {
      if (state.plain.length > 0 || state.sessions.size > 0) return false;
    }
    return true;
  }

  private notifyIdle(): void {
    if (this.idleWaiters.length === 0 || !this.isIdle()) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}
