import type { ContainerKey, EntityCatalog, EntityDefinition } from '../config/entity.catalog';
import type { SyncConfig } from '../config/sync-config.schema';
import type { SyncErrorInput } from '../cosmos/sync-error.repository';
import type { EntityProfile } from '../domain/entity.profile';
import {
  InProcessJobQueue,
  type DeadLetter,
  type InProcessJobQueueOptions,
  type SettleActions,
} from '../queue/in-process.job-queue';
import type { MessageSettlement } from '../queue/job-queue.port';
import { runPullJob, type RunSink } from '../sync/pull-job.handler';
import { INVALID_PULL_JOB, runAndSettle } from '../sync/pull-job.settlement';
import {
  PullUseCase,
  type ChangeSource,
  type CheckpointStore,
  type ErrorSink,
  type PullOptions,
  type PullResult,
  type RecordStore,
} from '../sync/pull.use-case';
import { schedulePullJobs } from '../sync/schedule.use-case';
import { readAhead } from '../sync/read-ahead.source';
import type { Logger } from '../telemetry/logger';

/**
 * Fewer deliveries than Service Bus's 10, with a growing wait: someone is watching the terminal, and
 * a retryable failure that outlasts ~8 s is better reported than retried for minutes.
 */
export const SYNC_QUEUE_OPTIONS: InProcessJobQueueOptions = { maxDeliveryCount: 5, redeliveryDelayMs: 500 };

export type EntityStatus = 'queued' | 'running' | 'retrying' | 'synced' | 'paused' | 'failed';

/** Live figures of one entity during a run; the progress display and the summary read them. */
export interface EntityProgress {
  entity: string;
  status: EntityStatus;
  /** Rows and tombstones read from Dynamics. */
  read: number;
  pages: number;
  written: number;
  unchanged: number;
  /** Sync-error records written for the entity in this run (invalid rows, a pause, a failed job). */
  errors: number;
  /** Pages fetched: each is one Dataverse request (the governor's own retries are not included). */
  requests: number;
  jobs: number;
  startedAt?: number;
  finishedAt?: number;
  /** Why the entity is not synced (pause reason, last failure). */
  detail?: string;
}

/** Everything the run needs, so the CLI (Cosmos, Dataverse) and the benchmark (in memory) share it. */
export interface SyncOnceDeps {
  catalog: EntityCatalog;
  syncConfig: SyncConfig;
  source: ChangeSource;
  recordsFor(container: ContainerKey): RecordStore;
  checkpoints: CheckpointStore;
  errors: ErrorSink;
  runs: RunSink;
  queueName: string;
  schedule: string;
  timeBudgetMs: number;
  log: Logger;
  pageSize?: number;
  /** Fetch the next Dataverse page while the current one is written (default true). */
  readAhead?: boolean;
  /** Handlers at once; each entity (session) still has at most one. */
  concurrency?: number;
  /** Dataverse requests so far, including retries (the governor's counter). */
  requestCount?: () => number;
  /** The queue to run on (the caller closes it); by default one made here with `queueOptions`. */
  queue?: InProcessJobQueue;
  queueOptions?: InProcessJobQueueOptions;
  now?: () => number;
  /** Called once with every entity's figures before the first job runs. */
  onStart?: (entities: EntityProgress[]) => void;
  /** Called on every change of an entity's figures. */
  onProgress?: (progress: EntityProgress) => void;
}

export interface SyncOnceReport {
  entities: EntityProgress[];
  deadLetters: DeadLetter[];
  /** Governor requests during the run, when a counter was given. */
  requests?: number;
  durationMs: number;
  ok: boolean;
}

/**
 * Runs the scheduler and the pullers in one process on the in-process queue until every job is
 * done, continuation chains included. Same use cases and job handler as the Functions app; only
 * the queue differs, and the ports are wrapped to count per entity.
 */
export async function runSyncOnce(
  entities: readonly EntityDefinition[],
  deps: SyncOnceDeps,
): Promise<SyncOnceReport> {
  const now = deps.now ?? Date.now;
  const started = now();
  const requestsBefore = deps.requestCount?.();
  const progress = new Map<string, EntityProgress>();
  for (const entity of entities) {
    progress.set(entity.logicalName, {
      entity: entity.logicalName,
      status: 'queued',
      read: 0,
      pages: 0,
      written: 0,
      unchanged: 0,
      errors: 0,
      requests: 0,
      jobs: 0,
    });
  }
  const of = (entity: string): EntityProgress | undefined => progress.get(entity);
  const changed = (p: EntityProgress) => deps.onProgress?.(p);

  const errors: ErrorSink = {
    record: async (error: SyncErrorInput) => {
      const result = await deps.errors.record(error);
      const p = of(error.entity);
      if (p !== undefined) {
        p.errors += 1;
        changed(p);
      }
      return result;
    },
  };

  const queue = deps.queue ?? new InProcessJobQueue(deps.queueOptions ?? SYNC_QUEUE_OPTIONS);
  const source = deps.readAhead === false ? deps.source : readAhead(deps.source);
  const pull = async (profile: EntityProfile, options: PullOptions, log: Logger): Promise<PullResult> => {
    const p = of(profile.logicalName);
    const useCase = new PullUseCase(profile, {
      source: p === undefined ? source : countingSource(source, p, changed),
      records:
        p === undefined
          ? deps.recordsFor(profile.container)
          : countingRecords(deps.recordsFor(profile.container), p, changed),
      checkpoints: deps.checkpoints,
      errors,
      log,
      timeBudgetMs: deps.timeBudgetMs,
      ...(deps.pageSize !== undefined ? { pageSize: deps.pageSize } : {}),
    });
    try {
      const result = await useCase.run(options);
      if (p !== undefined) p.unchanged += result.stats.unchanged;
      return result;
    } catch (error) {
      // runPullJob turns a non-retryable failure into an outcome; keep its message for the summary.
      if (p !== undefined) p.detail = (error as Error)?.message ?? String(error);
      throw error;
    }
  };

  const consumer = queue.consume(
    deps.queueName,
    async (message, settle) => {
      const entity = message.sessionId ?? '';
      const p = of(entity);
      if (p !== undefined) {
        p.status = 'running';
        p.jobs += 1;
        p.startedAt ??= now();
        changed(p);
      }
      let outcome: Awaited<ReturnType<typeof runPullJob>>;
      try {
        // Same settlement as the Functions puller: a rejected job is dead-lettered with its reason.
        outcome = await runAndSettle(
          () =>
            runPullJob(
              message.body,
              { messageId: message.messageId },
              {
                runs: deps.runs,
                catalog: deps.catalog,
                enabledEntities: entities.map((e) => e.logicalName),
                syncConfig: deps.syncConfig,
                errors,
                queue,
                queueName: deps.queueName,
                log: deps.log,
                pull,
                ...(deps.requestCount !== undefined ? { requestCount: deps.requestCount } : {}),
              },
            ),
          inProcessActions(settle),
          deps.log,
        );
      } catch (error) {
        if (p !== undefined) {
          p.status = 'retrying';
          p.detail = `${(error as Error)?.message ?? String(error)} (delivery ${message.deliveryCount})`;
          changed(p);
        }
        throw error;
      }
      if (p === undefined) return;
      const finish = (status: EntityStatus, detail?: string) => {
        p.status = status;
        p.finishedAt = now();
        if (detail !== undefined) p.detail = detail;
        else delete p.detail;
        changed(p);
      };
      switch (outcome.status) {
        case 'succeeded':
          return finish('synced');
        case 'continued':
          // The continuation is already queued in the same session.
          p.status = 'running';
          return changed(p);
        case 'paused':
          return finish('paused', pausedDetail(outcome.result));
        case 'failed':
          return finish('failed', p.detail ?? 'the pull job failed; see the sync errors');
        case 'rejected':
          return finish('failed', `job rejected: ${outcome.reason}`);
      }
    },
    { concurrency: deps.concurrency ?? 4 },
  );

  deps.onStart?.([...progress.values()]);
  try {
    await schedulePullJobs(entities, deps.schedule, {
      queue,
      queueName: deps.queueName,
      log: deps.log,
      now: () => new Date(now()),
    });
    await queue.idle();
  } finally {
    await consumer.close();
    if (deps.queue === undefined) await queue.close();
  }

  const deadLetters = queue.deadLettered();
  for (const dead of deadLetters) {
    // A rejected job already set its entity's status when it ran (a later job may have synced it);
    // only a job whose retries ran out leaves its entity failed here.
    if (dead.reason === INVALID_PULL_JOB) continue;
    const p = of(dead.message.sessionId ?? '');
    if (p === undefined) continue;
    p.status = 'failed';
    p.finishedAt ??= now();
    p.detail = `retries exhausted after ${dead.message.deliveryCount} deliveries: ${dead.description}`;
    changed(p);
  }
  const list = [...progress.values()];
  for (const p of list) {
    // A job that never finished (closed early) must not read as synced.
    if (p.status === 'queued' || p.status === 'running' || p.status === 'retrying') {
      p.status = 'failed';
      p.detail ??=
        p.jobs === 0
          ? 'no job ran (a job of this schedule slot was already accepted by this queue: duplicate detection)'
          : 'did not finish';
    }
  }
  const requestsAfter = deps.requestCount?.();
  return {
    entities: list,
    deadLetters,
    ...(requestsBefore !== undefined && requestsAfter !== undefined
      ? { requests: requestsAfter - requestsBefore }
      : {}),
    durationMs: now() - started,
    ok: list.every((p) => p.status === 'synced'),
  };
}

/**
 * The in-process queue settles by how the handler ends: resolving completes, throwing abandons
 * (redelivery until maxDeliveryCount), and a dead-letter request made during the handler wins.
 */
function inProcessActions(settle: SettleActions): MessageSettlement {
  return {
    complete: async () => undefined,
    abandon: async () => undefined,
    deadLetter: async (reason, description) => settle.deadLetter(reason, description),
  };
}

function pausedDetail(result: PullResult | undefined): string {
  const paused = result?.paused;
  if (paused === undefined) return 'see the sync errors';
  return `${paused.code}: ${paused.reason}`;
}

function countingSource(
  source: ChangeSource,
  p: EntityProgress,
  changed: (p: EntityProgress) => void,
): ChangeSource {
  return {
    readChanges: (options) =>
      countPages(source.readChanges(options), p, changed, (page) => page.rows.length + page.deleted.length),
    queryModifiedSince: (options) =>
      countPages(source.queryModifiedSince(options), p, changed, (page) => page.rows.length),
  };
}

async function* countPages<T>(
  pages: AsyncIterable<T>,
  p: EntityProgress,
  changed: (p: EntityProgress) => void,
  size: (page: T) => number,
): AsyncGenerator<T> {
  for await (const page of pages) {
    p.pages += 1;
    p.requests += 1;
    p.read += size(page);
    changed(p);
    yield page;
  }
}

function countingRecords(
  records: RecordStore,
  p: EntityProgress,
  changed: (p: EntityProgress) => void,
): RecordStore {
  return {
    findForPage: (ids) => records.findForPage(ids),
    recordsOf: (entity) => records.recordsOf(entity),
    // Optional capabilities stay absent when the store lacks them (the pull then reads first).
    ...(records.hasRecordsOf !== undefined ? { hasRecordsOf: records.hasRecordsOf.bind(records) } : {}),
    ...(records.aliasesOf !== undefined ? { aliasesOf: records.aliasesOf.bind(records) } : {}),
    // A getter: the store may change its mind (a bulk store falling back to single writes).
    get preferredWriteBatch() {
      return records.preferredWriteBatch;
    },
    write: async (docs, knownEtags) => {
      const outcome = await records.write(docs, knownEtags);
      p.written += outcome.written;
      changed(p);
      return outcome;
    },
  };
}
