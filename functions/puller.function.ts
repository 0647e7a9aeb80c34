// Registers the factory that turns the host's Service Bus model binding data into
// `{ messages, actions }`; must load before the first invocation.
import '@azure/functions-extensions-servicebus';
import type { ServiceBusMessageContext } from '@azure/functions-extensions-servicebus';
import { app, type InvocationContext } from '@azure/functions';
import type { ServiceBusReceivedMessage } from '@azure/service-bus';
import { loadEnv } from '../shared/config/env.schema';
import { serviceBusMessageActions } from '../shared/queue/servicebus.message-actions';
import { runPullJob } from '../shared/sync/pull-job.handler';
import { runAndSettle } from '../shared/sync/pull-job.settlement';
import { createLogger } from '../shared/telemetry/logger';
import { services, telemetry } from './app.services';

const { PULL_JOBS_QUEUE } = loadEnv(process.env, ['serviceBus']);

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
  const log = createLogger(context, {
    level: s.env.LOG_LEVEL,
    fields: { messageId, deliveryCount: message.deliveryCount },
  });
  // Missing Dataverse settings surface from the pull itself, as a recorded failed run.
  const governor = () => {
    try {
      return s.dataverse().governor.counters();
    } catch {
      return undefined;
    }
  };
  try {
    await runAndSettle(
      () =>
        telemetry.operation(
          {
            name: `pull ${entity}`,
            correlationId,
            entity,
            traceParent: context.traceContext?.traceParent ?? null,
          },
          () =>
            runPullJob(
              message.body,
              { messageId },
              {
                runs: s.runs,
                catalog: s.catalog,
                enabledEntities: s.env.SYNC_ENTITIES,
                syncConfig: s.syncConfig,
                errors: s.syncErrors,
                queue: s.queue,
                queueName: PULL_JOBS_QUEUE,
                log,
                pull: (profile, options, entityLog) => s.pullEntity(profile, options, entityLog),
                requestCount: () => governor()?.requests ?? 0,
                throttledCount: () => governor()?.throttled ?? 0,
                metrics: telemetry.metrics,
              },
            ),
        ),
      // autoCompleteMessages is off: this invocation settles its own message, through the host.
      serviceBusMessageActions(trigger.actions, message),
      log,
    );
  } finally {
    // The plan may freeze an idle instance right after the invocation: send what is buffered now.
    await telemetry.flush().catch((error: unknown) => log.warn('telemetry flush failed', { error }));
  }
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
