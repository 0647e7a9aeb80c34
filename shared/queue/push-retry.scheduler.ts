import { pushRetryMessageId, type PushRetryMessage } from '../sync/push-retry.message';
import type { PushRetryScheduler } from '../sync/ports';
import type { JobQueue } from './job-queue.port';

/**
 * Push retries as scheduled messages on the push-retry queue (Service Bus in Azure and on the local
 * stack). The message id is stable per content and attempt, so a doubled send is one message.
 */
export class QueuedPushRetries implements PushRetryScheduler {
  constructor(
    private readonly queue: JobQueue,
    private readonly queueName: string,
  ) {}

  async schedule(message: PushRetryMessage, at: Date): Promise<void> {
    await this.queue.send(this.queueName, [
      {
        body: message,
        messageId: pushRetryMessageId(message),
        scheduledAt: at,
        subject: 'push-retry',
        ...(message.correlationId !== undefined ? { correlationId: message.correlationId } : {}),
      },
    ]);
  }
}
