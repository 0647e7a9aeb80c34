import { app, type InvocationContext } from '@azure/functions';
import { loadEnv } from '../shared/config/env.schema';
import { runPullJob } from '../shared/sync/pull-job.handler';
import { createLogger } from '../shared/telemetry/logger';
import { services, telemetry } from './app.services';

const { PULL_JOBS_QUEUE } = loadEnv(process.env, ['serviceBus']);

export async function puller(message: unknown, context: InvocationContext): Promise<void> {
  const s = await services();
  const log = createLogger(context, { level: s.env.LOG_LEVEL });
  // Missing Dataverse settings surface from the pull itself, as a recorded failed run.
  const governor = () => {
    try {
      return s.dataverse().governor.counters();
    } catch {
      return undefined;
    }
  };
  const entity = String(context.triggerMetadata?.sessionId ?? 'unknown');
  const correlationId = String(context.triggerMetadata?.correlationId ?? context.invocationId);
  try {
    await telemetry.operation(
      {
        name: `pull ${entity}`,
        correlationId,
        entity,
        traceParent: context.traceContext?.traceParent ?? null,
      },
      () =>
        runPullJob(
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
            requestCount: () => governor()?.requests ?? 0,
            throttledCount: () => governor()?.throttled ?? 0,
            metrics: telemetry.metrics,
          },
        ),
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
  handler: puller,
});
