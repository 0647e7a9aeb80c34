import type { ServiceBusMessageContext } from '@azure/functions-extensions-servicebus';
import type { ServiceBusReceivedMessage } from '@azure/service-bus';
import type { MessageSettlement } from './job-queue.port';

/**
 * The dead-letter reason and description are `google.protobuf.StringValue` fields in the
 * Settlement proto. `@azure/functions-extensions-servicebus` 0.2.0-preview passes the plain strings
 * to the gRPC serializer, which refuses them ("deadletterReason: object expected") and fails the
 * call; the wrapper message `{ value }` is the form protobuf expects (and the host receives).
 */
const stringValue = (value: string): string => ({ value }) as unknown as string;

/** Binds the SDK binding's message actions (gRPC to the Functions host) to one message. */
export function serviceBusMessageActions(
  actions: ServiceBusMessageContext['actions'],
  message: ServiceBusReceivedMessage,
): MessageSettlement {
  return {
    complete: () => actions.complete(message),
    abandon: () => actions.abandon(message),
    deadLetter: (reason, description) =>
      actions.deadletter(message, undefined, stringValue(reason), stringValue(description)),
  };
}
