// Registers the factory that turns the host's Service Bus model binding data into
// `{ messages, actions }`; must load before the first invocation.
import '@azure/functions-extensions-servicebus';
import type { ServiceBusMessageContext } from '@azure/functions-extensions-servicebus';
import { app, type InvocationContext } from '@azure/functions';
import type { ServiceBusReceivedMessage } from '@azure/service-bus';
import { runVerifyJob } from '../shared/app/verify.composition';
import { loadEnv } from '../shared/config/env.schema';
import { isVerifyJob } from '../shared/queue/verify-job.schema';
import { serviceBusMessageActions } from '../shared/queue/servicebus.message-actions';
import { logOf, services, telemetry } from './app.services';

const { PULL_JOBS_QUEUE } = loadEnv(process.env, ['queues']);

const text = (value: unknown): string | undefined =>
  value === undefined || value === null
    ? undefined
    : Buffer.isBuffer(value)
      ? value.toString('hex')
      : String(value);

function onlyMessage(messages: ServiceBusMessageContext['messages']): ServiceBusReceivedMessage {
  const list = Array.isArray(messages) ? messages : [messages];
  const [message] = list;
  if (list.length !== 1 || message === undefined) {
    throw new Error(`puller expects one message per invocation (cardinality one), got ${list.length}`);
  }
  return message;
}

export async function puller(trigger: ServiceBusMessageContext, context: InvocationContext): Promise<void> {
  const s = await services();
  // The ids come from the received message itself: with SDK-type bindings the trigger metadata is
  // not something to rely on.
  const message = onlyMessage(trigger.messages);
  const entity = message.sessionId ?? 'unknown';
  const messageId = text(message.messageId) ?? '';
  const correlationId = text(message.correlationId) ?? context.invocationId;
  // Every line says which delivery it belongs to, so redeliveries of a failing job are visible.
  const log = logOf(context).child({ messageId, deliveryCount: message.deliveryCount });
  const actions = serviceBusMessageActions(trigger.actions, message);
  if (isVerifyJob(message.body)) {
    // A verify runs in the entity's session like a pull, so its repair never races one.
    await telemetry.operation(
      {
        name: `verify ${entity}`,
        correlationId,
        entity,
        traceParent: context.traceContext?.traceParent ?? null,
      },
      () => runVerifyJob(s, message.body, actions, { log, metrics: telemetry.metrics }),
    );
    return;
  }
  await telemetry.operation(
    {
      name: `pull ${entity}`,
      correlationId,
      entity,
      traceParent: context.traceContext?.traceParent ?? null,
    },
    () =>
      // autoCompleteMessages is off: this invocation settles its own message, through the host.
      s.sync.runPullJob(message.body, { messageId }, actions, {
        log,
        metrics: telemetry.metrics,
      }),
  );
}

app.serviceBusQueue('puller', {
  connection: 'SERVICEBUS',
  queueName: PULL_JOBS_QUEUE,
  isSessionsEnabled: true,
  // The handler gets the received message and its settlement actions, so a malformed job can be
  // dead-lettered with its reason instead of completed or retried.
  sdkBinding: true,
  autoCompleteMessages: false,
  handler: puller,
});
