import { isoSeconds } from './data.store';
import { listMemberTable, OBJECT_TYPE_CODES } from './schema.catalog';
import { AUDIT_TARGETS, auditFrom, guidFromText, ownerFrom, Prng, SEED_END, SEED_SPAN } from './seed.random';
import type { Pending } from './seed.random';

// Rows that relate the people and deals of the organisation: their multi-select interests,
// marketing lists and their members, campaigns and the lists they distribute, and stakeholder
// connections on opportunities. They draw from a PRNG stream of their own, after everything else,
// so that the rows seeded before them stay exactly as they were.

export interface RelationCounts {
  list: number;
  campaign: number;
  connection: number;
}

export const defaultRelationCounts = (records: number): RelationCounts => {
  const list = Math.max(2, Math.min(100, Math.floor(records / 100)));
  // A stakeholder for one opportunity in four: each is two rows, so more would weigh on memory at scale.
  return { list, campaign: Math.max(1, Math.floor(list / 3)), connection: Math.floor(records / 20) };
};

export interface RelationInput {
  seed: number;
  counts: RelationCounts;
  contacts: Pending[];
  leads: Pending[];
  accounts: Pending[];
  opportunities: Pending[];
  /** Owners and authors: enabled users and teams. */
  users: Pending[];
  teams: Pending[];
}

/** The stream's seed: far from the main one, so the two never walk the same sequence. */
const streamSeed = (seed: number): number => (seed ^ 0x5bd1e995) >>> 0;

const INTERESTS = [100000000, 100000001, 100000002];

/** Stakeholder roles, with fixed ids as the platform's own rows have. */
const STAKEHOLDER_ROLES = ['Stakeholder', 'Decision Maker', 'Influencer'].map((name) => ({
  id: guidFromText(`connectionrole:${name}`),
  name,
}));

const LIST_TOPICS = [
  'Newsletter',
  'Webinar invitees',
  'Event attendees',
  'Product launch',
  'Customer survey',
];
const CAMPAIGN_TOPICS = ['Spring launch', 'Summer webinars', 'Trade show follow-up', 'Renewal drive'];
const CITIES = ['Seattle', 'London', 'Berlin', 'Paris', 'Tokyo'];

/** Table name and rows, in insertion order. Sets `new_interests` on every contact and lead. */
export const seedRelations = (input: RelationInput): [string, Pending[]][] => {
  const rng = new Prng(streamSeed(input.seed));
  const { users, teams } = input;
  /** Owner and audit columns, with their lookups' targets. */
  const owned = (): { values: Record<string, unknown>; targets: Record<string, string> } => {
    const [ownerId, ownerType] = ownerFrom(rng, teams, users);
    return {
      values: { _ownerid_value: ownerId, ...auditFrom(rng, users) },
      targets: { _ownerid_value: ownerType, ...AUDIT_TARGETS },
    };
  };
  const ownedRow = (id: string, values: Record<string, unknown>): Pending => {
    const owner = owned();
    return { id, values: { ...values, ...owner.values }, targets: owner.targets };
  };

  // Some four people in ten have told which kinds of marketing they want.
  for (const person of [...input.contacts, ...input.leads]) {
    const chosen = rng.chance(0.4) ? INTERESTS.filter(() => rng.chance(0.5)) : [];
    person.values.new_interests = chosen.length > 0 ? chosen.join(',') : null;
  }

  const pools: Record<number, Pending[]> = { 1: input.accounts, 2: input.contacts, 4: input.leads };
  const lists: Pending[] = [];
  const members: Pending[] = [];
  for (let i = 0; i < input.counts.list; i++) {
    const id = rng.guid();
    const code = rng.pick([2, 2, 2, 4, 4, 1]);
    const pool = pools[code] ?? [];
    // One list in three is dynamic: a query, and no member rows.
    const dynamic = i % 3 === 2;
    const city = rng.pick(CITIES);
    const entity = listMemberTable(code) as string;
    const query = dynamic
      ? `<fetch version="1.0" mapping="logical"><entity name="${entity}"><attribute name="${entity}id" /><filter type="and"><condition attribute="address1_city" operator="eq" value="${city}" /></filter></entity></fetch>`
      : null;
    const chosen = new Set<Pending>();
    const size = dynamic ? 0 : Math.min(pool.length, rng.int(5, 40));
    while (chosen.size < size) chosen.add(rng.pick(pool));
    for (const member of chosen) {
      const memberId = rng.guid();
      const createdon = isoSeconds(SEED_END - Math.floor(rng.next() * SEED_SPAN));
      members.push({
        id: memberId,
        values: {
          listmemberid: memberId,
          _listid_value: id,
          _entityid_value: member.id,
          createdon,
          modifiedon: createdon,
        },
        targets: { _listid_value: 'list', _entityid_value: entity },
      });
    }
    lists.push(
      ownedRow(id, {
        listid: id,
        listname: `${rng.pick(LIST_TOPICS)}${dynamic ? ` in ${city}` : ''} ${i + 1}`,
        type: dynamic,
        createdfromcode: code,
        query,
        description: null,
        purpose: null,
        source: null,
        membercount: chosen.size,
        lockstatus: false,
        statecode: 0,
        statuscode: 0,
      }),
    );
  }

  const campaigns: Pending[] = [];
  const campaignItems: Pending[] = [];
  for (let i = 0; i < input.counts.campaign; i++) {
    const id = rng.guid();
    const start = SEED_END + rng.int(-120, 60) * 86400000;
    // Proposed, ready to launch, launched or completed.
    const status = rng.int(0, 3);
    campaigns.push(
      ownedRow(id, {
        campaignid: id,
        name: `${rng.pick(CAMPAIGN_TOPICS)} ${i + 1}`,
        codename: `CMP-${String(i + 1).padStart(5, '0')}`,
        typecode: rng.int(1, 5),
        description: null,
        proposedstart: isoSeconds(start).slice(0, 10),
        proposedend: isoSeconds(start + rng.int(7, 60) * 86400000).slice(0, 10),
        budgetedcost: rng.int(1, 100) * 1000,
        istemplate: false,
        statecode: 0,
        statuscode: status,
      }),
    );
    const distributed = new Set<Pending>();
    const size = Math.min(lists.length, rng.int(1, 3));
    while (distributed.size < size) distributed.add(rng.pick(lists));
    for (const list of distributed) {
      const itemId = rng.guid();
      campaignItems.push({
        id: itemId,
        values: {
          campaignitemid: itemId,
          _campaignid_value: id,
          entityid: list.id,
          entitytype: 'list',
          createdon: list.values.createdon,
          modifiedon: list.values.createdon,
        },
        targets: { _campaignid_value: 'campaign' },
      });
    }
  }

  const roles: Pending[] = STAKEHOLDER_ROLES.map(({ id, name }) => ({
    id,
    values: {
      connectionroleid: id,
      name,
      category: 1000,
      description: null,
      statecode: 0,
      statuscode: 1,
      createdon: isoSeconds(SEED_END - SEED_SPAN),
      modifiedon: isoSeconds(SEED_END - SEED_SPAN),
    },
    targets: {},
  }));

  // Stakeholders: a contact on an opportunity in a role, stored twice as Dataverse does (see connection.rules.ts).
  const connections: Pending[] = [];
  const paired = new Set<string>();
  const { opportunities, contacts } = input;
  for (let i = 0; i < input.counts.connection && opportunities.length > 0 && contacts.length > 0; i++) {
    const opportunity = rng.pick(opportunities);
    const contact = rng.pick(contacts);
    const role = rng.pick(roles);
    const masterId = rng.guid();
    const reciprocalId = rng.guid();
    const inactive = rng.chance(0.05);
    if (paired.has(`${opportunity.id}|${contact.id}`)) continue;
    paired.add(`${opportunity.id}|${contact.id}`);
    const owner = owned();
    const common = {
      statecode: inactive ? 1 : 0,
      statuscode: inactive ? 2 : 1,
      description: null,
      effectivestart: null,
      effectiveend: null,
      ...owner.values,
    };
    const ends = [
      { id: opportunity.id, table: 'opportunity', name: opportunity.values.name },
      { id: contact.id, table: 'contact', name: contact.values.fullname },
    ] as const;
    for (const master of [true, false]) {
      const [one, two] = master ? ends : [ends[1], ends[0]];
      const self = master ? masterId : reciprocalId;
      connections.push({
        id: self,
        values: {
          connectionid: self,
          name: two.name,
          _record1id_value: one.id,
          _record2id_value: two.id,
          _record1roleid_value: master ? null : role.id,
          _record2roleid_value: master ? role.id : null,
          record1objecttypecode: OBJECT_TYPE_CODES[one.table],
          record2objecttypecode: OBJECT_TYPE_CODES[two.table],
          ismaster: master,
          _relatedconnectionid_value: master ? reciprocalId : masterId,
          ...common,
        },
        targets: {
          ...owner.targets,
          _record1id_value: one.table,
          _record2id_value: two.table,
          [master ? '_record2roleid_value' : '_record1roleid_value']: 'connectionrole',
          _relatedconnectionid_value: 'connection',
        },
      });
    }
  }

  return [
    ['connectionrole', roles],
    ['list', lists],
    ['listmember', members],
    ['campaign', campaigns],
    ['campaignitem', campaignItems],
    ['connection', connections],
  ];
};
