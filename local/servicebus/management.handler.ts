import { randomUUID } from 'node:crypto';
import { types } from 'rhea';
import { ServiceBusBrokerError } from './broker.errors';
import { parseIncoming, toSequenceNumber, uuidToString } from './message.codec';
import type { Disposition, QueueEntity } from './queue.store';

export interface ManagementReply {
  status: number;
  description?: string;
  condition?: string;
  body?: unknown;
}

interface ManagementRequest {
  application_properties?: Record<string, unknown>;
  body?: unknown;
}

type Body = Record<string, unknown>;

const OK = 200;
const NO_CONTENT = 204;

const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]);

const lockTokenString = (v: unknown): string => {
  if (Buffer.isBuffer(v)) return uuidToString(v);
  if (typeof v === 'string') return v.toLowerCase();
  throw new ServiceBusBrokerError('BadRequest', 'lock token must be a uuid');
};

const optionalString = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

const DISPOSITIONS: Record<string, Disposition['kind']> = {
  completed: 'complete',
  abandoned: 'abandon',
  defered: 'defer',
  deferred: 'defer',
  suspended: 'deadLetter',
};

/**
 * The `$management` request/response operations the SDK uses (AMQP request-response for
 * Service Bus). Each operation maps onto a QueueEntity call.
 */
export class ManagementHandler {
  constructor(private readonly findEntity: (path: string) => QueueEntity) {}

  handle(entityPath: string, request: ManagementRequest): ManagementReply {
    const operation = request.application_properties?.operation;
    try {
      const entity = this.findEntity(entityPath);
      const body = (request.body && typeof request.body === 'object' ? request.body : {}) as Body;
      switch (operation) {
        case 'com.microsoft:peek-message':
          return this.peek(entity, body);
        case 'com.microsoft:renew-lock':
          return {
            status: OK,
            body: {
              expirations: asArray(body['lock-tokens']).map(
                (t) => new Date(entity.renewLock(lockTokenString(t))),
              ),
            },
          };
        case 'com.microsoft:schedule-message':
          return this.schedule(entity, body);
        case 'com.microsoft:cancel-scheduled-message':
          entity.cancelScheduled(asArray(body['sequence-numbers']).map(toSequenceNumber));
          return { status: OK };
        case 'com.microsoft:update-disposition':
          return this.updateDisposition(entity, body);
        case 'com.microsoft:receive-by-sequence-number':
          return this.receiveDeferred(entity, body);
        case 'com.microsoft:renew-session-lock':
          return {
            status: OK,
            body: { expiration: new Date(entity.renewSessionLock(String(body['session-id']))) },
          };
        case 'com.microsoft:get-session-state': {
          const state = entity.getSessionState(String(body['session-id']));
          return { status: OK, body: { 'session-state': state ?? null } };
        }
        case 'com.microsoft:set-session-state': {
          const raw = body['session-state'];
          entity.setSessionState(String(body['session-id']), Buffer.isBuffer(raw) ? raw : undefined);
          return { status: OK };
        }
        case 'com.microsoft:get-message-sessions': {
          const skip = typeof body.skip === 'number' ? body.skip : 0;
          const top = typeof body.top === 'number' ? body.top : Number.MAX_SAFE_INTEGER;
          const ids = entity.sessionIds().slice(skip, skip + top);
          return ids.length === 0
            ? { status: NO_CONTENT }
            : { status: OK, body: { skip, 'sessions-ids': ids } };
        }
        default:
          throw new ServiceBusBrokerError(
            'NotImplemented',
            `Operation '${String(operation)}' is not supported by the local broker.`,
          );
      }
    } catch (err) {
      const error =
        err instanceof ServiceBusBrokerError
          ? err
          : new ServiceBusBrokerError('BadRequest', (err as Error).message);
      return { status: error.statusCode, description: error.message, condition: error.condition };
    }
  }

  private peek(entity: QueueEntity, body: Body): ManagementReply {
    const from =
      body['from-sequence-number'] === undefined ? 1 : toSequenceNumber(body['from-sequence-number']);
    const count = typeof body['message-count'] === 'number' ? body['message-count'] : 1;
    const peeked = entity.peek(from, count, optionalString(body['session-id']));
    if (peeked.length === 0) return { status: NO_CONTENT };
    return { status: OK, body: { messages: peeked.map((p) => ({ message: p.payload })) } };
  }

  private schedule(entity: QueueEntity, body: Body): ManagementReply {
    const seqs: number[] = [];
    for (const entry of asArray(body.messages)) {
      const raw = (entry as Body).message;
      if (!Buffer.isBuffer(raw))
        throw new ServiceBusBrokerError('BadRequest', 'scheduled message without body');
      const seq = entity.enqueue(parseIncoming(raw, () => randomUUID().replace(/-/g, '')));
      seqs.push(seq ?? 0);
    }
    return { status: OK, body: { 'sequence-numbers': types.wrap_array(seqs, 0x81, undefined) } };
  }

  private updateDisposition(entity: QueueEntity, body: Body): ManagementReply {
    const kind = DISPOSITIONS[String(body['disposition-status'])];
    if (!kind)
      throw new ServiceBusBrokerError(
        'BadRequest',
        `unknown disposition ${String(body['disposition-status'])}`,
      );
    const props = body['properties-to-modify'];
    const propertiesToModify =
      props && typeof props === 'object' && !Buffer.isBuffer(props)
        ? (props as Record<string, unknown>)
        : undefined;
    const disposition: Disposition =
      kind === 'deadLetter'
        ? {
            kind,
            reason: optionalString(body['deadletter-reason']),
            description: optionalString(body['deadletter-description']),
            ...(propertiesToModify ? { propertiesToModify } : {}),
          }
        : kind === 'complete'
          ? { kind }
          : { kind, ...(propertiesToModify ? { propertiesToModify } : {}) };
    for (const token of asArray(body['lock-tokens'])) entity.settle(lockTokenString(token), disposition);
    return { status: OK };
  }

  private receiveDeferred(entity: QueueEntity, body: Body): ManagementReply {
    const seqs = asArray(body['sequence-numbers']).map(toSequenceNumber);
    const receiveAndDelete = body['receiver-settle-mode'] === 0;
    const received = entity.receiveDeferred(seqs, receiveAndDelete, optionalString(body['session-id']));
    return {
      status: OK,
      body: {
        messages: received.map((r) => ({
          message: r.payload,
          'lock-token': types.wrap_uuid(Buffer.from(r.lockToken.replace(/-/g, ''), 'hex')),
        })),
      },
    };
  }
}
