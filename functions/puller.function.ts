import { app, type InvocationContext } from '@azure/functions';
import { loadEnv } from '../shared/config/env.schema';
import { runPullJob } from '../shared/sync/pull-job.handler';
import { createLogger } from '../shared/telemetry/logger';
import { services } from './app.services';

const { PULL_JOBS_QUEUE } = loadEnv(process.env, ['serviceBus']);

export async function puller(message: unknown, context: InvocationContext): Promise<void> {
  const s = await services();
  const log = createLogger(context, { level: s.env.LOG_LEVEL });
  await runPullJob(
    message,
    { messageId: String(context.triggerMetadata?.messageId ?? '') },
    {
      runs: s.runs,
      catalog: s.catalog,
      syncConfig: s.syncConfig,
      errors: s.syncErrors,
      queue: s.queue,
      queueName: PULL_JOBS_QUEUE,
      log,
      pull: (profile, options, entityLog) => s.pullEntity(profile, options, entityLog),
      // Missing Dataverse settings surface from the pull itself, as a recorded failed run.
      requestCount: () => {
        try {
          return s.dataverse().governor.counters().requests;
        } catch {
          return 0;
        }
      },
    },
  );
}

app.serviceBusQueue('puller', {
  connection: 'SERVICEBUS',
  queueName: PULL_JOBS_QUEUE,
  isSessionsEnabled: true,
  handler: puller,
});
