import { sameValue } from './content.hash';
import { isActiveState, type GenericRecord, type LookupValue, type PersonRecord } from './record.model';

/*
 * What a person's marketing lists and an opportunity's roles are, worked out from the records the
 * pull copies (list, listmember, connection, connectionrole, opportunity). Pure: the same records
 * always give the same answer, so working it out again after a replayed page writes nothing.
 */

/** A campaign that distributes a marketing list. */
export interface CampaignRef {
  campaignId: string;
  name: string | null;
}

/** A static marketing list the person is a member of in Dynamics, and the campaigns it puts them in. */
export interface Membership {
  listId: string;
  name: string | null;
  campaigns: CampaignRef[];
}

/** Someone's role on an opportunity: its contact customer, or a stakeholder through a connection. */
export interface OpportunityRole {
  /** The lead, contact or account row that has the role. */
  rowId: string;
  table: string;
  role: string;
  source: 'customer' | 'connection';
  /** The connection the role comes from (stakeholders only). */
  connectionId?: string;
  /** The contact customer's account (its parent customer), when known. */
  accountId?: string;
}

/** A role as the person sees it. */
export interface PersonRole {
  opportunityId: string;
  name: string | null;
  role: string;
}

/** Where a person keeps its memberships and opportunity roles (top level, optional). */
export const MEMBERSHIPS_KEY = 'memberships';
export const PERSON_ROLES_KEY = 'opportunityRoles';
/** Where an opportunity keeps its roles, and the rows that have one (what the per-person query reads). */
export const ROLES_KEY = 'roles';
export const ROLE_ROWS_KEY = 'roleRowIds';

/** The role a contact customer of an opportunity has. */
export const CUSTOMER_ROLE = 'Customer';

const PERSON_TABLES = new Set(['lead', 'contact']);

const lookup = (record: GenericRecord, field: string): LookupValue | undefined => {
  const value = record.values[field];
  return typeof value === 'object' && value !== null && 'id' in value ? value : undefined;
};

const text = (record: GenericRecord | undefined, field: string): string | null => {
  const value = record?.values[field];
  return typeof value === 'string' ? value : null;
};

/** A record that still exists in Dynamics (a closed opportunity or an inactive list keeps its people). */
const exists = (record: GenericRecord | undefined): record is GenericRecord =>
  record !== undefined && record.sync.deletedInDynamics === undefined;

/** A record that exists and is active (statecode 0 or none): a deactivated connection is an ended role. */
const live = (record: GenericRecord | undefined): record is GenericRecord =>
  exists(record) && isActiveState(record.dynamics.statecode);

/** The person's rows in Dynamics: its lead and its contact. */
export function personRowIds(person: PersonRecord): string[] {
  return [person.dynamics.leadId, person.dynamics.contactId].filter((id): id is string => id !== undefined);
}

/**
 * The static lists these rows are members of: a listmember record that still exists, of a list that
 * still exists and is static. Sorted by name then id, one entry per list.
 */
export function membershipsOf(
  rowIds: readonly string[],
  members: readonly GenericRecord[],
  lists: ReadonlyMap<string, GenericRecord>,
  campaignsOfList: ReadonlyMap<string, CampaignRef[]> = new Map(),
): Membership[] {
  const rows = new Set(rowIds);
  const out = new Map<string, Membership>();
  for (const member of members) {
    if (member.entity !== 'listmember' || !exists(member)) continue;
    const entity = lookup(member, 'entityid');
    const listId = lookup(member, 'listid')?.id;
    if (entity === undefined || listId === undefined || !rows.has(entity.id)) continue;
    const list = lists.get(listId);
    if (!exists(list) || list.values.type === true) continue;
    out.set(listId, { listId, name: text(list, 'listname'), campaigns: campaignsOfList.get(listId) ?? [] });
  }
  return [...out.values()].sort(byListName);
}

/**
 * The campaigns each list is distributed by: campaign items of lists, of campaigns that still exist
 * (a completed campaign still counts: it did put its people in). Sorted by name, then id.
 */
export function campaignsByList(
  items: readonly GenericRecord[],
  campaigns: ReadonlyMap<string, GenericRecord>,
): Map<string, CampaignRef[]> {
  const out = new Map<string, CampaignRef[]>();
  for (const item of items) {
    // A campaign also distributes products and sales literature; only its lists put people in it.
    if (item.entity !== 'campaignitem' || !exists(item) || item.values.entitytype !== 'list') continue;
    const listId = item.values.entityid;
    const campaignId = lookup(item, 'campaignid')?.id;
    if (typeof listId !== 'string' || campaignId === undefined) continue;
    const campaign = campaigns.get(campaignId);
    if (!exists(campaign)) continue;
    const refs = out.get(listId.toLowerCase()) ?? [];
    if (!refs.some((ref) => ref.campaignId === campaignId))
      refs.push({ campaignId, name: text(campaign, 'name') });
    out.set(listId.toLowerCase(), refs);
  }
  for (const refs of out.values()) {
    refs.sort(
      (a, b) => (a.name ?? '').localeCompare(b.name ?? '') || a.campaignId.localeCompare(b.campaignId),
    );
  }
  return out;
}

/** Memberships in the order they are kept: by list name, then id. */
export const byListName = (a: Membership, b: Membership): number =>
  (a.name ?? '').localeCompare(b.name ?? '') || a.listId.localeCompare(b.listId);

/** A connection seen from the opportunity: the other end and that end's role (undefined: not one). */
function stakeholderOf(
  connection: GenericRecord,
  opportunityId: string,
): { row: LookupValue; roleId: string | undefined } | undefined {
  const one = lookup(connection, 'record1id');
  const two = lookup(connection, 'record2id');
  if (one?.id === opportunityId && one.table === 'opportunity' && two !== undefined) {
    return { row: two, roleId: lookup(connection, 'record2roleid')?.id };
  }
  if (two?.id === opportunityId && two.table === 'opportunity' && one !== undefined) {
    return { row: one, roleId: lookup(connection, 'record1roleid')?.id };
  }
  return undefined;
}

/**
 * The roles on one opportunity: a contact customer has the Customer role (with its account), and
 * every active connection to it gives the other end the connection's role. Dataverse stores each
 * connection twice (the reciprocal seen from the other end): both give the same role, kept once.
 */
export function rolesOf(
  opportunity: GenericRecord,
  connections: readonly GenericRecord[],
  roleNames: ReadonlyMap<string, string>,
  accountOfContact: ReadonlyMap<string, string>,
): OpportunityRole[] {
  const out = new Map<string, OpportunityRole>();
  if (!exists(opportunity)) return [];
  const customer = lookup(opportunity, 'customerid');
  if (customer !== undefined && customer.table === 'contact') {
    const accountId = accountOfContact.get(customer.id);
    out.set(`${customer.id}:${CUSTOMER_ROLE}`, {
      rowId: customer.id,
      table: 'contact',
      role: CUSTOMER_ROLE,
      source: 'customer',
      ...(accountId !== undefined ? { accountId } : {}),
    });
  }
  // The connection as written (ismaster) names the role first; its reciprocal only if that is gone.
  const ordered = [...connections].sort(
    (a, b) =>
      Number(b.values.ismaster === true) - Number(a.values.ismaster === true) || a.id.localeCompare(b.id),
  );
  for (const connection of ordered) {
    if (connection.entity !== 'connection' || !live(connection)) continue;
    const end = stakeholderOf(connection, opportunity.id);
    if (end === undefined) continue;
    const role = (end.roleId !== undefined ? roleNames.get(end.roleId) : undefined) ?? 'Stakeholder';
    const key = `${end.row.id}:${role}`;
    if (out.has(key)) continue;
    out.set(key, {
      rowId: end.row.id,
      table: end.row.table ?? 'unknown',
      role,
      source: 'connection',
      connectionId: connection.id,
    });
  }
  return [...out.values()];
}

/** The opportunity with these roles, or undefined when it already has them. */
export function withRoles(
  opportunity: GenericRecord,
  roles: readonly OpportunityRole[],
): GenericRecord | undefined {
  const doc = opportunity as Record<string, unknown>;
  const rows = [...new Set(roles.map((role) => role.rowId))].sort();
  if (sameValue(doc[ROLES_KEY] ?? [], roles) && sameValue(doc[ROLE_ROWS_KEY] ?? [], rows)) return undefined;
  return { ...opportunity, [ROLES_KEY]: roles, [ROLE_ROWS_KEY]: rows };
}

/** The roles stored on an opportunity (what an earlier projection wrote). */
export function storedRoles(opportunity: GenericRecord): OpportunityRole[] {
  const roles = (opportunity as Record<string, unknown>)[ROLES_KEY];
  return Array.isArray(roles) ? (roles as OpportunityRole[]) : [];
}

/** The person's roles, from the opportunities whose stored roles name one of its rows. */
export function personRolesOf(
  rowIds: readonly string[],
  opportunities: readonly GenericRecord[],
): PersonRole[] {
  const rows = new Set(rowIds);
  const out = new Map<string, PersonRole>();
  for (const opportunity of opportunities) {
    if (!exists(opportunity)) continue;
    for (const role of storedRoles(opportunity)) {
      if (!rows.has(role.rowId) || !PERSON_TABLES.has(role.table)) continue;
      out.set(`${opportunity.id}:${role.role}`, {
        opportunityId: opportunity.id,
        name: text(opportunity, 'name'),
        role: role.role,
      });
    }
  }
  return [...out.values()].sort(
    (a, b) => a.opportunityId.localeCompare(b.opportunityId) || a.role.localeCompare(b.role),
  );
}

/**
 * The person with these memberships and roles, or undefined when nothing changes. A person that
 * never had any gets no empty fields: most people are on no list, and writing them all would cost
 * a write each for nothing.
 */
export function withRelations(
  person: PersonRecord,
  memberships: readonly Membership[],
  roles: readonly PersonRole[],
): PersonRecord | undefined {
  const doc = person as Record<string, unknown>;
  const next: Record<string, unknown> = { ...doc };
  let changed = false;
  for (const [key, value] of [
    [MEMBERSHIPS_KEY, memberships],
    [PERSON_ROLES_KEY, roles],
  ] as const) {
    const stored = doc[key];
    if (stored === undefined && value.length === 0) continue;
    if (sameValue(stored, value)) continue;
    next[key] = value;
    changed = true;
  }
  return changed ? (next as PersonRecord) : undefined;
}

/** The lead and contact rows an opportunity's stored roles name. */
export function personRoleRows(opportunity: GenericRecord): string[] {
  return storedRoles(opportunity)
    .filter((role) => PERSON_TABLES.has(role.table))
    .map((role) => role.rowId);
}
