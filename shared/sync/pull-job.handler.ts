import type { EntityCatalog, EntityDefinition } from '../config/entity.catalog';
import { ConfigError } from '../config/config.errors';
import type { SyncConfig } from '../config/sync-config.schema';
import type { RunRecord } from '../cosmos/run-history.repository';
import { buildEntityProfile, type EntityProfile } from '../domain/entity.profile';
import type { JobQueue } from '../queue/job-queue.port';
import { bodyExcerpt, decodeJsonBody } from '../queue/message-body.decoder';
import { pullJobMessageId, pullJobSchema, type PullJob } from '../queue/pull-job.schema';
import { redact } from '../errors/redact.text';
import type { Logger } from '../telemetry/logger';
import { recordPull } from '../telemetry/pull-metrics.recorder';
import type { SyncMetrics } from '../telemetry/sync-metrics';
import type { ErrorSink, PullOptions, PullResult } from './pull.use-case';

export interface RunSink {
  save(run: RunRecord): Promise<void>;
}

export interface PullJobDeps {
  runs: RunSink;
  catalog: EntityCatalog;
  /**
   * Entities this app syncs (SYNC_ENTITIES). A malformed job is filed under its entity only when it
   * is one of them, since the error listing reads those; otherwise under `queue`.
   */
  enabledEntities?: readonly string[];
  syncConfig: SyncConfig;
  errors: ErrorSink;
  queue: JobQueue;
  queueName: string;
  log: Logger;
  /** Runs the pull of one entity (composition builds the use case with its repositories). */
  pull: (profile: EntityProfile, options: PullOptions, log: Logger) => Promise<PullResult>;
  /** Dataverse requests sent so far by this process (the governor's counter). */
  requestCount?: () => number;
  /** Dataverse 429 answers so far in this process (the governor's counter). */
  throttledCount?: () => number;
  /** Per-entity metrics (Application Insights in Azure). */
  metrics?: SyncMetrics;
  now?: () => Date;
}

export type PullJobOutcome =
  | { status: 'rejected'; reason: string }
  | { status: 'succeeded' | 'continued' | 'paused' | 'failed'; result?: PullResult };

const errorCode = (error: unknown): string => {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' || typeof code === 'number' ? String(code) : 'failed';
};

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
  const decoded = decodeJsonBody(body);
  const parsed = decoded.ok ? pullJobSchema.safeParse(decoded.value) : undefined;
  let entity: EntityDefinition | undefined;
  let reason: string | undefined;
  if (!decoded.ok) {
    reason = decoded.reason;
  } else if (parsed === undefined || !parsed.success) {
    reason = parsed?.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
  } else {
    try {
      entity = deps.catalog.get(parsed.data.entity);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      reason = error.message;
    }
  }
  if (parsed === undefined || !parsed.success || entity === undefined) {
    const text = reason ?? 'invalid pull job';
    deps.log.error('malformed pull job', { messageId: meta.messageId, reason: text });
    const claimed = decoded.ok ? (decoded.value as { entity?: unknown } | null)?.entity : undefined;
    const listed = deps.enabledEntities ?? deps.catalog.names;
    await deps.errors.record({
      // Under the entity only when it is synced here; anything else goes to the queue partition,
      // which the error listing always reads (another name would be a partition nobody lists).
      entity: typeof claimed === 'string' && listed.includes(claimed) ? claimed : 'queue',
      recordId: meta.messageId || null,
      operation: 'queue',
      direction: 'queue',
      code: 'invalid_message',
      message: `pull job ${meta.messageId} rejected: ${text}`.slice(0, 2000),
      // A malformed body can hold anything: keep the excerpt short and free of credentials.
      excerpt: redact(bodyExcerpt(body)) as string,
      at: now().toISOString(),
    });
    return { status: 'rejected', reason: text };
  }

  const job = parsed.data;
  const log = deps.log.child({ entity: entity.logicalName, correlationId: job.correlationId });
  const profile = buildEntityProfile(entity, deps.syncConfig);
  const requestsBefore = deps.requestCount?.() ?? 0;
  const throttledBefore = deps.throttledCount?.() ?? 0;
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
    const requests = Math.max(0, (deps.requestCount?.() ?? 0) - requestsBefore);
    await deps.runs.save({
      ...run,
      status,
      finishedAt: finishedAt.toISOString(),
      records: result?.stats.written ?? 0,
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
        throttled: Math.max(0, (deps.throttledCount?.() ?? 0) - throttledBefore),
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
        ...(job.reason === 'manual' || job.reason === 'resync' ? { resume: true } : {}),
      },
      log,
    );
  } catch (error) {
    const retryable = (error as { retryable?: unknown })?.retryable === true;
    const message = (error as Error)?.message ?? String(error);
    log.error('pull job failed', { code: errorCode(error), retryable, message });
    await finish('failed', undefined, { code: errorCode(error), message: message.slice(0, 1000) });
    if (retryable) throw error;
    await deps.errors.record({
      entity: entity.logicalName,
      recordId: null,
      operation: 'pull',
      direction: 'dynamics-to-marketing',
      code: errorCode(error),
      message: message.slice(0, 2000),
      at: now().toISOString(),
      correlationId: job.correlationId,
    });
    return { status: 'failed' };
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
