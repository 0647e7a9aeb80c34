import type { Container } from '@azure/cosmos';
import { genericRecordSchema, type GenericRecord } from '../domain/record.model';
import { ROLE_ROWS_KEY } from '../domain/relations.rules';
import type { RelationQueries } from '../sync/ports';
import { CosmosStoreError } from './cosmos.errors';

/** Ids per query: a few hundred GUIDs keep the query text far below Cosmos DB's size limit. */
const IDS_PER_QUERY = 500;

/**
 * The relations and opportunities containers' cross-partition questions: list members and
 * connections by the rows they point at, opportunities by the rows their roles name. Ids are
 * passed as one array parameter (ARRAY_CONTAINS), never spliced into the query text.
 */
export class CosmosRelationQueries implements RelationQueries {
  constructor(
    private readonly relations: Container,
    private readonly opportunities: Container,
  ) {}

  membersOf(rowIds: readonly string[]): Promise<GenericRecord[]> {
    return this.byIds(
      this.relations,
      "SELECT * FROM c WHERE c.entity = 'listmember' AND ARRAY_CONTAINS(@ids, c['values'].entityid.id)",
      rowIds,
      'reading the list members of people',
    );
  }

  membersOfLists(listIds: readonly string[]): Promise<GenericRecord[]> {
    return this.byIds(
      this.relations,
      "SELECT * FROM c WHERE c.entity = 'listmember' AND ARRAY_CONTAINS(@ids, c['values'].listid.id)",
      listIds,
      'reading the members of lists',
    );
  }

  campaignItemsOfLists(listIds: readonly string[]): Promise<GenericRecord[]> {
    return this.byIds(
      this.relations,
      "SELECT * FROM c WHERE c.entity = 'campaignitem' AND ARRAY_CONTAINS(@ids, c['values'].entityid)",
      listIds,
      'reading the campaigns of lists',
    );
  }

  campaignItemsOfCampaigns(campaignIds: readonly string[]): Promise<GenericRecord[]> {
    return this.byIds(
      this.relations,
      "SELECT * FROM c WHERE c.entity = 'campaignitem' AND ARRAY_CONTAINS(@ids, c['values'].campaignid.id)",
      campaignIds,
      'reading the lists of campaigns',
    );
  }

  connectionsOf(recordIds: readonly string[]): Promise<GenericRecord[]> {
    return this.byIds(
      this.relations,
      "SELECT * FROM c WHERE c.entity = 'connection' AND (ARRAY_CONTAINS(@ids, c['values'].record1id.id) OR ARRAY_CONTAINS(@ids, c['values'].record2id.id))",
      recordIds,
      'reading the connections of records',
    );
  }

  connectionsWithRoles(roleIds: readonly string[]): Promise<GenericRecord[]> {
    return this.byIds(
      this.relations,
      "SELECT * FROM c WHERE c.entity = 'connection' AND (ARRAY_CONTAINS(@ids, c['values'].record1roleid.id) OR ARRAY_CONTAINS(@ids, c['values'].record2roleid.id))",
      roleIds,
      'reading the connections of roles',
    );
  }

  opportunitiesWithRoles(rowIds: readonly string[]): Promise<GenericRecord[]> {
    return this.byIds(
      this.opportunities,
      `SELECT * FROM c WHERE c.entity = 'opportunity' AND EXISTS(SELECT VALUE r FROM r IN c.${ROLE_ROWS_KEY} WHERE ARRAY_CONTAINS(@ids, r))`,
      rowIds,
      'reading the opportunities of people',
    );
  }

  private async byIds(
    container: Container,
    query: string,
    ids: readonly string[],
    doing: string,
  ): Promise<GenericRecord[]> {
    const unique = [...new Set(ids.map((id) => id.toLowerCase()))];
    const out: GenericRecord[] = [];
    for (let i = 0; i < unique.length; i += IDS_PER_QUERY) {
      const parameters = [{ name: '@ids', value: unique.slice(i, i + IDS_PER_QUERY) }];
      let resources: unknown[];
      try {
        resources = (await container.items.query({ query, parameters }).fetchAll()).resources;
      } catch (error) {
        throw CosmosStoreError.from(error, `${doing} in ${container.id}`);
      }
      // A record that fails the schema is the pull's to report and replace; here it is only skipped.
      for (const resource of resources) {
        const parsed = genericRecordSchema.safeParse(resource);
        if (parsed.success) out.push(parsed.data);
      }
    }
    return out;
  }
}
