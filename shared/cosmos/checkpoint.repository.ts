import type { Container } from '@azure/cosmos';
import { checkpointId, checkpointSchema, type Checkpoint } from '../domain/checkpoint.state';
import { CosmosStoreError } from './cosmos.errors';
import { StateDocuments } from './document.operations';

/**
 * Checkpoints live in sync-state, partitioned by entity. Every save is guarded by the _etag read, so
 * if two pullers of one entity ever ran at once (a session lock lost mid-run), only one could move
 * the checkpoint; the other fails and its job is redelivered, to resume from the winner's position.
 */
export class CheckpointRepository {
  private readonly documents: StateDocuments<Checkpoint & { entity: string }>;

  constructor(private readonly container: Container) {
    this.documents = new StateDocuments(container, checkpointSchema);
  }

  get(entity: string): Promise<Checkpoint | undefined> {
    return this.documents.read(checkpointId(entity), entity, `checkpoint of ${entity}`);
  }

  /** Saves and returns the checkpoint with its new _etag; a concurrent save makes this one fail. */
  async save(checkpoint: Checkpoint): Promise<Checkpoint> {
    const { _etag: etag, ...body } = checkpointSchema.parse(checkpoint);
    const lost = `checkpoint of ${body.entity} was moved by another puller; this run stops and is redelivered`;
    return this.documents.save(body, etag, `checkpoint of ${body.entity}`, lost);
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
