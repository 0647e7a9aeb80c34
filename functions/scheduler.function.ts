import { randomUUID } from 'node:crypto';
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { loadEnv } from '../shared/config/env.schema';
import { schedulePullJobs } from '../shared/sync/schedule.use-case';
import { logOf, services, telemetry } from './app.services';

const { SYNC_SCHEDULE } = loadEnv(process.env, ['sync']);

export async function scheduler(timer: Timer, context: InvocationContext): Promise<void> {
  const s = await services();
  const log = logOf(context);
  if (timer.isPastDue) log.warn('timer is past due; scheduling the current slot only');
  // The correlation id travels on every job message and every log line the jobs cause.
  const correlationId = randomUUID();
  await telemetry.operation(
    { name: 'schedule', correlationId, traceParent: context.traceContext?.traceParent ?? null },
    () =>
      schedulePullJobs(s.catalog.enabled(s.env.SYNC_ENTITIES), s.env.SYNC_SCHEDULE, {
        queue: s.queue,
        queueName: s.env.PULL_JOBS_QUEUE,
        log,
        newId: () => correlationId,
      }),
  );
}

app.timer('scheduler', { schedule: SYNC_SCHEDULE, handler: scheduler });
