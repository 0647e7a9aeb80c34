import type {
  ServiceBusClient,
  ServiceBusReceivedMessage,
  ServiceBusReceiver,
  ServiceBusSessionReceiver,
} from '@azure/service-bus';
import { resolveSetting } from './binding-settings';
import { FunctionHost, type RpcTypedData } from './function-host';
import type { RpcBindingInfo } from './functions-core.shim';
import { serviceBusModelBindingData } from './servicebus-binding.codec';
import type { SettlementLease, SettlementTarget } from './settlement.server';

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
 * `sdkBinding: true` on a trigger: `@azure/functions` (toCoreFunctionMetadata) marks the binding
 * with `properties.supportsDeferredBinding` ('true' as a string), which tells the host to send the
 * message as model binding data instead of its body.
 */
export function isSdkBound(binding: RpcBindingInfo): boolean {
  const flag = (binding.properties as Record<string, unknown> | undefined)?.supportsDeferredBinding;
  return flag === true || flag === 'true';
}

/** How one Service Bus trigger is served. */
interface TriggerPlan {
  name: string;
  queue: string;
  client: ServiceBusClient;
  sessions: boolean;
  /** The function gets the received message and settles it through the Settlement service. */
  sdkBound: boolean;
  /** The trigger's own autoCompleteMessages wins over host.json, as in the Service Bus extension. */
  autoComplete: boolean;
}

/**
 * Receives with the real SDK and settles as the Functions host does. With autoCompleteMessages:
 * complete after a successful invocation, abandon after a failed one (so Service Bus redelivers
 * and, past the queue's max delivery count, dead-letters). A trigger bound with `sdkBinding: true`
 * gets the message as model binding data and can settle it itself through the Settlement gRPC
 * service, which looks the message up here by lock token while its invocation runs.
 */
export class ServiceBusDriver {
  private readonly abort = new AbortController();
  private readonly loops: Promise<void>[] = [];
  private lease: SettlementLease | undefined;

  constructor(
    private readonly host: FunctionHost,
    private readonly clientFor: (connectionSetting: string) => ServiceBusClient,
    private readonly env: Record<string, string | undefined>,
    private readonly options: ServiceBusHostOptions,
    private readonly onError: (name: string, error: unknown) => void,
    /** The process's Settlement server; only taken when a trigger is SDK-bound. */
    private readonly settlement: () => Promise<SettlementLease>,
  ) {}

  async start(): Promise<void> {
    const plans: TriggerPlan[] = [];
    for (const { metadata } of this.host.registrations) {
      const { binding } = FunctionHost.trigger(metadata);
      if (binding.type !== 'serviceBusTrigger') continue;
      plans.push({
        name: metadata.name,
        queue: resolveSetting(binding.queueName, this.env, `queueName of ${metadata.name}`),
        client: this.clientFor(String(binding.connection ?? 'AzureWebJobsServiceBus')),
        sessions: binding.isSessionsEnabled === true,
        sdkBound: isSdkBound(binding),
        autoComplete:
          typeof binding.autoCompleteMessages === 'boolean'
            ? binding.autoCompleteMessages
            : this.options.autoCompleteMessages,
      });
    }
    if (plans.some((plan) => plan.sdkBound)) this.lease = await this.settlement();
    for (const plan of plans) {
      if (plan.sessions) {
        for (let i = 0; i < this.options.maxConcurrentSessions; i++) this.loops.push(this.sessionLoop(plan));
      } else {
        this.loops.push(this.plainLoop(plan));
      }
    }
  }

  /**
   * Lets in-flight invocations finish and settle, like the host draining on shutdown. The loops end
   * once their invocations have, or within the client's operation timeout (a pending
   * acceptNextSession ignores the abort signal), so the clients must stay open until then: closing them first leaves the SDK
   * waiting a full minute for a reply that cannot come.
   */
  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.loops);
    await this.lease?.release();
    this.lease = undefined;
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private async handle(
    plan: TriggerPlan,
    receiver: ServiceBusReceiver,
    message: ServiceBusReceivedMessage,
  ): Promise<void> {
    if (plan.sdkBound) return this.handleSdkBound(plan, receiver, message);
    try {
      await this.host.invoke(plan.name, bodyToTypedData(message.body), metadataOf(message));
      if (plan.autoComplete) await receiver.completeMessage(message);
    } catch (error) {
      this.onError(plan.name, error);
      if (!this.stopped) {
        await receiver.abandonMessage(message).catch((e: unknown) => this.onError(plan.name, e));
      }
    }
  }

  private async handleSdkBound(
    plan: TriggerPlan,
    receiver: ServiceBusReceiver,
    message: ServiceBusReceivedMessage,
  ): Promise<void> {
    const lease = this.lease;
    if (lease === undefined) throw new Error('the Settlement server was not started');
    if (message.lockToken === undefined)
      throw new Error(`message ${String(message.messageId)} has no lock token`);
    let settled = false;
    let untrack = () => undefined as void;
    // Settling through the gRPC service ends the message's time in flight: a second settlement of
    // the same lock token then gets NOT_FOUND, as a settled token would from Service Bus.
    untrack = lease.track(
      message.lockToken,
      settlementTarget(receiver, message, () => {
        settled = true;
        untrack();
      }),
    );
    try {
      // The trigger metadata is still sent, as the host does for every Service Bus trigger; the
      // function reads its ids from the message itself.
      await this.host.invoke(plan.name, serviceBusModelBindingData(message), metadataOf(message));
      // With autoCompleteMessages off, a function that returned without settling leaves the message
      // locked (auto-renewed up to maxAutoLockRenewalDuration) until the receiver lets go of it.
      if (plan.autoComplete && !settled) await receiver.completeMessage(message);
    } catch (error) {
      this.onError(plan.name, error);
      // A failed invocation that did not settle its message is abandoned, as the Service Bus
      // extension hands a failed message back rather than holding its lock: otherwise the whole
      // session would wait out the lock (5 minutes on pull-jobs) before the retry.
      if (!settled && !this.stopped) {
        await receiver.abandonMessage(message).catch((e: unknown) => this.onError(plan.name, e));
      }
    } finally {
      untrack();
    }
  }

  private async sessionLoop(plan: TriggerPlan): Promise<void> {
    const { name } = plan;
    while (!this.stopped) {
      let receiver: ServiceBusSessionReceiver;
      try {
        receiver = await plan.client.acceptNextSession(plan.queue, {
          maxAutoLockRenewalDurationInMs: this.options.maxAutoLockRenewalDurationMs,
          // An SDK-bound message is forwarded with its annotations as received (timestamps stay timestamps).
          skipConvertingDate: plan.sdkBound,
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
        await this.serveSession(plan, receiver);
      } finally {
        await receiver.close().catch(() => undefined);
      }
    }
  }

  /**
   * Hands one locked session's messages to the function one at a time, until the session has had
   * no message for sessionIdleTimeout, its link fails, or the driver stops; a message being handled
   * always finishes first. Streaming (subscribe) and not batch receives: a receiveMessages call
   * that times out drains the link's credit, and when the broker's answer is 200 ms late (an event
   * loop busy with a page, in this one-process stack) the SDK closes the link, even after handing
   * over a message that came in during the drain. The broker then released the session and gave
   * that message to another receiver while its first invocation still ran.
   */
  private serveSession(plan: TriggerPlan, receiver: ServiceBusSessionReceiver): Promise<void> {
    return new Promise<void>((resolve) => {
      let busy = false;
      let done = false;
      let endAfterMessage = false;
      let idle: NodeJS.Timeout | undefined;
      const end = () => {
        if (done) return;
        done = true;
        clearTimeout(idle);
        this.abort.signal.removeEventListener('abort', endWhenFree);
        resolve();
      };
      function endWhenFree(): void {
        if (busy) endAfterMessage = true;
        else end();
      }
      const armIdle = () => {
        clearTimeout(idle);
        idle = setTimeout(endWhenFree, this.options.sessionIdleTimeoutMs);
      };
      this.abort.signal.addEventListener('abort', endWhenFree, { once: true });
      receiver.subscribe(
        {
          processMessage: async (message) => {
            // Arrived while the session is being let go: left unsettled, so the broker gives it to
            // the session's next receiver once this link closes (counted as a delivery, as on Azure).
            if (done || endAfterMessage) return;
            busy = true;
            clearTimeout(idle);
            try {
              await this.handle(plan, receiver, message);
            } finally {
              busy = false;
              if (endAfterMessage || this.stopped) end();
              else armIdle();
            }
          },
          processError: async ({ error }) => {
            if (done) return;
            if (!this.stopped) this.onError(plan.name, error);
            // A session receiver does not recover from a link error (lock lost, link closed).
            endWhenFree();
          },
        },
        { autoCompleteMessages: false, maxConcurrentCalls: 1 },
      );
      if (this.stopped) endWhenFree();
      else armIdle();
    });
  }

  /**
   * Streams the queue's messages to the function, up to maxConcurrentCalls at once, until the
   * driver stops; then lets the invocations in flight finish and settle before closing. Streaming
   * for the same reason as sessions (see serveSession): a batch receive's drain timing out closes
   * the link under a message already handed over, and the broker redelivers it while it runs.
   */
  private async plainLoop(plan: TriggerPlan): Promise<void> {
    const { name } = plan;
    const receiver = plan.client.createReceiver(plan.queue, {
      maxAutoLockRenewalDurationInMs: this.options.maxAutoLockRenewalDurationMs,
      skipConvertingDate: plan.sdkBound,
    });
    const inFlight = new Set<Promise<void>>();
    try {
      const subscription = receiver.subscribe(
        {
          processMessage: async (message) => {
            // Delivered during shutdown: left unsettled, so it is released when the receiver closes.
            if (this.stopped) return;
            const run = this.handle(plan, receiver, message);
            inFlight.add(run);
            try {
              await run;
            } finally {
              inFlight.delete(run);
            }
          },
          processError: async ({ error }) => {
            // The SDK reconnects a plain receiver by itself; the error is only reported.
            if (!this.stopped) this.onError(name, error);
          },
        },
        { autoCompleteMessages: false, maxConcurrentCalls: this.options.maxConcurrentCalls },
      );
      await untilAborted(this.abort.signal);
      await subscription.close().catch(() => undefined);
      await Promise.all(inFlight);
    } finally {
      await receiver.close().catch(() => undefined);
    }
  }
}

/** Settles one message through the receiver that holds it, for the Settlement service. */
function settlementTarget(
  receiver: ServiceBusReceiver,
  message: ServiceBusReceivedMessage,
  onSettled: () => void,
): SettlementTarget {
  type Properties = Record<string, number | boolean | string | Date | null>;
  const settle = async (work: Promise<void>) => {
    await work;
    onSettled();
  };
  return {
    complete: () => settle(receiver.completeMessage(message)),
    abandon: (properties) => settle(receiver.abandonMessage(message, properties as Properties | undefined)),
    deadLetter: ({ reason, description, propertiesToModify }) =>
      settle(
        // The SDK's typings want both texts; it sends only what is given, as the host does.
        receiver.deadLetterMessage(message, {
          ...(propertiesToModify as Properties | undefined),
          ...(reason !== undefined ? { deadLetterReason: reason } : {}),
          ...(description !== undefined ? { deadLetterErrorDescription: description } : {}),
        } as Parameters<ServiceBusReceiver['deadLetterMessage']>[1]),
      ),
    defer: (properties) => settle(receiver.deferMessage(message, properties as Properties | undefined)),
    renewLock: async () => {
      await receiver.renewMessageLock(message);
    },
  };
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

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
