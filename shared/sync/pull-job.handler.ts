import type { EntityCatalog, EntityDefinition } from '../config/entity.catalog';
import { ConfigError } from '../config/config.errors';
import type { SyncConfig } from '../config/sync-config.schema';
import type { RunRecord } from '../domain/run-record.model';
import { buildEntityProfile, type EntityProfile } from '../domain/entity.profile';
import type { JobQueue } from '../queue/job-queue.port';
import { malformedMessageError, parseMessageBody } from '../queue/message-body.decoder';
import { pullJobMessageId, pullJobSchema, type PullJob } from '../queue/pull-job.schema';
import { describeError, errorCodeOf, isRetryable } from '../errors/app.errors';
import type { Logger } from '../telemetry/logger';
import { recordPull } from '../telemetry/pull-metrics.recorder';
import type { SyncMetrics } from '../telemetry/sync-metrics';
import type { PullOptions, PullResult } from './pull.use-case';
import type { ErrorSink, PullObserver, RunSink } from './ports';

export interface PullJobDeps {
  runs: RunSink;
  catalog: EntityCatalog;
  /**
   * Entities this app syncs (SYNC_ENTITIES). A malformed job is filed under its entity only when it
   * is one of them, since the error listing reads those; otherwise under `queue`.
   */
  enabledEntities: readonly string[];
  syncConfig: SyncConfig;
  errors: ErrorSink;
  queue: JobQueue;
  queueName: string;
  log: Logger;
  /** Runs the pull of one entity (composition builds the use case with its repositories). */
  pull: (profile: EntityProfile, options: PullOptions, log: Logger) => Promise<PullResult>;
  /** Told of the error records this job adds besides the pull's own. */
  observer: PullObserver;
  /** Dataverse requests and 429 answers so far in this process (the governor's counters). */
  dataverseCounters: () => { requests: number; throttled: number };
  /** Per-entity metrics (Application Insights in Azure). */
  metrics?: SyncMetrics;
  now?: () => Date;
}

export type PullJobOutcome =
  | { status: 'rejected' | 'failed'; reason: string }
  | { status: 'succeeded' | 'continued' | 'paused'; result: PullResult };

/**
 * Entry of a pull job. A malformed message (not JSON, not a pull job, or an entity the catalog does
 * not know) is recorded as a sync error and answered with `rejected` and its reason, never thrown:
 * a redelivery could not fix it. The caller dead-letters it with that reason (see
 * pull-job.settlement.ts), so it is visible both in the dead-letter queue and through the API. A
 * retryable failure is rethrown so Service Bus redelivers the job; anything else is recorded and the
 * job completes, so one bad entity cannot block its session.
 */
export async function runPullJob(
  body: unknown,
  meta: { messageId: string },
  deps: PullJobDeps,
): Promise<PullJobOutcome> {
  const now = deps.now ?? (() => new Date());
  const parsed = parseMessageBody(body, pullJobSchema);
  let entity: EntityDefinition | undefined;
  let reason = parsed.ok ? undefined : parsed.reason;
  if (parsed.ok) {
    try {
      entity = deps.catalog.get(parsed.value.entity);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      reason = error.message;
    }
  }
  if (!parsed.ok || entity === undefined) {
    const text = reason ?? 'invalid pull job';
    deps.log.error('malformed pull job', { messageId: meta.messageId, reason: text });
    const claimed = ((parsed.value ?? null) as { entity?: unknown } | null)?.entity;
    const listed = deps.enabledEntities;
    // Under the entity only when it is synced here; anything else goes to the queue partition.
    const filedUnder = typeof claimed === 'string' && listed.includes(claimed) ? claimed : 'queue';
    await deps.errors.record(
      malformedMessageError('pull job', meta.messageId, text, body, {
        entity: filedUnder,
        at: now().toISOString(),
        // A job of an entity the catalog does not know failed on its entity alone.
        fields: parsed.ok ? [['entity']] : parsed.fields,
      }),
    );
    deps.observer.errorRecorded(filedUnder);
    return { status: 'rejected', reason: text };
  }

  const job = parsed.value;
  const log = deps.log.child({ entity: entity.logicalName, correlationId: job.correlationId });
  const profile = buildEntityProfile(entity, deps.syncConfig);
  const countersBefore = deps.dataverseCounters();
  const startedAt = now();
  const run: RunRecord = {
    id: `run:${meta.messageId}`,
    entity: entity.logicalName,
    type: 'run',
    jobMessageId: meta.messageId,
    correlationId: job.correlationId,
    reason: job.reason,
    startedAt: now().toISOString(),
    status: 'running',
    records: 0,
    requests: 0,
  };
  await deps.runs.save(run);
  log.info('pull job started', { reason: job.reason, slot: job.slot, sequence: job.sequence });

  const finish = async (
    status: RunRecord['status'],
    result?: PullResult,
    error?: { code: string; message: string },
  ) => {
    const finishedAt = now();
    const counters = deps.dataverseCounters();
    const requests = Math.max(0, counters.requests - countersBefore.requests);
    await deps.runs.save({
      ...run,
      status,
      finishedAt: finishedAt.toISOString(),
      records: result?.stats.written ?? 0,
      read: (result?.stats.rows ?? 0) + (result?.stats.deleted ?? 0),
      caughtUp: result?.outcome === 'done' && job.reason !== 'reread',
      requests,
      ...(error !== undefined ? { error } : {}),
    });
    if (deps.metrics !== undefined) {
      recordPull(deps.metrics, {
        entity: entity.logicalName,
        status: status === 'running' ? 'failed' : status,
        slot: job.slot,
        startedAt,
        finishedAt,
        written: result?.stats.written ?? 0,
        invalid: result?.stats.invalid ?? 0,
        requests,
        throttled: Math.max(0, counters.throttled - countersBefore.throttled),
      });
    }
  };

  let result: PullResult;
  try {
    result = await deps.pull(
      profile,
      {
        correlationId: job.correlationId,
        // A resync job derives its load id from the message, so a redelivery resumes the same load.
        ...(job.reason === 'resync' ? { resyncLoadId: `resync:${meta.messageId || job.slot}` } : {}),
        ...(job.rowIds !== undefined ? { reread: job.rowIds } : {}),
        ...(job.reason === 'manual' || job.reason === 'resync' ? { resume: true } : {}),
      },
      log,
    );
  } catch (error) {
    const retryable = isRetryable(error);
    const message = describeError(error);
    const code = errorCodeOf(error);
    log.error('pull job failed', { code, retryable, message });
    await finish('failed', undefined, { code, message: message.slice(0, 1000) });
    if (retryable) throw error;
    await deps.errors.record({
      entity: entity.logicalName,
      recordId: null,
      operation: 'pull',
      code,
      message,
      at: now().toISOString(),
      correlationId: job.correlationId,
    });
    deps.observer.errorRecorded(entity.logicalName);
    return { status: 'failed', reason: message };
  }

  if (result.outcome === 'continue') {
    const next: PullJob = {
      ...job,
      reason: 'continuation',
      sequence: job.sequence + 1,
      requestedAt: now().toISOString(),
    };
    // Same session (the entity), so the continuation runs after this job and never beside it.
    await deps.queue.send(deps.queueName, [
      {
        body: next,
        messageId: pullJobMessageId(next),
        sessionId: next.entity,
        correlationId: job.correlationId,
        subject: 'pull',
      },
    ]);
    await finish('continued', result);
    log.info('pull job continues', { phase: result.phase, ...result.stats });
    return { status: 'continued', result };
  }
  if (result.outcome === 'paused') {
    await finish('paused', result, {
      code: result.paused?.code ?? 'paused',
      message: `entity paused: ${result.paused?.reason ?? 'see sync errors'}`.slice(0, 1000),
    });
    log.warn('entity is paused', { reason: result.paused?.reason });
    return { status: 'paused', result };
  }
  await finish('succeeded', result);
  log.info('pull job finished', { phase: result.phase, ...result.stats });
  return { status: 'succeeded', result };
}
