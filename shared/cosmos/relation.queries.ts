import type { Container } from '@azure/cosmos';
import { genericRecordSchema, type GenericRecord } from '../domain/record.model';
import { ROLE_ROWS_KEY } from '../domain/relations.rules';
import type { RelationQueries } from '../sync/ports';
import { CosmosStoreError } from './cosmos.errors';

/** Ids per query: a few hundred GUIDs keep the query text far below Cosmos DB's size limit. */
const IDS_PER_QUERY = 500;

interface IdQuery {
  container: 'relations' | 'opportunities';
  /** Selects by `@ids`, one array parameter: ids never become part of the query text. */
  text: string;
  doing: string;
}

const OF = (entity: string, ...paths: string[]) =>
  `SELECT * FROM c WHERE c.entity = '${entity}' AND (${paths.map((p) => `ARRAY_CONTAINS(@ids, c['values'].${p})`).join(' OR ')})`;

/** Each question as the query that answers it. */
const QUERIES: Record<keyof RelationQueries, IdQuery> = {
  membersOf: {
    container: 'relations',
    text: OF('listmember', 'entityid.id'),
    doing: 'reading the list members of people',
  },
  membersOfLists: {
    container: 'relations',
    text: OF('listmember', 'listid.id'),
    doing: 'reading the members of lists',
  },
  campaignItemsOfLists: {
    container: 'relations',
    text: OF('campaignitem', 'entityid'),
    doing: 'reading the campaigns of lists',
  },
  campaignItemsOfCampaigns: {
    container: 'relations',
    text: OF('campaignitem', 'campaignid.id'),
    doing: 'reading the lists of campaigns',
  },
  connectionsOf: {
    container: 'relations',
    text: OF('connection', 'record1id.id', 'record2id.id'),
    doing: 'reading the connections of records',
  },
  connectionsWithRoles: {
    container: 'relations',
    text: OF('connection', 'record1roleid.id', 'record2roleid.id'),
    doing: 'reading the connections of roles',
  },
  opportunitiesWithRoles: {
    container: 'opportunities',
    text: `SELECT * FROM c WHERE c.entity = 'opportunity' AND EXISTS(SELECT VALUE r FROM r IN c.${ROLE_ROWS_KEY} WHERE ARRAY_CONTAINS(@ids, r))`,
    doing: 'reading the opportunities of people',
  },
};

/**
 * The relations and opportunities containers' cross-partition questions: list members, campaign
 * items and connections by the rows they point at, opportunities by the rows their roles name.
 */
export class CosmosRelationQueries implements RelationQueries {
  readonly membersOf = (ids: readonly string[]) => this.byIds(QUERIES.membersOf, ids);
  readonly membersOfLists = (ids: readonly string[]) => this.byIds(QUERIES.membersOfLists, ids);
  readonly campaignItemsOfLists = (ids: readonly string[]) => this.byIds(QUERIES.campaignItemsOfLists, ids);
  readonly campaignItemsOfCampaigns = (ids: readonly string[]) =>
    this.byIds(QUERIES.campaignItemsOfCampaigns, ids);
  readonly connectionsOf = (ids: readonly string[]) => this.byIds(QUERIES.connectionsOf, ids);
  readonly connectionsWithRoles = (ids: readonly string[]) => this.byIds(QUERIES.connectionsWithRoles, ids);
  readonly opportunitiesWithRoles = (ids: readonly string[]) =>
    this.byIds(QUERIES.opportunitiesWithRoles, ids);

  constructor(
    private readonly relations: Container,
    private readonly opportunities: Container,
  ) {}

  private async byIds(
    { container: which, text, doing }: IdQuery,
    ids: readonly string[],
  ): Promise<GenericRecord[]> {
    const container = which === 'relations' ? this.relations : this.opportunities;
    const unique = [...new Set(ids.map((id) => id.toLowerCase()))];
    const out: GenericRecord[] = [];
    for (let i = 0; i < unique.length; i += IDS_PER_QUERY) {
      const parameters = [{ name: '@ids', value: unique.slice(i, i + IDS_PER_QUERY) }];
      let resources: unknown[];
      try {
        resources = (await container.items.query({ query: text, parameters }).fetchAll()).resources;
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
