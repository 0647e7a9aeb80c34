import type { SyncComposition } from '../app/sync.composition';
import type { EntityDefinition } from '../config/entity.catalog';
import {
  InProcessJobQueue,
  type DeadLetter,
  type InProcessJobQueueOptions,
  type SettleActions,
} from '../queue/in-process.job-queue';
import type { MessageSettlement } from '../queue/job-queue.port';
import { describeError } from '../errors/app.errors';
import type { PullJobOutcome } from '../sync/pull-job.handler';
import { INVALID_PULL_JOB } from '../sync/pull-job.settlement';
import type { PullResult } from '../sync/pull.use-case';
import type { PullObserver } from '../sync/ports';
import { schedulePullJobs } from '../sync/schedule.use-case';
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
  /** Rows and tombstones received from Dynamics; a page read again (after a failed delivery, by the catch-up pass) counts again. */
  read: number;
  pages: number;
  /** Rows and tombstones read whose change was stored; each row read is written, unchanged or neither. */
  written: number;
  /** Rows read whose synced values were already stored. */
  unchanged: number;
  /** Records found gone from Dynamics without a tombstone (the end of a resync) and marked deleted: not rows read. */
  markedDeleted: number;
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

/** What the run needs: the composed sync (Cosmos and Dataverse in the CLI, memory in a benchmark). */
export interface SyncOnceDeps {
  sync: SyncComposition;
  queueName: string;
  schedule: string;
  log: Logger;
  /** Handlers at once; each entity (session) still has at most one. */
  concurrency?: number;
  /** Dataverse requests so far, including retries (the governor's counter). */
  requestCount?: () => number;
  /** The queue the composition sends continuations to; the caller closes it. */
  queue: InProcessJobQueue;
  now?: () => number;
  /** Called once with every entity's figures before the first job runs. */
  onStart?: (entities: EntityProgress[]) => void;
  /** Called on every change of an entity's figures. */
  onProgress?: (progress: EntityProgress) => void;
}

/** The figures of an entity before its first job runs. */
export const queuedProgress = (entity: string): EntityProgress => ({
  entity,
  status: 'queued',
  read: 0,
  pages: 0,
  written: 0,
  unchanged: 0,
  markedDeleted: 0,
  errors: 0,
  requests: 0,
  jobs: 0,
});

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
 * done, continuation chains included. Same composition, job handler and settlement as the Functions
 * app; only the queue differs, and the figures come from the pull's progress events.
 */
export async function runSyncOnce(
  entities: readonly EntityDefinition[],
  deps: SyncOnceDeps,
): Promise<SyncOnceReport> {
  const now = deps.now ?? Date.now;
  const started = now();
  const requestsBefore = deps.requestCount?.();
  const progress = new Map<string, EntityProgress>();
  for (const entity of entities) progress.set(entity.logicalName, queuedProgress(entity.logicalName));
  const of = (entity: string): EntityProgress | undefined => progress.get(entity);
  const changed = (p: EntityProgress) => deps.onProgress?.(p);

  // Progress comes from the pull's own events; the use cases are the composition's, untouched.
  const observer: PullObserver = {
    pageRead: (entity, records) => {
      const p = of(entity);
      if (p === undefined) return;
      p.pages += 1;
      p.requests += 1;
      p.read += records;
      changed(p);
    },
    rowsSettled: (entity, counts) => {
      const p = of(entity);
      if (p === undefined) return;
      p.written += counts.written;
      p.unchanged += counts.unchanged;
      changed(p);
    },
    errorRecorded: (entity) => {
      const p = of(entity);
      if (p === undefined) return;
      p.errors += 1;
      changed(p);
    },
  };

  const queue = deps.queue;
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
      let outcome: PullJobOutcome;
      try {
        // Same job handler and settlement as the Functions puller: a rejected job is dead-lettered.
        outcome = await deps.sync.runPullJob(
          message.body,
          { messageId: message.messageId },
          inProcessActions(settle),
          { log: deps.log, observer },
        );
        if (p !== undefined && 'result' in outcome) p.markedDeleted += outcome.result.stats.markedDeleted;
      } catch (error) {
        if (p !== undefined) {
          p.status = 'retrying';
          p.detail = `${describeError(error)} (delivery ${message.deliveryCount})`;
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
          return finish('failed', outcome.reason);
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
