import type { Container } from '@azure/cosmos';
import { z } from 'zod';
import { CosmosStoreError } from './cosmos.errors';
import type { ChangeCursor } from './ts-change.poller';

export const pushCheckpointSchema = z.object({
  id: z.string(),
  entity: z.literal('person'),
  type: z.literal('push-checkpoint'),
  container: z.string(),
  cursor: z.object({ ts: z.number().int().nonnegative(), seen: z.array(z.string()) }),
  updatedAt: z.string(),
  _etag: z.string().optional(),
});
export type PushCheckpoint = z.output<typeof pushCheckpointSchema>;

export const pushCheckpointId = (container: string): string => `push-checkpoint:${container}`;

/**
 * Where `push --once` got to in the people container's changes. Saved in sync-state and guarded
 * by its _etag, so two CLI runs at once cannot move it past each other's unfinished work.
 */
export class PushCheckpointRepository {
  constructor(private readonly container: Container) {}

  async get(sourceContainer: string): Promise<PushCheckpoint | undefined> {
    try {
      const { resource, statusCode } = await this.container
        .item(pushCheckpointId(sourceContainer), 'person')
        .read<Record<string, unknown>>();
      if (statusCode === 404 || resource === undefined) return undefined;
      const parsed = pushCheckpointSchema.safeParse(resource);
      if (!parsed.success) {
        throw new CosmosStoreError('invalid_document', `push checkpoint of ${sourceContainer} is malformed`);
      }
      return parsed.data;
    } catch (error) {
      if (error instanceof CosmosStoreError) throw error;
      if ((error as { code?: unknown }).code === 404) return undefined;
      throw CosmosStoreError.from(error, `reading the push checkpoint of ${sourceContainer}`);
    }
  }

  async save(
    sourceContainer: string,
    cursor: ChangeCursor,
    previous: PushCheckpoint | undefined,
    now: Date = new Date(),
  ): Promise<PushCheckpoint> {
    const body: PushCheckpoint = {
      id: pushCheckpointId(sourceContainer),
      entity: 'person',
      type: 'push-checkpoint',
      container: sourceContainer,
      cursor,
      updatedAt: now.toISOString(),
    };
    try {
      const response =
        previous?._etag === undefined
          ? await this.container.items.create(body)
          : await this.container
              .item(body.id, body.entity)
              .replace(body, { accessCondition: { type: 'IfMatch', condition: previous._etag } });
      const etag = response.resource?._etag ?? response.etag;
      return { ...body, ...(etag ? { _etag: etag } : {}) };
    } catch (error) {
      const status = (error as { code?: unknown }).code;
      if (status === 412 || status === 409) {
        throw new CosmosStoreError(
          'precondition_failed',
          `the push checkpoint of ${sourceContainer} was moved by another run`,
          { status, retryable: true, cause: error },
        );
      }
      throw CosmosStoreError.from(error, `saving the push checkpoint of ${sourceContainer}`);
    }
  }
}
