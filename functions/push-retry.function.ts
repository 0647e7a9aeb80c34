import { app, type InvocationContext } from '@azure/functions';
import { loadEnv } from '../shared/config/env.schema';
import { runPushRetry } from '../shared/sync/push-retry.handler';
import { createLogger } from '../shared/telemetry/logger';
import { services } from './app.services';

const { PUSH_RETRY_QUEUE } = loadEnv(process.env, ['serviceBus']);

export async function pushRetry(message: unknown, context: InvocationContext): Promise<void> {
  const s = await services();
  const log = createLogger(context, { level: s.env.LOG_LEVEL });
  const push = s.pushUseCase(log);
  await runPushRetry(
    message,
    { messageId: String(context.triggerMetadata?.messageId ?? '') },
    {
      read: (id) => s.peopleDocuments.read(id),
      push: (docs, options) => push.pushDocuments(docs, options),
      errors: s.syncErrors,
      log,
    },
  );
}

app.serviceBusQueue('push-retry', {
  connection: 'SERVICEBUS',
  queueName: PUSH_RETRY_QUEUE,
  handler: pushRetry,
});
