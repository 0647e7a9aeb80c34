import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { EntityCatalog } from '../config/entity.catalog';
import { paused, startFullLoad, startRebaseline } from '../domain/checkpoint.state';
import type { SyncErrorRecord } from '../domain/sync-error.model';
import { AppError } from '../errors/app.errors';
import type { JobQueue } from '../queue/job-queue.port';
import { pullJobMessageId, pullJobSchema, type PullJob } from '../queue/pull-job.schema';
import type { CheckpointStore, ErrorLog, RecordStore } from './ports';
import { manualRetryMessage } from './push-retry.message';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids the API takes: what Cosmos DB accepts as an id, never a path or a URL fragment. */
export const documentIdSchema = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[^/\\#?\s]+$/, 'must be a document id: no /, \\, #, ? or spaces');

export const pullModeSchema = z.enum(['now', 'resync', 'pause', 'resume']);
export type PullMode = z.output<typeof pullModeSchema>;

/** The body of `POST /api/errors/retry`. */
export const errorRetryRequestSchema = z.union([
  z.strictObject({ errorIds: z.array(documentIdSchema).min(1).max(1000) }),
  z.strictObject({ all: z.literal(true), entity: z.string().regex(/^[a-z][a-z0-9_]*$/) }),
]);
export type ErrorRetryRequest = z.output<typeof errorRetryRequestSchema>;

export interface RetryAnswer {
  /** Error ids whose retry is queued. */
  queued: string[];
  /** Ids that name no error record. */
  unknown: string[];
  /** Records that cannot be retried, and why (a malformed message can only be sent again). */
  skipped: { id: string; reason: string }[];
}

export interface ManualActionDeps {
  catalog: EntityCatalog;
  enabledEntities: readonly string[];
  queue: JobQueue;
  pullQueue: string;
  pushRetryQueue: string;
  errors: ErrorLog;
  checkpoints: CheckpointStore;
  people: Pick<RecordStore, 'read'>;
  now?: () => Date;
  newId?: () => string;
}

export type ManualActionCode = 'unknown_entity' | 'entity_not_enabled' | 'checkpoint_busy';

/** An operator asked for something this deployment cannot do; never retryable. */
export class ManualActionError extends AppError<ManualActionCode> {
  constructor(code: ManualActionCode, message: string) {
    super('ManualActionError', code, message, false);
  }
}

/** Pause and resume edit the checkpoint under its _etag; a puller moving it meanwhile is retried this often. */
const CHECKPOINT_ATTEMPTS = 5;

/**
 * Operator actions: sync an entity now, resync it, pause and resume it, retry errors and parked
 * pushes. Work is only enqueued in the entity's session, so an action never runs beside a pull;
 * pause and resume write the checkpoint under its _etag for the same reason.
 */
export class ManualActions {
  constructor(private readonly deps: ManualActionDeps) {}

  private get now(): Date {
    return (this.deps.now ?? (() => new Date()))();
  }

  /** The entity, if it is synced here; a clear 404-class error otherwise. */
  enabledEntity(entity: string): string {
    if (!this.deps.catalog.names.includes(entity)) {
      throw new ManualActionError(
        'unknown_entity',
        `unknown entity "${entity.slice(0, 64)}"; known: ${this.deps.catalog.names.join(', ')}`,
      );
    }
    if (!this.deps.enabledEntities.includes(entity)) {
      throw new ManualActionError(
        'entity_not_enabled',
        `entity "${entity}" is not synced here (SYNC_ENTITIES: ${this.deps.enabledEntities.join(', ')})`,
      );
    }
    return entity;
  }

  /** `now` and `resume` queue a pull that also clears a pause; `resync` a full reload; `pause` stops the entity. */
  async requestPull(entity: string, mode: PullMode): Promise<PullJob | { entity: string; paused: boolean }> {
    this.enabledEntity(entity);
    if (mode === 'pause') {
      await this.pause(entity);
      return { entity, paused: true };
    }
    return this.enqueue(entity, mode === 'resync' ? 'resync' : 'manual');
  }

  /**
   * Retries errors: a pull error's row is read again by id in its entity's session, a push error's
   * person gets a fresh series of attempts, an entity-wide pull error gets a pull of the entity.
   */
  async retryErrors(request: ErrorRetryRequest): Promise<RetryAnswer> {
    let records: SyncErrorRecord[];
    const answer: RetryAnswer = { queued: [], unknown: [], skipped: [] };
    if ('errorIds' in request) {
      const ids = [...new Set(request.errorIds)];
      records = await this.deps.errors.byIds(ids);
      const found = new Set(records.map((r) => r.id));
      answer.unknown = ids.filter((id) => !found.has(id));
    } else {
      this.enabledEntity(request.entity);
      records = await this.openErrorsOf(request.entity);
    }
    const rows = new Map<string, { errors: string[]; rowIds: Set<string> }>();
    const persons: { errorId: string; personId: string }[] = [];
    const wholeEntity = new Map<string, string[]>();
    for (const record of records) {
      if (record.operation === 'queue') {
        answer.skipped.push({
          id: record.id,
          reason: 'a rejected queue message cannot be retried; send a valid one',
        });
      } else if (record.operation === 'push' && record.recordId !== null) {
        persons.push({ errorId: record.id, personId: record.recordId });
      } else if (
        record.recordId !== null &&
        GUID.test(record.recordId) &&
        this.deps.enabledEntities.includes(record.entity)
      ) {
        const group = rows.get(record.entity) ?? { errors: [], rowIds: new Set<string>() };
        group.errors.push(record.id);
        group.rowIds.add(record.recordId.toLowerCase());
        rows.set(record.entity, group);
      } else if (this.deps.enabledEntities.includes(record.entity)) {
        wholeEntity.set(record.entity, [...(wholeEntity.get(record.entity) ?? []), record.id]);
      } else {
        answer.skipped.push({ id: record.id, reason: `entity "${record.entity}" is not synced here` });
      }
    }
    for (const [entity, group] of rows) {
      const ids = [...group.rowIds];
      for (let start = 0; start < ids.length; start += 1000) {
        await this.enqueue(entity, 'reread', {
          rowIds: ids.slice(start, start + 1000),
          sequence: start / 1000,
        });
      }
      answer.queued.push(...group.errors);
    }
    for (const [entity, errorIds] of wholeEntity) {
      await this.enqueue(entity, 'manual');
      answer.queued.push(...errorIds);
    }
    if (persons.length > 0) {
      await this.retryParkedPushes(persons.map((p) => p.personId));
      answer.queued.push(...persons.map((p) => p.errorId));
    }
    return answer;
  }

  /**
   * A fresh series of push attempts for these people. Ids that name no person document are
   * reported, not queued; the rest go in one message.
   */
  async retryParkedPushes(personIds: readonly string[]): Promise<{ queued: string[]; unknown: string[] }> {
    const unique = [...new Set(personIds)];
    const found = await Promise.all(
      unique.map(async (id) => ((await this.deps.people.read(id)) === undefined ? undefined : id)),
    );
    const queued = found.filter((id): id is string => id !== undefined);
    const unknown = unique.filter((id) => !queued.includes(id));
    if (queued.length > 0) {
      const message = manualRetryMessage(queued, this.now);
      await this.deps.queue.send(this.deps.pushRetryQueue, [
        { body: message, messageId: `push-retry:manual:${(this.deps.newId ?? randomUUID)()}` },
      ]);
    }
    return { queued, unknown };
  }

  private async openErrorsOf(entity: string): Promise<SyncErrorRecord[]> {
    const out: SyncErrorRecord[] = [];
    let continuation: string | undefined;
    do {
      const page = await this.deps.errors.search({
        entity,
        status: 'open',
        limit: 1000,
        ...(continuation !== undefined ? { continuation } : {}),
      });
      out.push(...page.errors);
      continuation = page.continuation;
    } while (continuation !== undefined && out.length < 100_000);
    return out;
  }

  /**
   * After a sandbox refresh or instance copy: every entity (or those named) starts a full load in
   * the organisation answering now, matching rows to people by id and email, and a pull of each is
   * queued. Replaces any checkpoint, paused or not; nothing stored is removed.
   */
  async rebaseline(entities: readonly string[] = this.deps.enabledEntities): Promise<PullJob[]> {
    for (const entity of entities) this.enabledEntity(entity);
    const jobs: PullJob[] = [];
    for (const entity of entities) {
      const loadId = `rebaseline:${(this.deps.newId ?? randomUUID)()}`;
      for (let attempt = 1; ; attempt += 1) {
        const current = await this.deps.checkpoints.get(entity);
        const next = startRebaseline(entity, loadId, this.now);
        try {
          await this.deps.checkpoints.save(
            current?._etag !== undefined ? { ...next, _etag: current._etag } : next,
          );
          break;
        } catch (error) {
          if (!(error instanceof AppError) || !error.retryable || attempt >= CHECKPOINT_ATTEMPTS) throw error;
        }
      }
      jobs.push(await this.enqueue(entity, 'manual'));
    }
    return jobs;
  }

  private async pause(entity: string): Promise<void> {
    const at = this.now;
    for (let attempt = 1; ; attempt += 1) {
      const current =
        (await this.deps.checkpoints.get(entity)) ?? startFullLoad(entity, randomUUID(), at, false, []);
      if (current.paused !== undefined) return;
      try {
        await this.deps.checkpoints.save(
          paused(
            current,
            { code: 'paused_by_operator', reason: 'paused by an operator; resume to continue' },
            at,
          ),
        );
        return;
      } catch (error) {
        // A puller moved the checkpoint between the read and the write: read it again.
        if (!(error instanceof AppError) || !error.retryable || attempt >= CHECKPOINT_ATTEMPTS) throw error;
      }
    }
  }

  private async enqueue(
    entity: string,
    reason: PullJob['reason'],
    reread?: { rowIds: string[]; sequence: number },
  ): Promise<PullJob> {
    const now = this.now.toISOString();
    const job = pullJobSchema.parse({
      kind: 'pull',
      entity,
      // 'manual' (and a resync) also resumes an entity that is paused, by schema drift or by an operator.
      reason,
      correlationId: (this.deps.newId ?? randomUUID)(),
      slot: now,
      requestedAt: now,
      // Chunks of one retry share the slot: the sequence keeps their message ids apart.
      sequence: reread?.sequence ?? 0,
      ...(reread !== undefined ? { rowIds: reread.rowIds } : {}),
    });
    await this.deps.queue.send(this.deps.pullQueue, [
      {
        body: job,
        messageId: pullJobMessageId(job),
        sessionId: entity,
        correlationId: job.correlationId,
        subject: 'pull',
      },
    ]);
    return job;
  }
}
