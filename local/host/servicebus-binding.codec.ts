import { AmqpAnnotatedMessage } from '@azure/core-amqp';
import type { ServiceBusReceivedMessage } from '@azure/service-bus';
import { message as rheaMessage } from 'rhea';
import type { RpcTypedData } from './function-host';

/** ModelBindingData.source the Service Bus extension registers its factory under. */
export const SERVICE_BUS_BINDING_SOURCE = 'AzureServiceBusReceivedMessage';

/** The marker `@azure/functions-extensions-servicebus` 0.2.0-preview searches for between lock token and message. */
const LOCK_TOKEN_MARKER = Buffer.from('x-opt-lock-token', 'ascii');

/**
 * A lock token's 16 bytes in .NET's Guid.ToByteArray() order (the first three groups
 * little-endian), which is how the host sends it and how the extension reads it back
 * (LockTokenUtil.convertToString reverses exactly those groups).
 */
export function lockTokenBytes(lockToken: string): Buffer {
  const hex = lockToken.replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new Error(`lock token "${lockToken}" is not a GUID`);
  const bytes = Buffer.from(hex, 'hex');
  return Buffer.concat([
    Buffer.from(bytes.subarray(0, 4)).reverse(),
    Buffer.from(bytes.subarray(4, 6)).reverse(),
    Buffer.from(bytes.subarray(6, 8)).reverse(),
    bytes.subarray(8),
  ]);
}

/**
 * The content of the model binding data for a received message, in the layout the installed
 * extension decodes (src/util/serviceBusMessageDecoder.ts): lock token bytes, the ASCII marker
 * `x-opt-lock-token`, then the AMQP-encoded message. The message is re-encoded from the SDK's raw
 * AMQP view of what the broker sent (sections, annotations, application properties, body section
 * unchanged), which is the nearest we get to the bytes the host forwards.
 */
export function serviceBusBindingContent(message: ServiceBusReceivedMessage): Buffer {
  if (message.lockToken === undefined) {
    throw new Error(`message ${String(message.messageId)} has no lock token (received in peek-lock mode?)`);
  }
  const amqp = rheaMessage.encode(AmqpAnnotatedMessage.toRheaMessage(message._rawAmqpMessage));
  return Buffer.concat([lockTokenBytes(message.lockToken), LOCK_TOKEN_MARKER, amqp]);
}

/** What the host sends as the trigger input of a binding marked `supportsDeferredBinding`. */
export function serviceBusModelBindingData(message: ServiceBusReceivedMessage): RpcTypedData {
  return {
    modelBindingData: {
      version: '1.0',
      source: SERVICE_BUS_BINDING_SOURCE,
      contentType: 'application/octet-stream',
      content: serviceBusBindingContent(message),
    },
  };
}
