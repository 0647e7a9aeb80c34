import type { EntityCatalog } from '../config/entity.catalog';
import type { RunHistoryRepository } from '../cosmos/run-history.repository';
import { QueueError } from '../queue/queue.errors';
import { pullJobSchema } from '../queue/pull-job.schema';
import type { Logger } from '../telemetry/logger';

export interface PullJobDeps {
  runs: RunHistoryRepository;
  catalog: EntityCatalog;
  log: Logger;
  now?: () => Date;
}

/**
 * Entry of a pull job: validates the message and records the run in the entity's history.
 * The pull itself (change tracking into Cosmos) plugs in here.
 */
export async function runPullJob(
  body: unknown,
  meta: { messageId: string },
  deps: PullJobDeps,
): Promise<void> {
  const parsed = pullJobSchema.safeParse(body);
  if (!parsed.success) {
    const reason = parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
    deps.log.error('malformed pull job', { messageId: meta.messageId, reason });
    throw new QueueError('invalid_message', `malformed pull job ${meta.messageId}: ${reason}`, {
      retryable: false,
    });
  }
  const job = parsed.data;
  const entity = deps.catalog.get(job.entity);
  const now = deps.now ?? (() => new Date());
  const log = deps.log.child({ entity: entity.logicalName, correlationId: job.correlationId });
  const startedAt = now().toISOString();
  const run = {
    id: `run:${meta.messageId}`,
    entity: entity.logicalName,
    type: 'run' as const,
    jobMessageId: meta.messageId,
    correlationId: job.correlationId,
    reason: job.reason,
    startedAt,
    records: 0,
    requests: 0,
  };
  log.info('pull job started', { reason: job.reason, slot: job.slot });
  await deps.runs.save({ ...run, status: 'succeeded', finishedAt: now().toISOString() });
  log.info('pull job finished');
}
