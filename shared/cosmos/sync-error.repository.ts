import type { Container } from '@azure/cosmos';
import {
  syncErrorSchema,
  toSyncErrorRecord,
  type SyncErrorInput,
  type SyncErrorRecord,
  type SyncOperation,
} from '../domain/sync-error.model';
import { CosmosStoreError } from './cosmos.errors';
import { queryPartition } from './document.operations';

export class SyncErrorRepository {
  constructor(private readonly container: Container) {}

  async record(input: SyncErrorInput): Promise<SyncErrorRecord> {
    const record = toSyncErrorRecord(input);
    try {
      await this.container.items.upsert(record);
      return record;
    } catch (error) {
      throw CosmosStoreError.from(error, `recording sync error ${record.id}`);
    }
  }

  /**
   * Marks the open errors of one operation on these records resolved (a later pull synced the row
   * cleanly, a later push of the person went through). One single-partition query, then one write
   * per error found, which is rare.
   */
  async resolve(
    entity: string,
    recordIds: readonly string[],
    at: string,
    operation: SyncOperation,
  ): Promise<number> {
    if (recordIds.length === 0) return 0;
    const open = await queryPartition(
      this.container,
      entity,
      'SELECT * FROM c WHERE c.entity = @entity AND c.operation = @operation AND ARRAY_CONTAINS(@ids, c.recordId) AND NOT IS_DEFINED(c.resolvedAt)',
      [
        { name: '@entity', value: entity },
        { name: '@operation', value: operation },
        { name: '@ids', value: [...recordIds] },
      ],
      syncErrorSchema,
      `reading open sync errors of ${entity}`,
    );
    for (const record of open) {
      try {
        await this.container.items.upsert({ ...record, resolvedAt: at });
      } catch (error) {
        throw CosmosStoreError.from(error, `resolving sync error ${record.id}`);
      }
    }
    return open.length;
  }

  /** Newest first; resolved errors only when asked for. */
  async list(entity: string, limit = 100, includeResolved = false): Promise<SyncErrorRecord[]> {
    return queryPartition(
      this.container,
      entity,
      // TOP with a literal: the local stand-in has no OFFSET/LIMIT; the number is ours, never input.
      `SELECT TOP ${Math.max(1, Math.floor(limit))} * FROM c WHERE c.entity = @entity${includeResolved ? '' : ' AND NOT IS_DEFINED(c.resolvedAt)'} ORDER BY c.at DESC`,
      [{ name: '@entity', value: entity }],
      syncErrorSchema,
      `listing sync errors of ${entity}`,
    );
  }
}
