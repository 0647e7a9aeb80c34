import { randomUUID } from 'node:crypto';
import { AmqpAnnotatedMessage } from '@azure/core-amqp';
// Importing the extension registers its factory for Service Bus model binding data, as in the app.
import '@azure/functions-extensions-servicebus';
import type { ServiceBusMessageContext } from '@azure/functions-extensions-servicebus';
import { ResourceFactoryResolver } from '@azure/functions-extensions-base';
import type { ServiceBusReceivedMessage } from '@azure/service-bus';
import { message as rheaMessage } from 'rhea';
import {
  lockTokenBytes,
  SERVICE_BUS_BINDING_SOURCE,
  serviceBusModelBindingData,
} from '../../local/host/servicebus-binding.codec';

/**
 * A received message as the SDK hands it to the harness: the rhea message decoded from the wire
 * (so the body is a real data section) and the SDK's raw AMQP view of it.
 */
function received(wire: Record<string, unknown>, lockToken: string): ServiceBusReceivedMessage {
  // rhea's decode result and the RheaMessage type core-amqp takes are declared apart; same object.
  const decoded = rheaMessage.decode(rheaMessage.encode(wire)) as unknown as Parameters<
    typeof AmqpAnnotatedMessage.fromRheaMessage
  >[0];
  return {
    body: undefined,
    lockToken,
    _rawAmqpMessage: AmqpAnnotatedMessage.fromRheaMessage(decoded),
  } as unknown as ServiceBusReceivedMessage;
}

/** Decodes model binding data the way the worker does: through the factory the extension registered. */
function decodeWithExtension(message: ServiceBusReceivedMessage): ServiceBusReceivedMessage {
  const typed = serviceBusModelBindingData(message);
  if (!('modelBindingData' in typed)) throw new Error('not model binding data');
  // The extension builds its (lazy) gRPC actions client with the first message and reads the host
  // address from process.argv then; give it one for this test only and restore argv afterwards, so
  // a later test file in this worker starts from a clean command line.
  const argv = [...process.argv];
  // (An integration test earlier in this worker may have set them for its settlement server.)
  if (!argv.includes('--host')) {
    process.argv.push('--host', '127.0.0.1', '--port', '1', '--functions-grpc-max-message-length', '1024');
  }
  try {
    const context = ResourceFactoryResolver.getInstance().createClient(
      typed.modelBindingData.source,
      typed.modelBindingData,
    ) as ServiceBusMessageContext;
    if (Array.isArray(context.messages)) throw new Error('expected one message');
    expect(typeof context.actions.deadletter).toBe('function');
    return context.messages;
  } finally {
    process.argv.splice(0, process.argv.length, ...argv);
  }
}

describe('the harness encodes a received message as the host does for SDK-type bindings', () => {
  it('lays the lock token out in .NET Guid byte order', () => {
    expect(lockTokenBytes('12345678-9abc-def0-1122-334455667788').toString('hex')).toBe(
      '78563412bc9af0de1122334455667788',
    );
    expect(() => lockTokenBytes('not-a-guid')).toThrow(/not a GUID/);
  });

  it('round-trips body, ids, session, lock token and delivery facts through the extension', () => {
    const lockToken = randomUUID();
    const job = { kind: 'pull', entity: 'contact', reason: 'schedule' };
    const message = received(
      {
        message_id: 'pull:contact:2026-01-01T00:00:00.000Z',
        correlation_id: 'corr-7',
        group_id: 'contact',
        content_type: 'application/json',
        subject: 'pull',
        delivery_count: 2,
        application_properties: { origin: 'scheduler', attempt: 3 },
        message_annotations: { 'x-opt-sequence-number': 42 },
        body: rheaMessage.data_section(Buffer.from(JSON.stringify(job))),
      },
      lockToken,
    );
    const typed = serviceBusModelBindingData(message);
    expect(typed).toMatchObject({
      modelBindingData: {
        source: SERVICE_BUS_BINDING_SOURCE,
        contentType: 'application/octet-stream',
        version: '1.0',
      },
    });

    const decoded = decodeWithExtension(message);
    expect(decoded.body).toEqual(job);
    expect(decoded).toMatchObject({
      messageId: 'pull:contact:2026-01-01T00:00:00.000Z',
      correlationId: 'corr-7',
      sessionId: 'contact',
      contentType: 'application/json',
      subject: 'pull',
      lockToken,
      deliveryCount: 2,
      applicationProperties: { origin: 'scheduler', attempt: 3 },
    });
    expect(decoded.sequenceNumber?.toNumber()).toBe(42);
  });

  it('gives bytes sent without a JSON content type to the function as text', () => {
    const lockToken = randomUUID().toUpperCase();
    const decoded = decodeWithExtension(
      received(
        { message_id: 'raw', group_id: 'lead', body: rheaMessage.data_section(Buffer.from('not json {')) },
        lockToken,
      ),
    );
    expect(decoded.body).toBe('not json {');
    expect(decoded.sessionId).toBe('lead');
    // The extension prints the token in lower case; the harness looks tokens up case-insensitively.
    expect(decoded.lockToken).toBe(lockToken.toLowerCase());
  });

  it('refuses a message without a lock token (it could never be settled)', () => {
    const message = received({ message_id: 'peeked', body: rheaMessage.data_section(Buffer.from('{}')) }, '');
    expect(() => serviceBusModelBindingData({ ...message, lockToken: undefined })).toThrow(/no lock token/);
  });
});
