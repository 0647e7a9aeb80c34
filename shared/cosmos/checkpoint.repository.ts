import type { Container } from '@azure/cosmos';
import { checkpointId, checkpointSchema, type Checkpoint } from '../domain/checkpoint.state';
import { CosmosStoreError } from './cosmos.errors';

/**
 * Checkpoints live in sync-state, partitioned by entity. Every save is guarded by the _etag read, so
 * if two pullers of one entity ever ran at once (a session lock lost mid-run), only one could move
 * the checkpoint; the other fails and its job is redelivered, to resume from the winner's position.
 */
export class CheckpointRepository {
  constructor(private readonly container: Container) {}

  async get(entity: string): Promise<Checkpoint | undefined> {
    try {
      const { resource, statusCode } = await this.container
        .item(checkpointId(entity), entity)
        .read<Record<string, unknown>>();
      if (statusCode === 404 || resource === undefined) return undefined;
      const parsed = checkpointSchema.safeParse(resource);
      if (!parsed.success) {
        throw new CosmosStoreError(
          'invalid_document',
          `checkpoint of ${entity} is malformed: ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}`,
        );
      }
      return parsed.data;
    } catch (error) {
      if (error instanceof CosmosStoreError) throw error;
      if ((error as { code?: unknown }).code === 404) return undefined;
      throw CosmosStoreError.from(error, `reading checkpoint of ${entity}`);
    }
  }

  /** Saves and returns the checkpoint with its new _etag; a concurrent save makes this one fail. */
  async save(checkpoint: Checkpoint): Promise<Checkpoint> {
    const { _etag: etag, ...body } = checkpointSchema.parse(checkpoint);
    try {
      const response =
        etag === undefined
          ? await this.container.items.create(body)
          : await this.container
              .item(body.id, body.entity)
              .replace(body, { accessCondition: { type: 'IfMatch', condition: etag } });
      const newEtag = response.resource?._etag ?? response.etag;
      return { ...body, ...(newEtag ? { _etag: newEtag } : {}) };
    } catch (error) {
      const status = (error as { code?: unknown }).code;
      if (status === 412 || status === 409) {
        throw new CosmosStoreError(
          'precondition_failed',
          `checkpoint of ${body.entity} was moved by another puller; this run stops and is redelivered`,
          { status, retryable: true, cause: error },
        );
      }
      throw CosmosStoreError.from(error, `saving checkpoint of ${body.entity}`);
    }
  }

  /** Forgets the position (a requested full resync starts from scratch). */
  async reset(entity: string): Promise<void> {
    try {
      await this.container.item(checkpointId(entity), entity).delete();
    } catch (error) {
      if ((error as { code?: unknown }).code === 404) return;
      throw CosmosStoreError.from(error, `resetting checkpoint of ${entity}`);
    }
  }
}
