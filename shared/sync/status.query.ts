import type { EntityDefinition } from '../config/entity.catalog';
import type { RunHistoryRepository } from '../cosmos/run-history.repository';
import type { RunRecord } from '../domain/run-record.model';

export interface EntityStatus {
  entity: string;
  direction: 'both' | 'pull';
  lastRun: RunRecord | null;
}

export async function readSyncStatus(
  entities: readonly EntityDefinition[],
  runs: RunHistoryRepository,
): Promise<{ entities: EntityStatus[] }> {
  const rows = await Promise.all(
    entities.map(async (entity) => ({
      entity: entity.logicalName,
      direction: entity.direction,
      lastRun: (await runs.latest(entity.logicalName, 1))[0] ?? null,
    })),
  );
  return { entities: rows };
}
