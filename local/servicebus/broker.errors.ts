/**
 * The one error class of the local Service Bus broker. `condition` is the AMQP error condition the
 * broker puts on the wire so that the real SDK maps it to its own error codes.
 */
export class ServiceBusBrokerError extends Error {
  override readonly name = 'ServiceBusBrokerError';

  constructor(
    readonly code: BrokerErrorCode,
    message: string,
    readonly retryable = false,
  ) {
    super(message);
  }

  get condition(): string {
    return conditionByCode[this.code];
  }

  /** Management replies carry an HTTP-like status code next to the condition. */
  get statusCode(): number {
    return statusByCode[this.code];
  }

  toAmqpError(): { condition: string; description: string } {
    return { condition: this.condition, description: this.message };
  }
}

export type BrokerErrorCode =
  | 'EntityNotFound'
  | 'MessageLockLost'
  | 'MessageNotFound'
  | 'SessionCannotBeLocked'
  | 'SessionLockLost'
  | 'InvalidOperation'
  | 'BadRequest'
  | 'Timeout'
  | 'NotImplemented'
  | 'EntityAlreadyExists';

const conditionByCode: Record<BrokerErrorCode, string> = {
  EntityNotFound: 'amqp:not-found',
  MessageLockLost: 'com.microsoft:message-lock-lost',
  MessageNotFound: 'com.microsoft:message-not-found',
  SessionCannotBeLocked: 'com.microsoft:session-cannot-be-locked',
  SessionLockLost: 'com.microsoft:session-lock-lost',
  InvalidOperation: 'amqp:not-allowed',
  BadRequest: 'com.microsoft:argument-error',
  Timeout: 'com.microsoft:timeout',
  NotImplemented: 'amqp:not-implemented',
  EntityAlreadyExists: 'com.microsoft:entity-already-exists',
};

const statusByCode: Record<BrokerErrorCode, number> = {
  EntityNotFound: 404,
  MessageLockLost: 410,
  MessageNotFound: 404,
  SessionCannotBeLocked: 410,
  SessionLockLost: 410,
  InvalidOperation: 400,
  BadRequest: 400,
  Timeout: 408,
  NotImplemented: 501,
  EntityAlreadyExists: 409,
};

/** The SDK recognises a missing entity only by this wording (core-amqp `translate`). */
export const entityNotFound = (host: string, path: string): ServiceBusBrokerError =>
  new ServiceBusBrokerError(
    'EntityNotFound',
    `The messaging entity 'sb://${host}/${path}' could not be found. status-code: 404`,
  );
