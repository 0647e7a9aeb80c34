import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { EntityCatalog } from '../config/entity.catalog';
import { AppError } from '../errors/app.errors';
import type { SyncErrorRecord } from '../domain/sync-error.model';
import type { JobQueue } from '../queue/job-queue.port';
import { pullJobMessageId, pullJobSchema, type PullJob } from '../queue/pull-job.schema';
import { manualRetryMessage } from './push-retry.message';

/** Bodies and queries of the operator actions, validated at the HTTP boundary. */
export const pullRequestSchema = z.object({ mode: z.enum(['now', 'resync']).default('now') }).strict();

export const errorQuerySchema = z.object({
  entity: z
    .string()
    .regex(/^[a-z][a-z0-9_]*$/, 'must be an entity logical name')
    .optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  /** `open` (default): errors not resolved by a later clean sync; `all`: resolved ones too. */
  status: z.enum(['open', 'all']).default('open'),
});

export const pushRetryRequestSchema = z
  .object({ personIds: z.array(z.string().min(1).max(200)).min(1).max(1000) })
  .strict();

export interface ManualActionDeps {
  catalog: EntityCatalog;
  enabledEntities: readonly string[];
  queue: JobQueue;
  pullQueue: string;
  pushRetryQueue: string;
  errors: { list(entity: string, limit: number, includeResolved?: boolean): Promise<SyncErrorRecord[]> };
  now?: () => Date;
  newId?: () => string;
}

/** An operator asked for something this deployment cannot do; never retryable. */
export class ManualActionError extends AppError<'unknown_entity' | 'entity_not_enabled'> {
  constructor(code: 'unknown_entity' | 'entity_not_enabled', message: string) {
    super('ManualActionError', code, message, false);
  }
}

/**
 * Operator actions: sync an entity now, resync it (full reload that marks rows gone from Dynamics
 * as deleted), read sync errors, retry parked pushes. They only enqueue work; the functions that
 * own the entity's session do it, so an action can never run beside a scheduled pull.
 */
export class ManualActions {
  constructor(private readonly deps: ManualActionDeps) {}

  async requestPull(entity: string, mode: 'now' | 'resync'): Promise<PullJob> {
    if (!this.deps.catalog.names.includes(entity)) {
      throw new ManualActionError(
        'unknown_entity',
        `unknown entity "${entity}"; known: ${this.deps.catalog.names.join(', ')}`,
      );
    }
    if (!this.deps.enabledEntities.includes(entity)) {
      throw new ManualActionError('entity_not_enabled', `entity "${entity}" is not in SYNC_ENTITIES`);
    }
    const now = (this.deps.now ?? (() => new Date()))().toISOString();
    const job = pullJobSchema.parse({
      kind: 'pull',
      entity,
      // 'manual' also resumes an entity paused by schema drift once the admin has fixed it.
      reason: mode === 'resync' ? 'resync' : 'manual',
      correlationId: (this.deps.newId ?? randomUUID)(),
      slot: now,
      requestedAt: now,
      sequence: 0,
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

  /** Newest first; without an entity, across every enabled entity, people and the queue. */
  async listErrors(query: z.output<typeof errorQuerySchema>): Promise<SyncErrorRecord[]> {
    const partitions =
      query.entity !== undefined
        ? [query.entity]
        : [...new Set([...this.deps.enabledEntities, 'person', 'queue'])];
    const lists = await Promise.all(
      partitions.map((entity) => this.deps.errors.list(entity, query.limit, query.status === 'all')),
    );
    return lists
      .flat()
      .sort((a, b) => b.at.localeCompare(a.at))
      .slice(0, query.limit);
  }

  async retryParkedPushes(personIds: readonly string[]): Promise<void> {
    const message = manualRetryMessage(personIds, (this.deps.now ?? (() => new Date()))());
    await this.deps.queue.send(this.deps.pushRetryQueue, [
      { body: message, messageId: `push-retry:manual:${(this.deps.newId ?? randomUUID)()}` },
    ]);
  }
}
