import { isPerson, type GenericRecord, type PersonRecord, type RecordDocument } from '../domain/record.model';
import {
  campaignsByList,
  membershipsOf,
  personRoleRows,
  personRolesOf,
  personRowIds,
  rolesOf,
  storedRoles,
  withRelations,
  withRoles,
} from '../domain/relations.rules';
import { keptChanging } from './first-load.writer';
import type { RecordStore, RelationQueries } from './ports';

export interface RelationProjectionDeps {
  /** list, listmember, connection and connectionrole records. */
  relations: RecordStore;
  opportunities: RecordStore;
  people: RecordStore;
  queries: RelationQueries;
}

/** The entities whose pulled rows change memberships or roles. */
export const PROJECTED_ENTITIES: ReadonlySet<string> = new Set([
  'lead',
  'contact',
  'list',
  'listmember',
  'opportunity',
  'connection',
  'connectionrole',
  'campaign',
  'campaignitem',
]);

const MAX_WRITE_ATTEMPTS = 5;

const generic = (docs: readonly RecordDocument[]): GenericRecord[] =>
  docs.filter((doc): doc is GenericRecord => !isPerson(doc));

const lookupId = (doc: GenericRecord, field: string): { id: string; table: string | null } | undefined => {
  const value = doc.values[field];
  return typeof value === 'object' && value !== null && 'id' in value ? value : undefined;
};

/**
 * Keeps each person's static-list memberships and opportunity roles, and each opportunity's roles,
 * in step with the records the pull copies. Runs after every page of a related entity is written and
 * before its checkpoint moves, and works everything out again from the stored records, so a replayed
 * page or a second run writes nothing new. Writes are optimistic (_etag): a document changed meanwhile
 * is read again and worked out again.
 */
export class RelationProjection {
  constructor(private readonly deps: RelationProjectionDeps) {}

  /** After a page of `entity`: the ids of its rows read or deleted. */
  async afterPage(entity: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0 || !PROJECTED_ENTITIES.has(entity)) return;
    const rowIds = [...new Set(ids.map((id) => id.toLowerCase()))];
    switch (entity) {
      case 'lead':
      case 'contact':
        return this.afterPeople(rowIds);
      case 'listmember': {
        const members = generic((await this.deps.relations.findForPage(rowIds)).docs);
        return this.updatePeople(members.flatMap((m) => lookupId(m, 'entityid')?.id ?? []));
      }
      case 'list':
        return this.afterLists(rowIds);
      case 'campaignitem': {
        const items = generic((await this.deps.relations.findForPage(rowIds)).docs);
        return this.afterLists(items.flatMap((item) => listOf(item) ?? []));
      }
      case 'campaign': {
        const items = await this.deps.queries.campaignItemsOfCampaigns(rowIds);
        return this.afterLists(items.flatMap((item) => listOf(item) ?? []));
      }
      case 'opportunity':
        return this.updateOpportunities(rowIds);
      case 'connection': {
        const connections = generic((await this.deps.relations.findForPage(rowIds)).docs);
        return this.updateOpportunities(connections.flatMap(opportunityEnds));
      }
      case 'connectionrole': {
        const connections = await this.deps.queries.connectionsWithRoles(rowIds);
        return this.updateOpportunities(connections.flatMap(opportunityEnds));
      }
    }
  }

  /** A list renamed or deleted, or put in or taken out of a campaign: its members' memberships change. */
  private async afterLists(listIds: readonly string[]): Promise<void> {
    if (listIds.length === 0) return;
    const members = await this.deps.queries.membersOfLists([...new Set(listIds)]);
    await this.updatePeople(members.flatMap((m) => lookupId(m, 'entityid')?.id ?? []));
  }

  /**
   * New or changed leads and contacts: only the ones some list or opportunity names can gain
   * anything (a person pulled after its memberships), so two queries a page and no person reads
   * for everyone else.
   */
  private async afterPeople(rowIds: readonly string[]): Promise<void> {
    const [members, opportunities] = await Promise.all([
      this.deps.queries.membersOf(rowIds),
      this.deps.queries.opportunitiesWithRoles(rowIds),
    ]);
    const named = new Set(rowIds);
    const rows = new Set<string>();
    for (const member of members) {
      const id = lookupId(member, 'entityid')?.id;
      if (id !== undefined && named.has(id)) rows.add(id);
    }
    for (const row of opportunities.flatMap(personRoleRows)) if (named.has(row)) rows.add(row);
    // A contact's account may have changed: the roles of its opportunities name it.
    const customerOf = opportunities.filter((o) => storedRoles(o).some((r) => r.source === 'customer'));
    if (customerOf.length > 0) await this.updateOpportunities(customerOf.map((o) => o.id));
    await this.updatePeople([...rows]);
  }

  /** Works out the memberships and roles of the people holding these rows, and writes the changed ones. */
  private async updatePeople(rowIds: readonly string[]): Promise<void> {
    if (rowIds.length === 0) return;
    let people = (await this.deps.people.findForPage([...new Set(rowIds)])).docs.filter(isPerson);
    for (let attempt = 1; people.length > 0; attempt += 1) {
      const rows = people.flatMap(personRowIds);
      const [members, opportunities] = await Promise.all([
        this.deps.queries.membersOf(rows),
        this.deps.queries.opportunitiesWithRoles(rows),
      ]);
      const listIds = [...new Set(members.flatMap((m) => lookupId(m, 'listid')?.id ?? []))];
      const items = await this.deps.queries.campaignItemsOfLists(listIds);
      const campaignIds = [...new Set(items.flatMap((item) => lookupId(item, 'campaignid')?.id ?? []))];
      const records = new Map(
        generic((await this.deps.relations.findForPage([...listIds, ...campaignIds])).docs).map((r) => [
          r.id,
          r,
        ]),
      );
      const campaigns = campaignsByList(items, records);
      const writes: PersonRecord[] = [];
      for (const person of people) {
        const own = personRowIds(person);
        const next = withRelations(
          person,
          membershipsOf(own, members, records, campaigns),
          personRolesOf(own, opportunities),
        );
        if (next !== undefined) writes.push(next);
      }
      const outcome = await this.deps.people.write(writes);
      if (outcome.conflicts.length === 0) return;
      if (attempt >= MAX_WRITE_ATTEMPTS) throw keptChanging(outcome.conflicts);
      people = (await this.deps.people.findForPage(outcome.conflicts)).docs.filter(isPerson);
    }
  }

  /** Works out these opportunities' roles, writes the changed ones, then the people they name. */
  private async updateOpportunities(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    let opportunities = generic((await this.deps.opportunities.findForPage([...new Set(ids)])).docs);
    const touched = new Set<string>();
    for (let attempt = 1; opportunities.length > 0; attempt += 1) {
      const connections = await this.deps.queries.connectionsOf(opportunities.map((o) => o.id));
      const roleIds = connections.flatMap((c) =>
        ['record1roleid', 'record2roleid'].flatMap((field) => lookupId(c, field)?.id ?? []),
      );
      const roleNames = new Map<string, string>();
      for (const role of generic((await this.deps.relations.findForPage([...new Set(roleIds)])).docs)) {
        const name = role.values.name;
        if (typeof name === 'string') roleNames.set(role.id, name);
      }
      const accounts = await this.accountsOfCustomers(opportunities);
      const writes: GenericRecord[] = [];
      for (const opportunity of opportunities) {
        const roles = rolesOf(
          opportunity,
          connections.filter((c) => opportunityEnds(c).includes(opportunity.id)),
          roleNames,
          accounts,
        );
        const next = withRoles(opportunity, roles);
        if (next === undefined) continue;
        for (const row of [...storedRoles(opportunity), ...roles]) touched.add(row.rowId);
        writes.push(next);
      }
      const outcome = await this.deps.opportunities.write(writes);
      if (outcome.conflicts.length === 0) break;
      if (attempt >= MAX_WRITE_ATTEMPTS) throw keptChanging(outcome.conflicts);
      opportunities = generic((await this.deps.opportunities.findForPage(outcome.conflicts)).docs);
    }
    await this.updatePeople([...touched]);
  }

  /** The parent account of each contact customer, from the contact as the pull stored it. */
  private async accountsOfCustomers(opportunities: readonly GenericRecord[]): Promise<Map<string, string>> {
    const contacts = opportunities.flatMap((o) => {
      const customer = lookupId(o, 'customerid');
      return customer?.table === 'contact' ? [customer.id] : [];
    });
    const out = new Map<string, string>();
    if (contacts.length === 0) return out;
    for (const person of (await this.deps.people.findForPage([...new Set(contacts)])).docs.filter(isPerson)) {
      const contactId = person.dynamics.contactId;
      const parent = person.dynamics.contact?.values.parentcustomerid;
      if (contactId === undefined || typeof parent !== 'object' || parent === null || !('id' in parent))
        continue;
      if (parent.table === 'account') out.set(contactId, parent.id);
    }
    return out;
  }
}

/** The list a campaign item puts in its campaign. */
const listOf = (item: GenericRecord): string | undefined => {
  const id = item.values.entityid;
  return typeof id === 'string' ? id.toLowerCase() : undefined;
};

/** The opportunities at either end of a connection. */
function opportunityEnds(connection: GenericRecord): string[] {
  return ['record1id', 'record2id'].flatMap((field) => {
    const end = lookupId(connection, field);
    return end?.table === 'opportunity' ? [end.id] : [];
  });
}
