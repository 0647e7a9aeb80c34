import type { Container } from '@azure/cosmos';
import { z } from 'zod';
import { StateDocuments } from './document.operations';
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
  private readonly documents: StateDocuments<PushCheckpoint>;

  constructor(container: Container) {
    this.documents = new StateDocuments(container, pushCheckpointSchema);
  }

  get(sourceContainer: string): Promise<PushCheckpoint | undefined> {
    return this.documents.read(
      pushCheckpointId(sourceContainer),
      'person',
      `push checkpoint of ${sourceContainer}`,
    );
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
    const lost = `the push checkpoint of ${sourceContainer} was moved by another run`;
    return this.documents.save(body, previous?._etag, `push checkpoint of ${sourceContainer}`, lost);
  }
}
