import { app, type InvocationContext } from '@azure/functions';
import { loadEnv } from '../shared/config/env.schema';
import { logOf, services } from './app.services';

const { PUSH_RETRY_QUEUE } = loadEnv(process.env, ['queues']);

export async function pushRetry(message: unknown, context: InvocationContext): Promise<void> {
  const s = await services();
  await s.sync.runPushRetry(
    message,
    { messageId: String(context.triggerMetadata?.messageId ?? '') },
    logOf(context),
  );
}

app.serviceBusQueue('push-retry', {
  connection: 'SERVICEBUS',
  queueName: PUSH_RETRY_QUEUE,
  handler: pushRetry,
});
