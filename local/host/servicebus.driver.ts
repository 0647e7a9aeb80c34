import type {
  ServiceBusClient,
  ServiceBusReceivedMessage,
  ServiceBusReceiver,
  ServiceBusSessionReceiver,
} from '@azure/service-bus';
import { resolveSetting } from './binding-settings';
import { FunctionHost, type RpcTypedData } from './function-host';

export interface ServiceBusHostOptions {
  /** host.json extensions.serviceBus, with the Functions host's defaults. */
  maxConcurrentSessions: number;
  maxConcurrentCalls: number;
  autoCompleteMessages: boolean;
  sessionIdleTimeoutMs: number;
  maxAutoLockRenewalDurationMs: number;
}

export const DEFAULT_SERVICEBUS_HOST_OPTIONS: ServiceBusHostOptions = {
  maxConcurrentSessions: 8,
  maxConcurrentCalls: 16,
  autoCompleteMessages: true,
  sessionIdleTimeoutMs: 1000,
  maxAutoLockRenewalDurationMs: 5 * 60_000,
};

function bodyToTypedData(body: unknown): RpcTypedData {
  if (Buffer.isBuffer(body) || body instanceof Uint8Array) return { bytes: body };
  if (typeof body === 'string') return { string: body };
  return { json: JSON.stringify(body ?? null) };
}

function metadataOf(message: ServiceBusReceivedMessage): Record<string, RpcTypedData> {
  const meta: Record<string, RpcTypedData> = {
    DeliveryCount: { int: message.deliveryCount ?? 1 },
    ApplicationProperties: { json: JSON.stringify(message.applicationProperties ?? {}) },
  };
  const strings: Record<string, string | undefined> = {
    MessageId: message.messageId === undefined ? undefined : String(message.messageId),
    SessionId: message.sessionId,
    CorrelationId: message.correlationId === undefined ? undefined : String(message.correlationId),
    ContentType: message.contentType,
    Subject: message.subject,
    LockToken: message.lockToken,
    EnqueuedTimeUtc: message.enqueuedTimeUtc?.toISOString(),
    SequenceNumber: message.sequenceNumber?.toString(),
  };
  for (const [key, value] of Object.entries(strings)) if (value !== undefined) meta[key] = { string: value };
  return meta;
}

/**
 * Receives with the real SDK and settles as the Functions host does with autoCompleteMessages:
 * complete after a successful invocation, abandon after a failed one (so Service Bus redelivers
 * and, past the queue's max delivery count, dead-letters).
 */
export class ServiceBusDriver {
  private readonly abort = new AbortController();
  private readonly loops: Promise<void>[] = [];

  constructor(
    private readonly host: FunctionHost,
    private readonly clientFor: (connectionSetting: string) => ServiceBusClient,
    private readonly env: Record<string, string | undefined>,
    private readonly options: ServiceBusHostOptions,
    private readonly onError: (name: string, error: unknown) => void,
  ) {}

  start(): void {
    for (const { metadata } of this.host.registrations) {
      const { binding } = FunctionHost.trigger(metadata);
      if (binding.type !== 'serviceBusTrigger') continue;
      const queue = resolveSetting(binding.queueName, this.env, `queueName of ${metadata.name}`);
      const client = this.clientFor(String(binding.connection ?? 'AzureWebJobsServiceBus'));
      if (binding.isSessionsEnabled === true) {
        for (let i = 0; i < this.options.maxConcurrentSessions; i++) {
          this.loops.push(this.sessionLoop(metadata.name, client, queue));
        }
      } else {
        this.loops.push(this.plainLoop(metadata.name, client, queue));
      }
    }
  }

  /**
   * Lets in-flight invocations finish and settle, like the host draining on shutdown. The loops end
   * within the receive wait or the client's operation timeout (a pending acceptNextSession ignores
   * the abort signal), so the clients must stay open until then: closing them first leaves the SDK
   * waiting a full minute for a reply that cannot come.
   */
  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.loops);
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private async handle(
    name: string,
    receiver: ServiceBusReceiver,
    message: ServiceBusReceivedMessage,
  ): Promise<void> {
    try {
      await this.host.invoke(name, bodyToTypedData(message.body), metadataOf(message));
      if (this.options.autoCompleteMessages) await receiver.completeMessage(message);
    } catch (error) {
      this.onError(name, error);
      if (!this.stopped) await receiver.abandonMessage(message).catch((e: unknown) => this.onError(name, e));
    }
  }

  private async sessionLoop(name: string, client: ServiceBusClient, queue: string): Promise<void> {
    while (!this.stopped) {
      let receiver: ServiceBusSessionReceiver;
      try {
        receiver = await client.acceptNextSession(queue, {
          maxAutoLockRenewalDurationInMs: this.options.maxAutoLockRenewalDurationMs,
          abortSignal: this.abort.signal,
        });
      } catch (error) {
        if (this.stopped) return;
        const code = (error as { code?: string }).code;
        if (code !== 'ServiceTimeout' && code !== 'SessionCannotBeLocked') this.onError(name, error);
        await delay(code === 'ServiceTimeout' ? 0 : 500, this.abort.signal);
        continue;
      }
      try {
        while (!this.stopped) {
          const messages = await receiver.receiveMessages(1, {
            maxWaitTimeInMs: this.options.sessionIdleTimeoutMs,
          });
          if (messages.length === 0) break;
          for (const message of messages) await this.handle(name, receiver, message);
        }
      } catch (error) {
        if (!this.stopped) this.onError(name, error);
      } finally {
        await receiver.close().catch(() => undefined);
      }
    }
  }

  private async plainLoop(name: string, client: ServiceBusClient, queue: string): Promise<void> {
    const receiver = client.createReceiver(queue, {
      maxAutoLockRenewalDurationInMs: this.options.maxAutoLockRenewalDurationMs,
    });
    const inFlight = new Set<Promise<void>>();
    try {
      while (!this.stopped) {
        const free = this.options.maxConcurrentCalls - inFlight.size;
        if (free <= 0) {
          await Promise.race(inFlight);
          continue;
        }
        const messages = await receiver
          .receiveMessages(free, { maxWaitTimeInMs: 1000 })
          .catch((error: unknown) => {
            if (!this.stopped) this.onError(name, error);
            return [] as ServiceBusReceivedMessage[];
          });
        for (const message of messages) {
          const run = this.handle(name, receiver, message).finally(() => inFlight.delete(run));
          inFlight.add(run);
        }
      }
      await Promise.all(inFlight);
    } finally {
      await receiver.close().catch(() => undefined);
    }
  }
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted || ms === 0) return resolve();
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
