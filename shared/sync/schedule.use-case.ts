import { randomUUID } from 'node:crypto';
import { CronExpressionParser } from 'cron-parser';
import type { EntityDefinition } from '../config/entity.catalog';
import type { JobQueue } from '../queue/job-queue.port';
import { pullJobMessageId, pullJobSchema, type PullJob } from '../queue/pull-job.schema';
import type { Logger } from '../telemetry/logger';

/**
 * The schedule occurrence a tick belongs to: the latest occurrence at or before `now`. A timer
 * that fires twice for one occurrence (host restart, scale-out) maps to the same slot, so the job's
 * message id repeats and Service Bus duplicate detection drops the second one.
 */
export function slotOf(schedule: string, now: Date): Date {
  const expression = CronExpressionParser.parse(schedule, {
    currentDate: new Date(now.getTime() + 1),
    tz: 'UTC',
  });
  return expression.prev().toDate();
}

export interface ScheduleDeps {
  queue: JobQueue;
  queueName: string;
  log: Logger;
  now?: () => Date;
  newId?: () => string;
}

export interface ScheduleResult {
  slot: string;
  correlationId: string;
  jobs: PullJob[];
}

export async function schedulePullJobs(
  entities: readonly EntityDefinition[],
  schedule: string,
  deps: ScheduleDeps,
): Promise<ScheduleResult> {
  const now = (deps.now ?? (() => new Date()))();
  const slot = slotOf(schedule, now).toISOString();
  const correlationId = (deps.newId ?? randomUUID)();
  const jobs = entities.map((entity) =>
    pullJobSchema.parse({
      kind: 'pull',
      entity: entity.logicalName,
      reason: 'schedule',
      correlationId,
      slot,
      requestedAt: now.toISOString(),
      sequence: 0,
    }),
  );
  await deps.queue.send(
    deps.queueName,
    jobs.map((job) => ({
      body: job,
      messageId: pullJobMessageId(job),
      // One session per entity: Service Bus hands a session to one receiver at a time, so two
      // pulls of the same entity never overlap and they run in order.
      sessionId: job.entity,
      correlationId,
      subject: 'pull',
    })),
  );
  deps.log.info('scheduled pull jobs', { slot, correlationId, entities: jobs.map((j) => j.entity) });
  return { slot, correlationId, jobs };
}
