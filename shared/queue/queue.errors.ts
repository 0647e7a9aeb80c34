/** Errors of the job queue (Service Bus or in-process). */
export class QueueError extends Error {
  readonly code: 'invalid_message' | 'send_failed' | 'message_too_large' | 'closed';
  readonly retryable: boolean;

  constructor(
    code: QueueError['code'],
    message: string,
    options: { retryable?: boolean; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'QueueError';
    this.code = code;
    this.retryable = options.retryable ?? code === 'send_failed';
  }
}
