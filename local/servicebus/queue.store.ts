import { randomUUID } from 'node:crypto';
import { types, type Typed } from 'rhea';
import { ServiceBusBrokerError } from './broker.errors';
import type { BrokerClock, QueueDefinition } from './broker.schema';
import { encodeMessage, type ParsedMessage } from './message.codec';
import { PriorityQueue } from './priority.queue';

export type MessageState = 'scheduled' | 'active' | 'locked' | 'deferred' | 'removed';

/** Message states as Service Bus reports them in x-opt-message-state. */
const STATE_CODE: Record<MessageState, number> = {
  active: 0,
  locked: 0,
  removed: 0,
  deferred: 1,
  scheduled: 2,
};

export interface StoredMessage {
  seq: number;
  parsed: ParsedMessage;
  enqueuedAt: number;
  scheduledAt: number | undefined;
  expiresAt: number | undefined;
  /** Header delivery-count of the next delivery: how many deliveries went before. */
  deliveryCount: number;
  state: MessageState;
  sessionId: string | undefined;
  lockToken: string | undefined;
  lockedUntil: number | undefined;
  lockTimer: NodeJS.Timeout | undefined;
  /** Bumped on every state change so stale heap entries can be recognised and skipped. */
  generation: number;
}

interface HeapEntry {
  msg: StoredMessage;
  generation: number;
  key: number;
}

/** A receiving link as the store sees it; the server adapts rhea senders to this. */
export interface Consumer {
  readonly receiveAndDelete: boolean;
  /** Deliveries the consumer can take right now. */
  credit(): number;
  deliver(payload: Buffer, lockToken: string | undefined): void;
  /** The broker took the session away (lock expired); the link must be detached. */
  sessionLost?(error: ServiceBusBrokerError): void;
}

interface SessionEntry {
  id: string;
  available: PriorityQueue<HeapEntry>;
  availableCount: number;
  locked: Set<StoredMessage>;
  owner: Consumer | undefined;
  lockedUntil: number;
  lockTimer: NodeJS.Timeout | undefined;
  state: Buffer | undefined;
  deferredCount: number;
}

interface SessionWaiter {
  consumer: Consumer;
  timer: NodeJS.Timeout;
  resolve: (sessionId: string | undefined) => void;
}

export type Disposition =
  | { kind: 'complete' }
  | { kind: 'abandon'; propertiesToModify?: Record<string, unknown> }
  | { kind: 'defer'; propertiesToModify?: Record<string, unknown> }
  | {
      kind: 'deadLetter';
      reason?: string;
      description?: string;
      propertiesToModify?: Record<string, unknown>;
    };

export interface QueueCounters {
  active: number;
  scheduled: number;
  deadLettered: number;
  locked: number;
  deferred: number;
  sent: number;
  completed: number;
  abandoned: number;
  duplicatesDropped: number;
  sessions?: { withMessages: number; locked: number };
}

export interface PeekedMessage {
  seq: number;
  state: MessageState;
  payload: Buffer;
  msg: StoredMessage;
}

const bySeq = (a: HeapEntry, b: HeapEntry): boolean => a.key < b.key;
const byTime = (a: HeapEntry, b: HeapEntry): boolean =>
  a.key < b.key || (a.key === b.key && a.msg.seq < b.msg.seq);

/** Longest single timer; Node clamps larger delays to 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * One queue (or its dead-letter sub-queue): storage, locks, sessions, scheduling, duplicate
 * detection. Pure in-memory state machine; it never touches AMQP links directly.
 */
export class QueueEntity {
  readonly messages = new Map<number, StoredMessage>();
  private readonly available = new PriorityQueue<HeapEntry>(bySeq);
  private readonly scheduledHeap = new PriorityQueue<HeapEntry>(byTime);
  private scheduleTimer: NodeJS.Timeout | undefined;
  private scheduleTimerAt = Infinity;
  private readonly locks = new Map<string, StoredMessage>();
  private readonly duplicates = new Map<string, number>();
  private readonly consumers: Consumer[] = [];
  private nextConsumer = 0;
  private readonly sessions = new Map<string, SessionEntry>();
  /** Unowned sessions that have messages, in the order they became ready. */
  private readonly readySessions = new Set<string>();
  private readonly sessionWaiters: SessionWaiter[] = [];
  private readonly ownedSessions = new Map<Consumer, SessionEntry>();
  private nextSeq = 1;
  private closed = false;
  private readonly count = {
    active: 0,
    scheduled: 0,
    locked: 0,
    deferred: 0,
    sent: 0,
    completed: 0,
    abandoned: 0,
    duplicatesDropped: 0,
  };

  constructor(
    readonly path: string,
    readonly def: QueueDefinition,
    private readonly clock: BrokerClock,
    /** Where dead letters go; absent for a dead-letter queue itself. */
    readonly deadLetterQueue: QueueEntity | undefined,
  ) {}

  get requiresSession(): boolean {
    return this.deadLetterQueue !== undefined && this.def.requiresSession;
  }

  // ---------------------------------------------------------------- enqueue

  /** Throws what Service Bus would answer for a message this entity cannot take. */
  assertAcceptable(parsed: ParsedMessage): void {
    if (this.requiresSession && parsed.sessionId === undefined) {
      throw new ServiceBusBrokerError(
        'InvalidOperation',
        `The SessionId was not set on a message, and it cannot be sent to the entity '${this.path}'. Entities that have session support enabled can only receive messages that have the SessionId set to a valid value.`,
      );
    }
  }

  /** Returns the sequence number, or undefined when dropped as a duplicate. */
  enqueue(parsed: ParsedMessage): number | undefined {
    this.assertAcceptable(parsed);
    const now = this.clock.now();
    if (this.isDuplicate(parsed.messageId, now)) {
      this.count.duplicatesDropped++;
      return undefined;
    }
    const scheduledAt = annotationNumber(parsed.annotations.get('x-opt-scheduled-enqueue-time'));
    const ttl = minDefined(parsed.ttlMs, this.def.defaultMessageTtlMs);
    const msg = this.store({
      parsed,
      enqueuedAt: now,
      scheduledAt: scheduledAt !== undefined && scheduledAt > now ? scheduledAt : undefined,
      deliveryCount: 0,
      sessionId: parsed.sessionId,
    });
    if (msg.scheduledAt !== undefined) {
      msg.state = 'scheduled';
      this.count.scheduled++;
      this.scheduledHeap.push({ msg, generation: msg.generation, key: msg.scheduledAt });
      this.armScheduleTimer();
    } else {
      msg.expiresAt = ttl === undefined ? undefined : now + ttl;
      this.count.active++;
      this.makeAvailable(msg);
    }
    return msg.seq;
  }

  /** Dead-lettered copies keep the original's properties, plus the reason. */
  private enqueueDeadLetter(source: StoredMessage, sourcePath: string, extra: Record<string, unknown>): void {
    const applicationProperties = new Map(source.parsed.applicationProperties ?? []);
    for (const [k, v] of Object.entries(extra)) {
      if (v !== undefined && v !== null) applicationProperties.set(k, types.wrap(v));
    }
    const annotations = new Map(source.parsed.annotations);
    annotations.set('x-opt-deadletter-source', types.wrap_string(sourcePath));
    annotations.delete('x-opt-scheduled-enqueue-time');
    const msg = this.store({
      parsed: { ...source.parsed, applicationProperties, annotations },
      enqueuedAt: this.clock.now(),
      scheduledAt: undefined,
      deliveryCount: source.deliveryCount,
      sessionId: source.sessionId,
    });
    this.count.active++;
    this.makeAvailable(msg);
  }

  /** Stores a new active, unlocked message under the next sequence number and counts it as sent. */
  private store(
    fields: Pick<StoredMessage, 'parsed' | 'enqueuedAt' | 'scheduledAt' | 'deliveryCount' | 'sessionId'>,
  ): StoredMessage {
    const msg: StoredMessage = {
      seq: this.nextSeq++,
      parsed: fields.parsed,
      enqueuedAt: fields.enqueuedAt,
      scheduledAt: fields.scheduledAt,
      expiresAt: undefined,
      deliveryCount: fields.deliveryCount,
      state: 'active',
      sessionId: fields.sessionId,
      lockToken: undefined,
      lockedUntil: undefined,
      lockTimer: undefined,
      generation: 0,
    };
    this.messages.set(msg.seq, msg);
    this.count.sent++;
    return msg;
  }

  private isDuplicate(messageId: string | undefined, now: number): boolean {
    const window = this.def.duplicateDetectionWindowMs;
    if (window === undefined || messageId === undefined) return false;
    // Entries are inserted with a constant window, so expiry order equals insertion order.
    for (const [id, expires] of this.duplicates) {
      if (expires > now) break;
      this.duplicates.delete(id);
    }
    if (this.duplicates.has(messageId)) return true;
    this.duplicates.set(messageId, now + window);
    return false;
  }

  // ---------------------------------------------------------------- scheduling

  cancelScheduled(seqs: number[]): void {
    for (const seq of seqs) {
      const msg = this.messages.get(seq);
      if (!msg || msg.state !== 'scheduled') continue;
      this.setState(msg, 'removed');
      this.messages.delete(seq);
    }
  }

  private armScheduleTimer(): void {
    const next = this.peekLive(this.scheduledHeap);
    if (!next) {
      this.clearScheduleTimer();
      return;
    }
    if (next.key >= this.scheduleTimerAt && this.scheduleTimer) return;
    this.clearScheduleTimer();
    const delay = Math.min(Math.max(0, next.key - this.clock.now()), MAX_TIMER_MS);
    this.scheduleTimerAt = next.key;
    this.scheduleTimer = setTimeout(() => {
      this.scheduleTimer = undefined;
      this.scheduleTimerAt = Infinity;
      this.activateDue();
    }, delay);
  }

  private clearScheduleTimer(): void {
    if (this.scheduleTimer) clearTimeout(this.scheduleTimer);
    this.scheduleTimer = undefined;
    this.scheduleTimerAt = Infinity;
  }

  private activateDue(): void {
    if (this.closed) return;
    const now = this.clock.now();
    for (;;) {
      const top = this.peekLive(this.scheduledHeap);
      if (!top || top.key > now) break;
      this.scheduledHeap.pop();
      const msg = top.msg;
      this.setState(msg, 'active');
      msg.enqueuedAt = now;
      const ttl = minDefined(msg.parsed.ttlMs, this.def.defaultMessageTtlMs);
      msg.expiresAt = ttl === undefined ? undefined : now + ttl;
      this.makeAvailable(msg);
    }
    this.armScheduleTimer();
  }

  /** Top of a heap after discarding entries whose message moved on since they were pushed. */
  private peekLive(heap: PriorityQueue<HeapEntry>): HeapEntry | undefined {
    for (;;) {
      const top = heap.peek();
      if (!top) return undefined;
      if (top.generation === top.msg.generation) return top;
      heap.pop();
    }
  }

  // ---------------------------------------------------------------- state

  private setState(msg: StoredMessage, state: MessageState): void {
    const from = msg.state;
    if (from !== 'removed') this.count[from]--;
    if (state !== 'removed') this.count[state]++;
    if (
      (from === 'deferred') !== (state === 'deferred') &&
      msg.sessionId !== undefined &&
      this.requiresSession
    ) {
      this.session(msg.sessionId).deferredCount += state === 'deferred' ? 1 : -1;
    }
    msg.state = state;
    msg.generation++;
  }

  private makeAvailable(msg: StoredMessage): void {
    const entry: HeapEntry = { msg, generation: msg.generation, key: msg.seq };
    if (this.requiresSession) {
      const session = this.session(msg.sessionId as string);
      session.available.push(entry);
      session.availableCount++;
      if (session.owner) this.pumpSession(session);
      else this.refreshReady(session);
    } else {
      this.available.push(entry);
      this.pump();
    }
  }

  private session(id: string): SessionEntry {
    let s = this.sessions.get(id);
    if (!s) {
      s = {
        id,
        available: new PriorityQueue<HeapEntry>(bySeq),
        availableCount: 0,
        locked: new Set(),
        owner: undefined,
        lockedUntil: 0,
        lockTimer: undefined,
        state: undefined,
        deferredCount: 0,
      };
      this.sessions.set(id, s);
    }
    return s;
  }

  private refreshReady(s: SessionEntry): void {
    if (!s.owner && s.availableCount > 0) {
      if (this.sessionWaiters.length > 0) {
        const waiter = this.sessionWaiters.shift() as SessionWaiter;
        clearTimeout(waiter.timer);
        this.readySessions.delete(s.id);
        this.lockSession(s, waiter.consumer);
        waiter.resolve(s.id);
        return;
      }
      this.readySessions.add(s.id);
    } else {
      this.readySessions.delete(s.id);
    }
  }

  // ---------------------------------------------------------------- delivery

  addConsumer(consumer: Consumer): void {
    this.consumers.push(consumer);
  }

  removeConsumer(consumer: Consumer): void {
    const i = this.consumers.indexOf(consumer);
    if (i >= 0) this.consumers.splice(i, 1);
    const waiter = this.sessionWaiters.findIndex((w) => w.consumer === consumer);
    if (waiter >= 0) {
      const [w] = this.sessionWaiters.splice(waiter, 1);
      if (w) {
        clearTimeout(w.timer);
        w.resolve(undefined);
      }
    }
    const session = this.ownedSessions.get(consumer);
    if (session) this.releaseSession(session);
  }

  /** Called when a consumer gets credit. */
  creditAdded(consumer: Consumer): void {
    const session = this.ownedSessions.get(consumer);
    if (session) this.pumpSession(session);
    else if (!this.requiresSession) this.pump();
  }

  private pump(): void {
    const consumers = this.consumers;
    if (consumers.length === 0) return;
    let idle = 0;
    while (idle < consumers.length) {
      const top = this.peekLive(this.available);
      if (!top) return;
      this.nextConsumer = (this.nextConsumer + 1) % consumers.length;
      const consumer = consumers[this.nextConsumer] as Consumer;
      if (consumer.credit() <= 0) {
        idle++;
        continue;
      }
      idle = 0;
      this.available.pop();
      this.deliverTo(consumer, top.msg, undefined);
    }
  }

  private pumpSession(s: SessionEntry): void {
    const consumer = s.owner;
    if (!consumer) return;
    while (consumer.credit() > 0) {
      const top = this.peekLive(s.available);
      if (!top) break;
      s.available.pop();
      s.availableCount--;
      this.deliverTo(consumer, top.msg, s);
      if (s.owner !== consumer) break;
    }
  }

  private deliverTo(consumer: Consumer, msg: StoredMessage, session: SessionEntry | undefined): void {
    const now = this.clock.now();
    if (msg.expiresAt !== undefined && msg.expiresAt <= now) {
      this.expire(msg);
      return;
    }
    if (consumer.receiveAndDelete) {
      const payload = this.encode(msg, undefined);
      this.setState(msg, 'removed');
      this.messages.delete(msg.seq);
      this.count.completed++;
      consumer.deliver(payload, undefined);
      return;
    }
    const lockToken = randomUUID();
    this.setState(msg, 'locked');
    msg.lockToken = lockToken;
    this.locks.set(lockToken, msg);
    if (session) {
      msg.lockedUntil = session.lockedUntil;
      session.locked.add(msg);
    } else {
      this.armMessageLock(msg, now + this.def.lockDurationMs);
    }
    consumer.deliver(this.encode(msg, msg.lockedUntil), lockToken);
  }

  private armMessageLock(msg: StoredMessage, until: number): void {
    if (msg.lockTimer) clearTimeout(msg.lockTimer);
    msg.lockedUntil = until;
    msg.lockTimer = setTimeout(() => {
      msg.lockTimer = undefined;
      if (msg.state === 'locked') this.unlock(msg, true);
    }, until - this.clock.now());
  }

  /** Lock lost or abandoned: back to the queue with one more delivery counted, or to the DLQ. */
  private unlock(
    msg: StoredMessage,
    countDelivery: boolean,
    propertiesToModify?: Record<string, unknown>,
  ): void {
    this.dropLock(msg);
    if (propertiesToModify) applyProperties(msg, propertiesToModify);
    if (countDelivery) msg.deliveryCount++;
    if (this.deadLetterQueue && msg.deliveryCount >= this.def.maxDeliveryCount) {
      this.moveToDeadLetter(msg, {
        DeadLetterReason: 'MaxDeliveryCountExceeded',
        DeadLetterErrorDescription: `Message could not be consumed after ${this.def.maxDeliveryCount} delivery attempts.`,
      });
      return;
    }
    this.setState(msg, 'active');
    this.makeAvailable(msg);
  }

  private dropLock(msg: StoredMessage): void {
    if (msg.lockTimer) clearTimeout(msg.lockTimer);
    msg.lockTimer = undefined;
    if (msg.lockToken) this.locks.delete(msg.lockToken);
    msg.lockToken = undefined;
    msg.lockedUntil = undefined;
    if (msg.sessionId !== undefined) this.sessions.get(msg.sessionId)?.locked.delete(msg);
  }

  private expire(msg: StoredMessage): void {
    this.dropLock(msg);
    if (this.def.deadLetteringOnMessageExpiration && this.deadLetterQueue) {
      this.moveToDeadLetter(msg, {
        DeadLetterReason: 'TTLExpiredException',
        DeadLetterErrorDescription: 'The message expired and was dead lettered.',
      });
    } else {
      this.setState(msg, 'removed');
      this.messages.delete(msg.seq);
    }
  }

  private moveToDeadLetter(msg: StoredMessage, extra: Record<string, unknown>): void {
    this.setState(msg, 'removed');
    this.messages.delete(msg.seq);
    this.deadLetterQueue?.enqueueDeadLetter(msg, this.path, extra);
  }

  encode(msg: StoredMessage, lockedUntil: number | undefined): Buffer {
    const extra: Record<string, Typed> = {
      'x-opt-sequence-number': types.wrap_long(msg.seq),
      'x-opt-enqueued-time': types.wrap_timestamp(msg.enqueuedAt),
    };
    if (lockedUntil !== undefined) extra['x-opt-locked-until'] = types.wrap_timestamp(lockedUntil);
    if (msg.state !== 'active' && msg.state !== 'locked' && msg.state !== 'removed') {
      extra['x-opt-message-state'] = types.wrap_int(STATE_CODE[msg.state]);
    }
    if (msg.scheduledAt !== undefined) {
      extra['x-opt-scheduled-enqueue-time'] = types.wrap_timestamp(msg.scheduledAt);
    }
    return encodeMessage({ ...msg.parsed, deliveryCount: msg.deliveryCount }, extra);
  }

  // ---------------------------------------------------------------- settlement

  private lockedMessage(lockToken: string): StoredMessage {
    const msg = this.locks.get(lockToken);
    if (!msg || msg.state !== 'locked') {
      if (this.requiresSession) {
        throw new ServiceBusBrokerError(
          'SessionLockLost',
          'The session lock has expired on the MessageSession. Accept a new MessageSession.',
        );
      }
      throw new ServiceBusBrokerError(
        'MessageLockLost',
        'The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue.',
      );
    }
    return msg;
  }

  settle(lockToken: string, disposition: Disposition): void {
    const msg = this.lockedMessage(lockToken);
    if (disposition.kind === 'deadLetter' && !this.deadLetterQueue) {
      throw new ServiceBusBrokerError(
        'InvalidOperation',
        'Cannot dead-letter a message of a dead-letter queue.',
      );
    }
    switch (disposition.kind) {
      case 'complete':
        this.dropLock(msg);
        this.setState(msg, 'removed');
        this.messages.delete(msg.seq);
        this.count.completed++;
        break;
      case 'abandon':
        this.count.abandoned++;
        this.unlock(msg, true, disposition.propertiesToModify);
        break;
      case 'defer':
        this.dropLock(msg);
        if (disposition.propertiesToModify) applyProperties(msg, disposition.propertiesToModify);
        this.setState(msg, 'deferred');
        break;
      case 'deadLetter':
        this.dropLock(msg);
        if (disposition.propertiesToModify) applyProperties(msg, disposition.propertiesToModify);
        this.moveToDeadLetter(msg, {
          DeadLetterReason: disposition.reason,
          DeadLetterErrorDescription: disposition.description,
        });
        break;
    }
    if (msg.sessionId !== undefined) {
      const s = this.sessions.get(msg.sessionId);
      if (s) this.forgetIfIdle(s);
    }
  }

  renewLock(lockToken: string): number {
    const msg = this.lockedMessage(lockToken);
    if (msg.sessionId !== undefined && this.requiresSession) {
      return this.sessions.get(msg.sessionId)?.lockedUntil ?? this.clock.now();
    }
    this.armMessageLock(msg, this.clock.now() + this.def.lockDurationMs);
    return msg.lockedUntil as number;
  }

  /** Deferred messages come back only by sequence number, locked like a normal delivery. */
  receiveDeferred(
    seqs: number[],
    receiveAndDelete: boolean,
    sessionId: string | undefined,
  ): Array<{ payload: Buffer; lockToken: string }> {
    const out: Array<{ payload: Buffer; lockToken: string }> = [];
    for (const seq of seqs) {
      const msg = this.messages.get(seq);
      if (!msg || msg.state !== 'deferred' || (sessionId !== undefined && msg.sessionId !== sessionId)) {
        throw new ServiceBusBrokerError(
          'MessageNotFound',
          `Failed to lock one or more specified messages. Message with sequence number ${seq} was not found.`,
        );
      }
      const lockToken = randomUUID();
      if (receiveAndDelete) {
        const payload = this.encode(msg, undefined);
        this.setState(msg, 'removed');
        this.messages.delete(seq);
        this.count.completed++;
        out.push({ payload, lockToken });
        continue;
      }
      this.setState(msg, 'locked');
      msg.lockToken = lockToken;
      this.locks.set(lockToken, msg);
      this.armMessageLock(msg, this.clock.now() + this.def.lockDurationMs);
      out.push({ payload: this.encode(msg, msg.lockedUntil), lockToken });
    }
    return out;
  }

  // ---------------------------------------------------------------- sessions

  /**
   * Locks `sessionId`, or the next session with messages when undefined. Resolves with the
   * locked session id, or undefined when none became available within `waitMs`.
   */
  acceptSession(
    consumer: Consumer,
    sessionId: string | undefined,
    waitMs: number,
  ): Promise<string | undefined> {
    if (sessionId !== undefined) {
      const s = this.session(sessionId);
      if (s.owner) {
        return Promise.reject(
          new ServiceBusBrokerError(
            'SessionCannotBeLocked',
            `The requested session '${sessionId}' cannot be accepted. It may be locked by another receiver.`,
          ),
        );
      }
      this.lockSession(s, consumer);
      return Promise.resolve(sessionId);
    }
    for (const id of this.readySessions) {
      const s = this.sessions.get(id) as SessionEntry;
      this.readySessions.delete(id);
      this.lockSession(s, consumer);
      return Promise.resolve(id);
    }
    return new Promise((resolve) => {
      const waiter: SessionWaiter = {
        consumer,
        resolve,
        timer: setTimeout(
          () => {
            const i = this.sessionWaiters.indexOf(waiter);
            if (i >= 0) this.sessionWaiters.splice(i, 1);
            resolve(undefined);
          },
          Math.min(waitMs, MAX_TIMER_MS),
        ),
      };
      this.sessionWaiters.push(waiter);
    });
  }

  private lockSession(s: SessionEntry, consumer: Consumer): void {
    s.owner = consumer;
    this.ownedSessions.set(consumer, s);
    this.readySessions.delete(s.id);
    this.armSessionLock(s);
  }

  private armSessionLock(s: SessionEntry): void {
    if (s.lockTimer) clearTimeout(s.lockTimer);
    s.lockedUntil = this.clock.now() + this.def.lockDurationMs;
    for (const m of s.locked) m.lockedUntil = s.lockedUntil;
    s.lockTimer = setTimeout(() => {
      s.lockTimer = undefined;
      const owner = s.owner;
      this.releaseSession(s);
      owner?.sessionLost?.(
        new ServiceBusBrokerError(
          'SessionLockLost',
          `The session lock has expired on the session with id ${s.id}.`,
        ),
      );
    }, this.def.lockDurationMs);
  }

  sessionLockedUntil(sessionId: string): number {
    return this.sessions.get(sessionId)?.lockedUntil ?? this.clock.now();
  }

  /** Session lock lost or receiver gone: its locked messages count as a failed delivery. */
  private releaseSession(s: SessionEntry): void {
    if (s.lockTimer) clearTimeout(s.lockTimer);
    s.lockTimer = undefined;
    if (s.owner) this.ownedSessions.delete(s.owner);
    s.owner = undefined;
    for (const msg of [...s.locked]) this.unlock(msg, true);
    this.refreshReady(s);
    this.forgetIfIdle(s);
  }

  private forgetIfIdle(s: SessionEntry): void {
    if (
      !s.owner &&
      s.availableCount === 0 &&
      s.locked.size === 0 &&
      s.state === undefined &&
      s.deferredCount === 0
    ) {
      this.sessions.delete(s.id);
    }
  }

  private ownedSession(sessionId: string): SessionEntry {
    const s = this.sessions.get(sessionId);
    if (!s || !s.owner) {
      throw new ServiceBusBrokerError(
        'SessionLockLost',
        `The session lock has expired on the session with id ${sessionId}.`,
      );
    }
    return s;
  }

  renewSessionLock(sessionId: string): number {
    const s = this.ownedSession(sessionId);
    this.armSessionLock(s);
    return s.lockedUntil;
  }

  getSessionState(sessionId: string): Buffer | undefined {
    return this.ownedSession(sessionId).state;
  }

  setSessionState(sessionId: string, state: Buffer | undefined): void {
    this.ownedSession(sessionId).state = state && state.length > 0 ? state : undefined;
  }

  sessionIds(): string[] {
    return [...this.sessions.values()]
      .filter((s) => s.availableCount > 0 || s.locked.size > 0 || s.state)
      .map((s) => s.id);
  }

  // ---------------------------------------------------------------- diagnostics

  peek(fromSeq: number, count: number, sessionId: string | undefined): PeekedMessage[] {
    const out: PeekedMessage[] = [];
    // Map iteration is in insertion order, which is sequence order.
    for (const msg of this.messages.values()) {
      if (out.length >= count) break;
      if (msg.seq < fromSeq || msg.state === 'removed') continue;
      if (sessionId !== undefined && msg.sessionId !== sessionId) continue;
      out.push({ seq: msg.seq, state: msg.state, payload: this.encode(msg, undefined), msg });
    }
    return out;
  }

  counters(): Omit<QueueCounters, 'deadLettered'> {
    const base = { ...this.count };
    if (!this.requiresSession) return base;
    let withMessages = 0;
    let locked = 0;
    for (const s of this.sessions.values()) {
      if (s.availableCount > 0 || s.locked.size > 0) withMessages++;
      if (s.owner) locked++;
    }
    return { ...base, sessions: { withMessages, locked } };
  }

  close(): void {
    this.closed = true;
    this.clearScheduleTimer();
    for (const msg of this.messages.values()) if (msg.lockTimer) clearTimeout(msg.lockTimer);
    for (const s of this.sessions.values()) if (s.lockTimer) clearTimeout(s.lockTimer);
    for (const w of this.sessionWaiters.splice(0)) {
      clearTimeout(w.timer);
      w.resolve(undefined);
    }
  }
}

const minDefined = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined ? b : b === undefined ? a : Math.min(a, b);

const annotationNumber = (v: Typed | undefined): number | undefined => {
  if (!v) return undefined;
  const raw = types.unwrap(v) as unknown;
  if (raw instanceof Date) return raw.getTime();
  if (typeof raw === 'number') return raw;
  return undefined;
};

const applyProperties = (msg: StoredMessage, props: Record<string, unknown>): void => {
  const applicationProperties = new Map(msg.parsed.applicationProperties ?? []);
  for (const [k, v] of Object.entries(props)) applicationProperties.set(k, types.wrap(v));
  msg.parsed = { ...msg.parsed, applicationProperties };
};
