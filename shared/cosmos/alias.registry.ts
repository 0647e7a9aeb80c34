import type { Container } from '@azure/cosmos';
import { z } from 'zod';
import { CosmosStoreError } from './cosmos.errors';
import { queryPartition } from './document.operations';

/** The partition of sync-state that holds the markers. */
export const ALIAS_PARTITION = 'alias';

export const aliasMarkerSchema = z.object({
  id: z.string(),
  entity: z.literal(ALIAS_PARTITION),
  type: z.literal('alias'),
  /** The Dynamics lead or contact id the person holds. */
  rowId: z.string(),
  /** The person document that holds it (its id is not rowId). */
  personId: z.string(),
  at: z.string(),
});

export type AliasMarker = z.output<typeof aliasMarkerSchema>;

export const aliasMarkerId = (rowId: string): string => `alias:${rowId.toLowerCase()}`;

/**
 * Dynamics rows held by a person document whose id is another one (a marketing person linked to a
 * row found by email, or a row created for it). A first load writes people create-only under the
 * id the row would get; such a row would be created a second time, so the pull reads these rows
 * first. The marker is written before the person holds the row, so a reader never misses one.
 */
export class AliasRegistry {
  constructor(private readonly container: Container) {}

  async register(rowId: string, personId: string, now = new Date()): Promise<void> {
    const marker: AliasMarker = {
      id: aliasMarkerId(rowId),
      entity: ALIAS_PARTITION,
      type: 'alias',
      rowId: rowId.toLowerCase(),
      personId,
      at: now.toISOString(),
    };
    try {
      await this.container.items.upsert(marker);
    } catch (error) {
      throw CosmosStoreError.from(error, `registering alias ${rowId} of person ${personId}`);
    }
  }

  /**
   * The person each of these rows is registered to (rows without a marker are absent). A pull that
   * meets such a row before the person holds it (between push-create's registration and its link)
   * writes it into that person rather than creating a second one.
   */
  async personsOf(rowIds: readonly string[]): Promise<Map<string, string>> {
    if (rowIds.length === 0) return new Map();
    const markers = await queryPartition(
      this.container,
      ALIAS_PARTITION,
      'SELECT c.rowId, c.personId FROM c WHERE c.entity = @partition AND c.type = @type AND ARRAY_CONTAINS(@ids, c.rowId)',
      [
        { name: '@partition', value: ALIAS_PARTITION },
        { name: '@type', value: 'alias' },
        { name: '@ids', value: rowIds.map((id) => id.toLowerCase()) },
      ],
      aliasMarkerSchema.pick({ rowId: true, personId: true }),
      `reading the alias registry for ${rowIds.length} rows`,
    );
    return new Map(markers.map(({ rowId, personId }) => [rowId.toLowerCase(), personId]));
  }
}
