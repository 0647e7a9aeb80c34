import { AppError } from '../errors/app.errors';

export type QueueErrorCode = 'invalid_message' | 'send_failed' | 'message_too_large' | 'closed';

/** Errors of the job queue (Service Bus or in-process). */
export class QueueError extends AppError<QueueErrorCode> {
  constructor(code: QueueErrorCode, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super('QueueError', code, message, options.retryable ?? code === 'send_failed', options.cause);
  }
}
