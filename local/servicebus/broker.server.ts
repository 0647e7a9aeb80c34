import { randomUUID } from 'node:crypto';
import type { Server, Socket } from 'node:net';
import {
  create_container,
  message as rheaMessage,
  types,
  type Connection,
  type Delivery,
  type EventContext,
  type Receiver,
  type Sender,
  type Source,
} from 'rhea';
import { entityNotFound, ServiceBusBrokerError } from './broker.errors';
import {
  brokerOptionsSchema,
  queueDefinitionSchema,
  type BrokerClock,
  type BrokerOptionsInput,
  type QueueDefinitionInput,
} from './broker.schema';
import { ManagementHandler, type ManagementReply } from './management.handler';
import {
  BATCH_MESSAGE_FORMAT,
  dateToTicksBuffer,
  parseIncoming,
  splitBatch,
  unwrapEntries,
} from './message.codec';
import { QueueEntity, type Consumer, type Disposition, type QueueCounters } from './queue.store';

export interface DeadLetterView {
  sequenceNumber: number;
  messageId: string | undefined;
  sessionId: string | undefined;
  reason: string | undefined;
  description: string | undefined;
  deliveryCount: number;
  applicationProperties: Record<string, unknown>;
  body: unknown;
}

export interface ServiceBusBroker {
  readonly port: number;
  readonly host: string;
  readonly connectionString: string;
  readonly queueNames: string[];
  counters(queue: string): QueueCounters;
  deadLetters(queue: string): DeadLetterView[];
  createQueue(def: QueueDefinitionInput): void;
  close(): Promise<void>;
}

const SESSION_FILTER = 'com.microsoft:session-filter';
const DLQ_SUFFIX = '/$DeadLetterQueue';
const MANAGEMENT_SUFFIX = '/$management';
/** Standard tier limit; the SDK refuses batches above it. */
const MAX_MESSAGE_SIZE = 256 * 1024;

/** The parts of rhea's link objects the typings leave out. */
interface SenderInternals {
  credit: number;
  delivery_count: number;
  _draining?: boolean;
  set_drained(drained: boolean): void;
  local: {
    attach: { snd_settle_mode?: number; rcv_settle_mode?: number; properties?: Record<string, unknown> };
  };
  remote: {
    attach?: { snd_settle_mode?: number; rcv_settle_mode?: number; properties?: Record<string, unknown> };
  };
  state: { local_open: boolean; open_requests: number };
  session: { outgoing: { available(): number } };
}

const newMessageId = (): string => randomUUID().replace(/-/g, '');

/** rhea's terminus typings insist on an address; Service Bus links sometimes have none. */
const terminus = (fields: { address: string | undefined; filter?: Record<string, unknown> }): Source =>
  fields as unknown as Source;

interface Outcome {
  described(): unknown;
}
/** Outcome constructors exist on rhea's message module but are missing from its typings. */
const outcomes = rheaMessage as unknown as {
  accepted(): Outcome;
  rejected(fields: { error?: { condition: string; description: string } }): Outcome;
  modified(fields: { delivery_failed?: boolean; undeliverable_here?: boolean }): Outcome;
};

const internals = (sender: Sender): SenderInternals => sender as unknown as SenderInternals;

/** Service Bus lock tokens travel as delivery tags in .NET GUID byte order. */
const lockTokenToTag = (lockToken: string): Buffer => {
  const b = Buffer.from(lockToken.replace(/-/g, ''), 'hex');
  return Buffer.from([b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], ...b.subarray(8)] as number[]);
};

class LinkConsumer implements Consumer {
  sent = 0;
  drainAdvance = 0;
  sessionId: string | undefined;
  readonly tokens = new WeakMap<Delivery, string>();

  constructor(
    readonly sender: Sender,
    readonly entity: QueueEntity,
    readonly receiveAndDelete: boolean,
  ) {}

  credit(): number {
    const s = internals(this.sender);
    if (!this.sender.is_open()) return 0;
    // rhea only books credit when its output loop runs; count what was handed to it since.
    const linkCredit = s.credit + s.delivery_count - this.sent - this.drainAdvance;
    return Math.min(linkCredit, s.session.outgoing.available());
  }

  deliver(payload: Buffer, lockToken: string | undefined): void {
    const tag = lockTokenToTag(lockToken ?? randomUUID());
    const delivery = this.sender.send(payload as never, tag, 0);
    this.sent++;
    if (this.receiveAndDelete) (delivery as unknown as { settled: boolean }).settled = true;
    else if (lockToken) this.tokens.set(delivery, lockToken);
  }

  sessionLost(error: ServiceBusBrokerError): void {
    this.sender.close(error.toAmqpError());
  }

  /** Answer a drain request: whatever credit is left after delivering is given back. */
  drain(): void {
    const remaining = this.credit();
    if (remaining > 0) this.drainAdvance += remaining;
    internals(this.sender).set_drained(true);
  }
}

export async function startServiceBusBroker(input: BrokerOptionsInput = {}): Promise<ServiceBusBroker> {
  const options = brokerOptionsSchema.parse(input);
  const clock: BrokerClock = options.clock ?? { now: () => Date.now() };
  const entities = new Map<string, QueueEntity>();
  const queueNames: string[] = [];
  const consumers = new Map<Sender, LinkConsumer>();
  const replyLinks = new Map<Connection, Map<string, Sender>>();
  const sockets = new Set<Socket>();
  let port = 0;

  const createQueue = (raw: QueueDefinitionInput): void => {
    const def = queueDefinitionSchema.parse(raw);
    const key = def.name.toLowerCase();
    if (entities.has(key)) {
      throw new ServiceBusBrokerError('EntityAlreadyExists', `Queue '${def.name}' already exists.`);
    }
    const dlq = new QueueEntity(`${def.name}${DLQ_SUFFIX}`, def, clock, undefined);
    entities.set(key, new QueueEntity(def.name, def, clock, dlq));
    entities.set(`${key}${DLQ_SUFFIX.toLowerCase()}`, dlq);
    queueNames.push(def.name);
  };
  for (const q of options.queues) createQueue(q);

  const findEntity = (address: string | undefined): QueueEntity => {
    const entity = address === undefined ? undefined : entities.get(address.toLowerCase());
    if (!entity) throw entityNotFound(options.host, address ?? '');
    return entity;
  };
  const mainQueue = (name: string): QueueEntity => {
    const entity = entities.get(name.toLowerCase());
    if (!entity || !entity.deadLetterQueue) throw entityNotFound(options.host, name);
    return entity;
  };

  const management = new ManagementHandler(findEntity);

  const container = create_container({
    id: `servicebus-broker-${randomUUID()}`,
    // Settlement is explicit: enqueue can fail (missing session id) and must reject the delivery.
    autoaccept: false,
    credit_window: 1000,
    // Service Bus distinguishes abandon (modified) from release; rhea folds them by default.
    treat_modified_as_released: false,
  });

  const reply = (
    connection: Connection,
    request: MessageLike,
    response: ManagementReply,
    cbs: boolean,
  ): void => {
    const replyTo = request.reply_to;
    const sender = replyTo === undefined ? undefined : replyLinks.get(connection)?.get(replyTo);
    if (!sender || !sender.is_open()) return;
    const status = cbs
      ? { 'status-code': response.status, 'status-description': response.description ?? 'OK' }
      : {
          statusCode: response.status,
          statusDescription: response.description ?? 'OK',
          ...(response.condition ? { errorCondition: response.condition } : {}),
        };
    sender.send({
      correlation_id: request.message_id,
      message_id: randomUUID(),
      application_properties: status,
      body: response.body,
    } as never);
  };

  // ------------------------------------------------------------------ links

  container.on('receiver_open', (ctx: EventContext) => {
    const receiver = ctx.receiver as Receiver;
    const address = receiver.target?.address;
    receiver.set_target(terminus({ address }));
    // The SDK sizes message batches from the max-message-size the broker advertises.
    (
      receiver as unknown as { local: { attach: { max_message_size?: number } } }
    ).local.attach.max_message_size = MAX_MESSAGE_SIZE;
    const source = receiver.source as { address?: string } | undefined;
    if (source?.address) receiver.set_source(terminus({ address: source.address }));
    if (address === '$cbs' || address?.endsWith(MANAGEMENT_SUFFIX)) return;
    try {
      findEntity(address);
    } catch (err) {
      receiver.close((err as ServiceBusBrokerError).toAmqpError());
    }
  });

  container.on('sender_open', (ctx: EventContext) => {
    const sender = ctx.sender as Sender;
    const source = sender.source as { address?: string; filter?: Record<string, unknown> } | undefined;
    const address = source?.address;
    const target = sender.target as { address?: string } | undefined;
    sender.set_target(terminus({ address: target?.address }));
    if (address === '$cbs' || address?.endsWith(MANAGEMENT_SUFFIX)) {
      sender.set_source(terminus({ address }));
      const links = replyLinks.get(ctx.connection) ?? new Map<string, Sender>();
      replyLinks.set(ctx.connection, links);
      // CBS replies go to the link name, management replies to the target address.
      links.set(sender.name, sender);
      if (target?.address) links.set(target.address, sender);
      return;
    }
    let entity: QueueEntity;
    try {
      entity = findEntity(address);
    } catch (err) {
      sender.set_source(terminus({ address }));
      sender.close((err as ServiceBusBrokerError).toAmqpError());
      return;
    }
    const wantsSession = source?.filter !== undefined && SESSION_FILTER in source.filter;
    if (wantsSession !== entity.requiresSession) {
      sender.set_source(terminus({ address }));
      sender.close(
        new ServiceBusBrokerError(
          'InvalidOperation',
          entity.requiresSession
            ? `It is not possible for an entity that requires sessions to create a non-sessionful message receiver. TrackingId:${randomUUID()}, Entity:${entity.path}`
            : `It is not possible for an entity that does not require sessions to create a sessionful message receiver. TrackingId:${randomUUID()}, Entity:${entity.path}`,
        ).toAmqpError(),
      );
      return;
    }
    const s = internals(sender);
    const remoteAttach = s.remote.attach ?? {};
    s.local.attach.snd_settle_mode = remoteAttach.snd_settle_mode ?? 0;
    s.local.attach.rcv_settle_mode = remoteAttach.rcv_settle_mode ?? 0;
    const consumer = new LinkConsumer(sender, entity, remoteAttach.snd_settle_mode === 1);
    consumers.set(sender, consumer);
    if (!entity.requiresSession) {
      sender.set_source(terminus({ address }));
      entity.addConsumer(consumer);
      return;
    }
    // Hold the attach reply back until a session is locked (or the wait times out).
    s.state.local_open = false;
    s.state.open_requests = Math.max(0, s.state.open_requests - 1);
    const requested = source?.filter?.[SESSION_FILTER];
    const sessionId = typeof requested === 'string' ? requested : undefined;
    const timeoutProp = remoteAttach.properties?.['com.microsoft:timeout'];
    const waitMs = Math.min(typeof timeoutProp === 'number' ? timeoutProp : 60_000, options.maxSessionWaitMs);
    entity.acceptSession(consumer, sessionId, waitMs).then(
      (locked) => {
        if (consumers.get(sender) !== consumer) {
          // The client gave up while we waited; hand the session back.
          if (locked !== undefined) entity.removeConsumer(consumer);
          return;
        }
        if (locked === undefined) {
          sender.set_source(terminus({ address }));
          sender.open();
          sender.close(
            new ServiceBusBrokerError(
              'Timeout',
              'No unlocked sessions were available within the wait time.',
            ).toAmqpError(),
          );
          return;
        }
        consumer.sessionId = locked;
        sender.set_source(terminus({ address, filter: { [SESSION_FILTER]: locked } }));
        s.local.attach.properties = {
          'com.microsoft:locked-until-utc': types.wrap_long(
            dateToTicksBuffer(entity.sessionLockedUntil(locked)),
          ),
        };
        sender.open();
        entity.creditAdded(consumer);
      },
      (err: unknown) => {
        const error =
          err instanceof ServiceBusBrokerError
            ? err
            : new ServiceBusBrokerError('InvalidOperation', String(err));
        sender.set_source(terminus({ address }));
        sender.open();
        sender.close(error.toAmqpError());
      },
    );
  });

  const dropConsumer = (sender: Sender): void => {
    const consumer = consumers.get(sender);
    if (!consumer) return;
    consumers.delete(sender);
    consumer.entity.removeConsumer(consumer);
  };

  container.on('sender_close', (ctx: EventContext) => dropConsumer(ctx.sender as Sender));

  const onFlow = (ctx: EventContext): void => {
    const consumer = consumers.get(ctx.sender as Sender);
    if (consumer) consumer.entity.creditAdded(consumer);
  };
  container.on('sender_flow', onFlow);
  container.on('sender_draining', (ctx: EventContext) => {
    const sender = ctx.sender as Sender;
    const consumer = consumers.get(sender);
    if (!consumer) return;
    consumer.entity.creditAdded(consumer);
    if (options.drainReplyDelayMs === 0) {
      consumer.drain();
      return;
    }
    setTimeout(() => {
      if (consumers.get(sender) === consumer && sender.is_open()) consumer.drain();
    }, options.drainReplyDelayMs);
  });

  // ------------------------------------------------------------------ settlement

  const settle = (ctx: EventContext, disposition: Disposition): void => {
    const sender = ctx.sender as Sender;
    const delivery = ctx.delivery as Delivery;
    const consumer = consumers.get(sender);
    const lockToken = consumer?.tokens.get(delivery);
    let outcome = OUTCOME[disposition.kind]();
    if (consumer && lockToken) {
      try {
        consumer.entity.settle(lockToken, disposition);
      } catch (err) {
        const error =
          err instanceof ServiceBusBrokerError
            ? err
            : new ServiceBusBrokerError('InvalidOperation', String(err));
        outcome = outcomes.rejected({ error: error.toAmqpError() }).described();
      }
    }
    delivery.update(true, outcome);
    // The SDK's receivers never send a final settle after ours (rcv-settle-mode second without
    // the last round trip), so the broker forgets the delivery itself; otherwise rhea's window of
    // 2048 unsettled deliveries per session fills up and delivery stalls.
    (delivery as unknown as { remote_settled: boolean }).remote_settled = true;
  };

  container.on('accepted', (ctx: EventContext) => settle(ctx, { kind: 'complete' }));
  container.on('released', (ctx: EventContext) => settle(ctx, { kind: 'abandon' }));
  container.on('modified', (ctx: EventContext) => {
    const state = (ctx.delivery as Delivery).remote_state as
      { undeliverable_here?: boolean; message_annotations?: Record<string, unknown> } | undefined;
    const propertiesToModify = state?.message_annotations ?? undefined;
    settle(
      ctx,
      state?.undeliverable_here
        ? { kind: 'defer', ...(propertiesToModify ? { propertiesToModify } : {}) }
        : { kind: 'abandon', ...(propertiesToModify ? { propertiesToModify } : {}) },
    );
  });
  container.on('rejected', (ctx: EventContext) => {
    const state = (ctx.delivery as Delivery).remote_state as { error?: { info?: unknown } } | undefined;
    const info = plainMap(state?.error?.info);
    const { DeadLetterReason, DeadLetterErrorDescription, ...rest } = info;
    settle(ctx, {
      kind: 'deadLetter',
      reason: typeof DeadLetterReason === 'string' ? DeadLetterReason : undefined,
      description: typeof DeadLetterErrorDescription === 'string' ? DeadLetterErrorDescription : undefined,
      ...(Object.keys(rest).length > 0 ? { propertiesToModify: rest } : {}),
    });
  });

  // ------------------------------------------------------------------ inbound messages

  container.on('message', (ctx: EventContext) => {
    const receiver = ctx.receiver as Receiver;
    const delivery = ctx.delivery as Delivery;
    const address = receiver.target?.address;
    const request = ctx.message as unknown as MessageLike;
    if (address === '$cbs') {
      delivery.accept();
      reply(ctx.connection, request, { status: 202, description: 'Accepted' }, true);
      return;
    }
    if (address?.endsWith(MANAGEMENT_SUFFIX)) {
      delivery.accept();
      const entityPath = address.slice(0, -MANAGEMENT_SUFFIX.length);
      reply(ctx.connection, request, management.handle(entityPath, request), false);
      return;
    }
    try {
      const entity = findEntity(address);
      const format = (ctx as unknown as { format?: number }).format;
      const raws =
        format === BATCH_MESSAGE_FORMAT
          ? splitBatch(ctx.message as unknown as Buffer)
          : [rheaMessage.encode(ctx.message as never)];
      const size = raws.reduce((n, raw) => n + raw.length, 0);
      if (size > MAX_MESSAGE_SIZE) {
        delivery.reject({
          condition: 'amqp:link:message-size-exceeded',
          description: `The message (${size} bytes) exceeds the maximum size of ${MAX_MESSAGE_SIZE} bytes.`,
        });
        return;
      }
      const parsed = raws.map((raw) => parseIncoming(raw, newMessageId));
      // Validate the whole batch before storing any of it: a batch is all or nothing.
      for (const p of parsed) entity.assertAcceptable(p);
      for (const p of parsed) entity.enqueue(p);
      delivery.accept();
    } catch (err) {
      const error =
        err instanceof ServiceBusBrokerError ? err : new ServiceBusBrokerError('BadRequest', String(err));
      delivery.reject(error.toAmqpError());
    }
  });

  // ------------------------------------------------------------------ connections

  const forgetConnection = (connection: Connection): void => {
    replyLinks.delete(connection);
    for (const [sender, consumer] of consumers) {
      if (sender.connection === connection) {
        consumers.delete(sender);
        consumer.entity.removeConsumer(consumer);
      }
    }
  };
  container.on('connection_close', (ctx: EventContext) => {
    forgetConnection(ctx.connection);
    ctx.connection.close();
  });
  container.on('disconnected', (ctx: EventContext) => forgetConnection(ctx.connection));
  // Link/session errors from clients are theirs to handle; the broker must not crash on them.
  container.on('error', () => undefined);

  const server: Server = container.listen({ port: options.port, host: options.host });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', () => resolve());
    server.once('error', reject);
  });
  const addr = server.address();
  port = typeof addr === 'object' && addr ? addr.port : options.port;

  const close = async (): Promise<void> => {
    for (const entity of entities.values()) entity.close();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const sender of [...consumers.keys()]) dropConsumer(sender);
    for (const socket of sockets) {
      socket.end();
      // Give clients a moment to see the FIN, then make sure nothing keeps the process alive.
      setTimeout(() => socket.destroy(), 200).unref();
    }
    await closed;
  };

  return {
    port,
    host: options.host,
    connectionString: `Endpoint=sb://${options.host}:${port};SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=local;UseDevelopmentEmulator=true`,
    get queueNames() {
      return [...queueNames];
    },
    counters: (queue) => {
      const entity = mainQueue(queue);
      const dlq = entity.deadLetterQueue as QueueEntity;
      const c = entity.counters();
      return { ...c, deadLettered: dlq.messages.size };
    },
    deadLetters: (queue) => {
      const dlq = mainQueue(queue).deadLetterQueue as QueueEntity;
      return dlq.peek(0, Number.MAX_SAFE_INTEGER, undefined).map(({ msg, payload }) => {
        const props = unwrapEntries(msg.parsed.applicationProperties);
        return {
          sequenceNumber: msg.seq,
          messageId: msg.parsed.messageId,
          sessionId: msg.sessionId,
          reason: typeof props.DeadLetterReason === 'string' ? props.DeadLetterReason : undefined,
          description:
            typeof props.DeadLetterErrorDescription === 'string'
              ? props.DeadLetterErrorDescription
              : undefined,
          deliveryCount: msg.deliveryCount,
          applicationProperties: props,
          body: decodeBody(payload),
        };
      });
    },
    createQueue,
    close,
  };
}

/** Outcome echoed when settling; never carries an error, so the SDK resolves its settle call. */
const OUTCOME: Record<Disposition['kind'], () => unknown> = {
  complete: () => outcomes.accepted().described(),
  abandon: () => outcomes.modified({ delivery_failed: true }).described(),
  defer: () => outcomes.modified({ undeliverable_here: true }).described(),
  deadLetter: () => outcomes.rejected({}).described(),
};

export interface MessageLike {
  message_id?: string | number | Buffer;
  reply_to?: string;
  application_properties?: Record<string, unknown>;
  body?: unknown;
}

/** Error info maps may arrive typed (rhea keeps described values); make them plain. */
const plainMap = (v: unknown): Record<string, unknown> => {
  if (!v || typeof v !== 'object') return {};
  const typed = v as { typecode?: number; value?: unknown };
  if (typed.typecode !== undefined && Array.isArray(typed.value)) {
    return types.unwrap_map_simple(v) as Record<string, unknown>;
  }
  return v as Record<string, unknown>;
};

/** Body as the SDK would present it: JSON when the data section parses, else bytes or value. */
const decodeBody = (payload: Buffer): unknown => {
  const body = (rheaMessage.decode(payload) as { body?: unknown }).body as
    { typecode?: number; content?: unknown } | unknown;
  if (
    body &&
    typeof body === 'object' &&
    'typecode' in body &&
    (body as { typecode?: number }).typecode === 0x75
  ) {
    const content = (body as { content?: unknown }).content;
    if (Buffer.isBuffer(content)) {
      try {
        return JSON.parse(content.toString('utf8')) as unknown;
      } catch {
        return content;
      }
    }
    return content;
  }
  return body;
};
