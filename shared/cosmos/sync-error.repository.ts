import type { Container, SqlParameter } from '@azure/cosmos';
import {
  syncErrorSchema,
  toSyncErrorRecord,
  type ErrorPage,
  type ErrorSearch,
  type SyncErrorInput,
  type SyncErrorRecord,
  type SyncOperation,
} from '../domain/sync-error.model';
import type { ErrorLog } from '../sync/ports';
import { CosmosStoreError } from './cosmos.errors';
import { queryPartition } from './document.operations';

/** Pages of a search are at most this long; an export reads this many per round trip. */
const MAX_PAGE = 1000;

export class SyncErrorRepository implements ErrorLog {
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

  /**
   * Newest first, filtered; one page and where the next starts. The search text is a parameter,
   * never part of the query text, so nothing a caller types can change the query.
   */
  async search(search: ErrorSearch): Promise<ErrorPage> {
    const where = ["c.type = 'sync-error'"];
    const parameters: SqlParameter[] = [];
    if (search.entity !== undefined) {
      where.push('c.entity = @entity');
      parameters.push({ name: '@entity', value: search.entity });
    }
    if (search.status === 'open') where.push('NOT IS_DEFINED(c.resolvedAt)');
    if (search.status === 'resolved') where.push('IS_DEFINED(c.resolvedAt)');
    if (search.code !== undefined) {
      where.push('c.code = @code');
      parameters.push({ name: '@code', value: search.code });
    }
    if (search.q !== undefined && search.q.trim() !== '') {
      where.push(
        '(CONTAINS(LOWER(c.recordId), @q) OR CONTAINS(LOWER(c.email), @q) OR CONTAINS(LOWER(c.code), @q) OR CONTAINS(LOWER(c.message), @q))',
      );
      parameters.push({ name: '@q', value: search.q.trim().toLowerCase() });
    }
    try {
      const iterator = this.container.items.query<unknown>(
        { query: `SELECT * FROM c WHERE ${where.join(' AND ')} ORDER BY c.at DESC`, parameters },
        {
          maxItemCount: Math.min(MAX_PAGE, Math.max(1, search.limit)),
          ...(search.entity !== undefined ? { partitionKey: search.entity } : {}),
          ...(search.continuation !== undefined ? { continuationToken: search.continuation } : {}),
        },
      );
      const page = await iterator.fetchNext();
      const errors = (page.resources ?? []).flatMap((doc) => {
        const parsed = syncErrorSchema.safeParse(doc);
        return parsed.success ? [parsed.data] : [];
      });
      return {
        errors,
        ...(page.continuationToken !== undefined && page.hasMoreResults
          ? { continuation: page.continuationToken }
          : {}),
      };
    } catch (error) {
      throw CosmosStoreError.from(error, 'searching sync errors');
    }
  }

  async countOpen(entity: string): Promise<number> {
    try {
      const { resources } = await this.container.items
        .query<number>(
          {
            query:
              "SELECT VALUE COUNT(1) FROM c WHERE c.entity = @entity AND c.type = 'sync-error' AND NOT IS_DEFINED(c.resolvedAt)",
            parameters: [{ name: '@entity', value: entity }],
          },
          { partitionKey: entity },
        )
        .fetchAll();
      return resources.reduce((sum, n) => sum + (typeof n === 'number' ? n : 0), 0);
    } catch (error) {
      throw CosmosStoreError.from(error, `counting open sync errors of ${entity}`);
    }
  }

  byIds(ids: readonly string[]): Promise<SyncErrorRecord[]> {
    return this.across(
      'SELECT * FROM c WHERE ARRAY_CONTAINS(@ids, c.id)',
      ids,
      `reading ${ids.length} sync errors`,
    );
  }

  openFor(recordIds: readonly string[]): Promise<SyncErrorRecord[]> {
    return this.across(
      'SELECT * FROM c WHERE ARRAY_CONTAINS(@ids, c.recordId) AND NOT IS_DEFINED(c.resolvedAt) ORDER BY c.at DESC',
      recordIds,
      'reading open sync errors of a person',
    );
  }

  /** A query across every entity's partition, with the ids as its one parameter. */
  private async across(query: string, ids: readonly string[], doing: string): Promise<SyncErrorRecord[]> {
    if (ids.length === 0) return [];
    try {
      const { resources } = await this.container.items
        .query<unknown>({ query, parameters: [{ name: '@ids', value: [...ids] }] })
        .fetchAll();
      return resources.flatMap((doc) => {
        const parsed = syncErrorSchema.safeParse(doc);
        return parsed.success ? [parsed.data] : [];
      });
    } catch (error) {
      throw CosmosStoreError.from(error, doing);
    }
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
