import type { Container } from '@azure/cosmos';
import { runRecordSchema, type RunRecord } from '../domain/run-record.model';
import { CosmosStoreError } from './cosmos.errors';
import { queryPartition } from './document.operations';

/** Run history is for operations, not audit: a job per entity per minute would otherwise pile up forever. */
export const RUN_TTL_SECONDS = 30 * 24 * 3600;

/** Run history lives in the sync-state container, partitioned by entity, next to the checkpoints. */
export class RunHistoryRepository {
  constructor(private readonly container: Container) {}

  async save(run: RunRecord): Promise<void> {
    try {
      await this.container.items.upsert(runRecordSchema.parse({ ttl: RUN_TTL_SECONDS, ...run }));
    } catch (error) {
      throw CosmosStoreError.from(error, `saving run ${run.id}`);
    }
  }

  async latest(entity: string, count = 10): Promise<RunRecord[]> {
    return queryPartition(
      this.container,
      entity,
      // TOP takes a literal: `count` is an integer we control, never user text.
      `SELECT TOP ${Math.max(1, Math.floor(count))} * FROM c WHERE c.entity = @entity AND c.type = 'run' ORDER BY c.startedAt DESC`,
      [{ name: '@entity', value: entity }],
      runRecordSchema,
      `reading runs of ${entity}`,
    );
  }
}
