import type { TokenCredential } from '@azure/identity';
import { ServiceBusClient, type ServiceBusMessage, type ServiceBusSender } from '@azure/service-bus';
import type { ServiceBusEnv } from '../config/env.schema';
import type { JobQueue, OutgoingMessage } from './job-queue.port';
import { QueueError } from './queue.errors';
import { describeError } from '../errors/app.errors';

export function createServiceBusClient(
  env: Pick<ServiceBusEnv, 'SERVICEBUS' | 'SERVICEBUS__fullyQualifiedNamespace'>,
  credential?: () => TokenCredential,
): ServiceBusClient {
  if (env.SERVICEBUS !== undefined) return new ServiceBusClient(env.SERVICEBUS);
  if (env.SERVICEBUS__fullyQualifiedNamespace === undefined) {
    throw new QueueError(
      'send_failed',
      'no Service Bus connection configured: set SERVICEBUS__fullyQualifiedNamespace (managed identity, in Azure) or SERVICEBUS (a connection string, local broker only)',
      { retryable: false },
    );
  }
  const make =
    credential ??
    (() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { DefaultAzureCredential } = require('@azure/identity') as typeof import('@azure/identity');
      return new DefaultAzureCredential({ managedIdentityClientId: process.env.AZURE_CLIENT_ID });
    });
  return new ServiceBusClient(env.SERVICEBUS__fullyQualifiedNamespace, make());
}

function toServiceBusMessage(message: OutgoingMessage): ServiceBusMessage {
  return {
    body: message.body,
    contentType: 'application/json',
    messageId: message.messageId,
    sessionId: message.sessionId,
    correlationId: message.correlationId,
    subject: message.subject,
  };
}

export class ServiceBusJobQueue implements JobQueue {
  private readonly senders = new Map<string, ServiceBusSender>();

  constructor(
    private readonly client: ServiceBusClient,
    private readonly ownsClient = false,
  ) {}

  private sender(queue: string): ServiceBusSender {
    let sender = this.senders.get(queue);
    if (sender === undefined) {
      sender = this.client.createSender(queue);
      this.senders.set(queue, sender);
    }
    return sender;
  }

  async send(queue: string, messages: readonly OutgoingMessage[]): Promise<void> {
    const sender = this.sender(queue);
    const now = [] as OutgoingMessage[];
    const later = [] as OutgoingMessage[];
    for (const message of messages) (message.scheduledAt === undefined ? now : later).push(message);
    try {
      let batch = await sender.createMessageBatch();
      for (const message of now) {
        const sb = toServiceBusMessage(message);
        if (batch.tryAddMessage(sb)) continue;
        if (batch.count === 0) {
          throw new QueueError(
            'message_too_large',
            `message ${message.messageId} is larger than a Service Bus batch`,
          );
        }
        await sender.sendMessages(batch);
        batch = await sender.createMessageBatch();
        if (!batch.tryAddMessage(sb)) {
          throw new QueueError(
            'message_too_large',
            `message ${message.messageId} is larger than a Service Bus batch`,
          );
        }
      }
      if (batch.count > 0) await sender.sendMessages(batch);
      for (const message of later) {
        await sender.scheduleMessages(toServiceBusMessage(message), message.scheduledAt as Date);
      }
    } catch (error) {
      if (error instanceof QueueError) throw error;
      throw new QueueError('send_failed', `sending to ${queue} failed: ${describeError(error)}`, {
        cause: error,
      });
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.senders.values()].map((sender) => sender.close()));
    this.senders.clear();
    if (this.ownsClient) await this.client.close();
  }
}
