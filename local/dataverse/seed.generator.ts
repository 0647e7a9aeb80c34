import type { DataStore, TableState } from './data.store';
import { isoSeconds } from './data.store';
import { buildTable, col, type ColumnDef, type TableDef } from './schema.catalog';
import {
  AUDIT_TARGETS,
  auditFrom,
  guidFromText,
  ownerFrom,
  Prng,
  SEED_END,
  SEED_SPAN,
  stampsFrom,
  type Pending,
} from './seed.random';
import { defaultRelationCounts, seedRelations } from './seed.relations';
import type { CustomTableOptions } from './simulator.options';

export const BUSINESS_UNIT_ID = guidFromText('simulator-root-business-unit');

const FIRST = [
  'James',
  'Mary',
  'John',
  'Patricia',
  'Robert',
  'Jennifer',
  'Michael',
  'Linda',
  'William',
  'Elizabeth',
  'David',
  'Barbara',
  'Richard',
  'Susan',
  'Joseph',
  'Jessica',
  'Thomas',
  'Sarah',
  'Charles',
  'Karen',
  'Daniel',
  'Nancy',
  'Matthew',
  'Lisa',
  'Anthony',
  'Betty',
  'Mark',
  'Sandra',
  'Paul',
  'Ashley',
  'Steven',
  'Emily',
  'Andrew',
  'Donna',
  'Kenneth',
  'Michelle',
  'Joshua',
  'Carol',
  'Kevin',
  'Amanda',
  'Brian',
  'Melissa',
  'George',
  'Deborah',
  'Timothy',
  'Stephanie',
  'Ronald',
  'Rebecca',
  'Jason',
  'Laura',
  'Lukas',
  'Sofia',
  'Mateo',
  'Chloé',
  'Jörg',
  'Ana',
  'Hiroshi',
  'Aiko',
  'Priya',
  'Arjun',
  'Siobhán',
  'Zoë',
];
const LAST = [
  'Smith',
  'Johnson',
  'Williams',
  'Brown',
  'Jones',
  'Garcia',
  'Miller',
  'Davis',
  'Rodriguez',
  'Martinez',
  'Hernandez',
  'Lopez',
  'Gonzalez',
  'Wilson',
  'Anderson',
  'Thomas',
  'Taylor',
  'Moore',
  'Jackson',
  'Martin',
  'Lee',
  'Perez',
  'Thompson',
  'White',
  'Harris',
  'Sanchez',
  'Clark',
  'Ramirez',
  'Lewis',
  'Robinson',
  'Walker',
  'Young',
  'Allen',
  'King',
  'Wright',
  'Scott',
  'Torres',
  'Nguyen',
  'Hill',
  'Flores',
  'Green',
  'Adams',
  'Nelson',
  'Baker',
  'Hall',
  'Müller',
  'Schmidt',
  'Dubois',
  'Rossi',
  'Tanaka',
  'Sato',
  'Kowalski',
  "O'Brien",
  'Van der Berg',
  'Patel',
  'Singh',
];
const COMPANY_A = [
  'Contoso',
  'Fabrikam',
  'Northwind',
  'Adventure',
  'Litware',
  'Proseware',
  'Tailspin',
  'Wingtip',
  'Woodgrove',
  'Alpine',
  'Blue Yonder',
  'Coho',
  'Fourth Coffee',
  'Humongous',
  'Lucerne',
  'Margie',
  'Trey',
  'Wide World',
  'Graphic',
  'Southridge',
  'Relecloud',
  'VanArsdel',
  'Lamna',
  'Datum',
  'Consolidated',
];
const COMPANY_B = [
  'Ltd',
  'Inc.',
  'GmbH',
  'Group',
  'Holdings',
  'Partners',
  'Systems',
  'Labs',
  'Works',
  'Industries',
];
const PLACES: [string, string][] = [
  ['Seattle', 'United States'],
  ['Redmond', 'United States'],
  ['New York', 'United States'],
  ['Chicago', 'United States'],
  ['Austin', 'United States'],
  ['London', 'United Kingdom'],
  ['Manchester', 'United Kingdom'],
  ['Berlin', 'Germany'],
  ['München', 'Germany'],
  ['Paris', 'France'],
  ['Lyon', 'France'],
  ['Madrid', 'Spain'],
  ['Milano', 'Italy'],
  ['Amsterdam', 'Netherlands'],
  ['Stockholm', 'Sweden'],
  ['Toronto', 'Canada'],
  ['Sydney', 'Australia'],
  ['Tokyo', 'Japan'],
  ['Bengaluru', 'India'],
  ['São Paulo', 'Brazil'],
];
const TITLES = [
  'Marketing Manager',
  'VP Sales',
  'CEO',
  'CTO',
  'Purchasing Agent',
  'Account Executive',
  'Product Owner',
  'Operations Director',
  'IT Administrator',
  'Office Manager',
  'Consultant',
  'Head of Growth',
  null,
];
const DOMAINS = [
  'example.com',
  'mail.example.org',
  'contoso.com',
  'fabrikam.net',
  'northwind.example',
  'outlook.example',
];
const SUBJECTS = [
  'Interested in product demo',
  'Pricing request',
  'Webinar follow-up',
  'Trade show contact',
  'Partnership inquiry',
  'Newsletter signup',
];

/** The default per-table counts derived from the number of contacts. */
export const defaultCounts = (records: number) => {
  const users = Math.min(200, Math.max(5, Math.floor(records / 100)));
  return {
    contact: records,
    lead: Math.floor(records / 2),
    account: Math.floor(records / 5),
    opportunity: Math.floor(records / 5),
    systemuser: users,
    team: Math.max(1, Math.round(users / 4)),
    task: Math.floor(records / 20),
    ...defaultRelationCounts(records),
  };
};
export type SeedCounts = ReturnType<typeof defaultCounts>;

const asciiCache = new Map<string, string>();
const ascii = (s: string): string => {
  let v = asciiCache.get(s);
  if (v === undefined) {
    v = s
      .normalize('NFD')
      .replace(/[\u0300-\u036f]/g, '')
      .replace(/[^A-Za-z]/g, '')
      .toLowerCase();
    asciiCache.set(s, v);
  }
  return v;
};

/** Builds the table definition of a custom table declared in the options. */
export const customTableDef = (opts: CustomTableOptions): TableDef => {
  const prefix = opts.logicalName.split('_')[0] as string;
  const primaryKey = opts.primaryKey ?? `${opts.logicalName}id`;
  const primaryName = opts.primaryName ?? `${prefix}_name`;
  const columns: ColumnDef[] = [];
  const declared = [...opts.columns];
  if (!declared.some((c) => c.name === primaryName)) declared.unshift({ name: primaryName, type: 'string' });
  if (opts.link && !declared.some((c) => c.name === opts.link?.column)) {
    declared.push({ name: opts.link.column, type: 'lookup', targets: [opts.link.target] });
  }
  for (const c of declared) {
    switch (c.type) {
      case 'lookup': {
        const targets = c.targets ?? [];
        const navs: Record<string, string> = {};
        for (const t of targets) navs[targets.length === 1 ? c.name : `${c.name}_${t}`] = t;
        columns.push(col.lookup(c.name, navs));
        break;
      }
      case 'choice':
        columns.push(col.choice(c.name, c.options ?? []));
        break;
      case 'multichoice':
        columns.push(col.multichoice(c.name, c.options ?? []));
        break;
      case 'string':
        columns.push(col.string(c.name, 4000));
        break;
      default:
        columns.push({ name: c.name, attribute: c.name, type: c.type });
    }
  }
  return buildTable({
    logicalName: opts.logicalName,
    entitySetName: opts.entitySetName,
    primaryKey,
    primaryName,
    ownership: 'user',
    states: [
      { state: 0, label: 'Active', statuses: [{ value: 1, label: 'Active' }] },
      { state: 1, label: 'Inactive', statuses: [{ value: 2, label: 'Inactive' }] },
    ],
    columns,
  });
};

/** firstname, lastname and the fullname Dynamics composes from them, for users, contacts and leads. */
const nameColumns = (first: string, last: string) => ({
  firstname: first,
  lastname: last,
  fullname: `${first} ${last}`,
});

export interface SeedInput {
  store: DataStore;
  seed: number;
  counts: SeedCounts;
  customTables: CustomTableOptions[];
  /** Application users, one per OAuth client: [clientId, systemuserid]. */
  appUsers: [string, string][];
}

/** Fills the store with a deterministic, referentially valid organisation. */
export const seedOrganisation = ({ store, seed, counts, customTables, appUsers }: SeedInput): void => {
  const rng = new Prng(seed);
  const stamps = () => stampsFrom(rng);
  const syncFlag = (): boolean | null => {
    const r = rng.next();
    return r < 0.8 ? true : r < 0.9 ? false : null;
  };

  // Users and teams.
  const users: Pending[] = [];
  for (let i = 0; i < counts.systemuser; i++) {
    const first = rng.pick(FIRST);
    const last = rng.pick(LAST);
    const email = `${ascii(first)}.${ascii(last)}${i}@contoso.onmicrosoft.com`;
    const id = rng.guid();
    users.push({
      id,
      values: {
        systemuserid: id,
        ...nameColumns(first, last),
        internalemailaddress: email,
        domainname: email,
        isdisabled: i >= 3 && i % 7 === 4,
        title: rng.pick(TITLES),
        applicationid: null,
        _businessunitid_value: BUSINESS_UNIT_ID,
        ...stamps(),
      },
      targets: { _businessunitid_value: 'businessunit' },
    });
  }
  for (const [clientId, id] of appUsers) {
    users.push({
      id,
      values: {
        systemuserid: id,
        ...nameColumns('#', `Sync ${clientId.slice(0, 8)}`),
        internalemailaddress: `sync-${clientId.slice(0, 8)}@contoso.onmicrosoft.com`,
        domainname: `sync-${clientId.slice(0, 8)}@contoso.onmicrosoft.com`,
        isdisabled: false,
        title: 'Application user',
        applicationid: clientId,
        _businessunitid_value: BUSINESS_UNIT_ID,
        createdon: isoSeconds(SEED_END - SEED_SPAN),
        modifiedon: isoSeconds(SEED_END - SEED_SPAN),
      },
      targets: { _businessunitid_value: 'businessunit' },
    });
  }
  const humanUsers = users.slice(0, counts.systemuser);
  const enabledUsers = humanUsers.filter((u) => u.values.isdisabled === false);
  const teams: Pending[] = [];
  const memberships: Pending[] = [];
  for (let i = 0; i < counts.team; i++) {
    const id = rng.guid();
    teams.push({
      id,
      values: {
        teamid: id,
        name: `${rng.pick(PLACES)[0]} Sales Team ${i + 1}`,
        teamtype: i % 5 === 4 ? 1 : 0,
        _businessunitid_value: BUSINESS_UNIT_ID,
        _administratorid_value: rng.pick(enabledUsers).id,
        ...stamps(),
      },
      targets: { _businessunitid_value: 'businessunit', _administratorid_value: 'systemuser' },
    });
    const members = new Set<string>();
    const size = Math.min(humanUsers.length, rng.int(2, 5));
    while (members.size < size) members.add(rng.pick(humanUsers).id);
    for (const userId of members) {
      const mid = rng.guid();
      memberships.push({
        id: mid,
        values: { teammembershipid: mid, systemuserid: userId, teamid: id, ...stamps() },
        targets: {},
      });
    }
  }
  const owner = () => ownerFrom(rng, teams, enabledUsers);
  const auditTargets = AUDIT_TARGETS;
  const meta = () => auditFrom(rng, enabledUsers);
  // Accounts, contacts and leads end alike: the sync flag, not merged (yet: see mergeSome), their
  // state, owner and audit columns. The flag is drawn before the audit columns, as the seed always has.
  const mergeableColumns = (
    ownerId: string,
    statecode: number,
    statuscode: number,
  ): Record<string, unknown> => ({
    new_synctomkto: syncFlag(),
    merged: false,
    _masterid_value: null,
    statecode,
    statuscode,
    _ownerid_value: ownerId,
    ...meta(),
  });

  // Accounts.
  const accounts: Pending[] = [];
  for (let i = 0; i < counts.account; i++) {
    const id = rng.guid();
    const [ownerId, ownerType] = owner();
    const [city, country] = rng.pick(PLACES);
    const name = `${rng.pick(COMPANY_A)} ${rng.pick(COMPANY_B)} ${i + 1}`;
    const inactive = rng.chance(0.05);
    accounts.push({
      id,
      values: {
        accountid: id,
        name,
        accountnumber: `ACC-${String(i + 1).padStart(6, '0')}`,
        industrycode: rng.int(1, 33),
        websiteurl: `https://www.${ascii(name.split(' ')[0] as string)}${i + 1}.example`,
        telephone1: `+1 425 555 ${String(rng.int(0, 9999)).padStart(4, '0')}`,
        address1_city: city,
        address1_country: country,
        numberofemployees: rng.int(1, 50000),
        revenue: rng.int(10, 500000) * 1000,
        _primarycontactid_value: null,
        _parentaccountid_value:
          i > 10 && rng.chance(0.1) ? (accounts[rng.int(0, i - 1)] as Pending).id : null,
        ...mergeableColumns(ownerId, inactive ? 1 : 0, inactive ? 2 : 1),
      },
      targets: { _ownerid_value: ownerType, ...auditTargets },
    });
    const values = accounts[i]?.values as Record<string, unknown>;
    if (values._parentaccountid_value !== null)
      (accounts[i] as Pending).targets._parentaccountid_value = 'account';
  }

  // Contacts.
  const emails = new Set<string>();
  const uniqueEmail = (first: string, last: string): string => {
    const base = `${ascii(first)}.${ascii(last)}`;
    const domain = rng.pick(DOMAINS);
    let email = `${base}@${domain}`;
    for (let n = 2; emails.has(email); n++) email = `${base}${n}@${domain}`;
    emails.add(email);
    return email;
  };
  // Contacts and leads are people: an id, a name and an owner, drawn in this order.
  const person = () => {
    const id = rng.guid();
    const first = rng.pick(FIRST);
    const last = rng.pick(LAST);
    const [ownerId, ownerType] = owner();
    const targets: Record<string, string> = { _ownerid_value: ownerType, ...auditTargets };
    return { id, first, last, ownerId, targets };
  };
  const contacts: Pending[] = [];
  for (let i = 0; i < counts.contact; i++) {
    const { id, first, last, ownerId, targets } = person();
    const [city, country] = rng.pick(PLACES);
    const account = accounts.length > 0 && rng.chance(0.85) ? rng.pick(accounts) : undefined;
    const inactive = rng.chance(0.05);
    if (account) targets._parentcustomerid_value = 'account';
    contacts.push({
      id,
      values: {
        contactid: id,
        ...nameColumns(first, last),
        emailaddress1: rng.chance(0.97) ? uniqueEmail(first, last) : null,
        jobtitle: rng.pick(TITLES),
        telephone1: `+1 206 555 ${String(rng.int(0, 9999)).padStart(4, '0')}`,
        mobilephone: rng.chance(0.6) ? `+1 425 555 ${String(rng.int(0, 9999)).padStart(4, '0')}` : null,
        address1_city: city,
        address1_country: country,
        _parentcustomerid_value: account ? account.id : null,
        _originatingleadid_value: null,
        preferredcontactmethodcode: rng.pick([1, 1, 1, 2, 2, 3, 4, 5]),
        donotemail: rng.chance(0.05),
        ...mergeableColumns(ownerId, inactive ? 1 : 0, inactive ? 2 : 1),
        // Drawn by seed.relations.ts; here from the start so that setting it changes no object's shape.
        new_interests: null,
      },
      targets,
    });
  }
  for (const a of accounts) {
    const members = contacts.length > 0 && rng.chance(0.7) ? rng.pick(contacts) : undefined;
    if (members) {
      a.values._primarycontactid_value = members.id;
      a.targets._primarycontactid_value = 'contact';
    }
  }

  // Leads; qualified leads point at the contact (and account) they became.
  const leads: Pending[] = [];
  for (let i = 0; i < counts.lead; i++) {
    const { id, first, last, ownerId, targets } = person();
    const r = rng.next();
    const state = r < 0.75 ? 0 : r < 0.9 ? 1 : 2;
    const status = state === 0 ? rng.int(1, 2) : state === 1 ? 3 : rng.int(4, 7);
    const values: Record<string, unknown> = {
      leadid: id,
      ...nameColumns(first, last),
      emailaddress1: uniqueEmail(first, last),
      companyname: `${rng.pick(COMPANY_A)} ${rng.pick(COMPANY_B)}`,
      jobtitle: rng.pick(TITLES),
      telephone1: `+44 20 7946 ${String(rng.int(0, 9999)).padStart(4, '0')}`,
      subject: rng.pick(SUBJECTS),
      leadsourcecode: rng.int(1, 10),
      industrycode: rng.chance(0.7) ? rng.int(1, 33) : null,
      _parentaccountid_value: null,
      _parentcontactid_value: null,
      ...mergeableColumns(ownerId, state, status),
      // As for contacts: filled by seed.relations.ts.
      new_interests: null,
    };
    if (state === 1 && contacts.length > 0) {
      const contact = rng.pick(contacts);
      if (contact.values._originatingleadid_value === null) {
        contact.values._originatingleadid_value = id;
        contact.targets._originatingleadid_value = 'lead';
      }
      values._parentcontactid_value = contact.id;
      targets._parentcontactid_value = 'contact';
      const accountId = contact.values._parentcustomerid_value;
      if (typeof accountId === 'string') {
        values._parentaccountid_value = accountId;
        targets._parentaccountid_value = 'account';
      }
    }
    leads.push({ id, values, targets });
  }

  // Merged rows: the loser is inactive, merged=true and points at an active survivor.
  const mergeSome = (rows: Pending[], inactiveState: number, inactiveStatus: number) => {
    const n = Math.floor(rows.length * 0.01);
    for (let k = 0; k < n; k++) {
      const loser = rng.pick(rows);
      const survivor = rng.pick(rows);
      if (loser === survivor || loser.values.merged === true || survivor.values.merged === true) continue;
      if (survivor.values.statecode !== 0) continue;
      loser.values.merged = true;
      loser.values._masterid_value = survivor.id;
      loser.targets._masterid_value = String(
        rows === contacts ? 'contact' : rows === accounts ? 'account' : 'lead',
      );
      loser.values.statecode = inactiveState;
      loser.values.statuscode = inactiveStatus;
    }
  };
  mergeSome(contacts, 1, 2);
  mergeSome(accounts, 1, 2);
  mergeSome(leads, 2, 7);

  // A row of `first` with chance `p` (always when `second` is empty), else of `second`; true when of `first`.
  const pickEither = (first: Pending[], p: number, second: Pending[]): [Pending, boolean] => {
    const fromFirst = first.length > 0 && (second.length === 0 || rng.chance(p));
    return [fromFirst ? rng.pick(first) : rng.pick(second), fromFirst];
  };

  // Opportunities.
  const qualified = leads.filter((l) => l.values.statecode === 1);
  const opportunities: Pending[] = [];
  for (let i = 0; i < counts.opportunity && (accounts.length > 0 || contacts.length > 0); i++) {
    const id = rng.guid();
    const [ownerId, ownerType] = owner();
    const [customer, byContact] = pickEither(contacts, 0.4, accounts);
    const targets: Record<string, string> = {
      _ownerid_value: ownerType,
      _customerid_value: byContact ? 'contact' : 'account',
      ...auditTargets,
    };
    const parentAccount = byContact ? customer.values._parentcustomerid_value : customer.id;
    if (typeof parentAccount === 'string') targets._parentaccountid_value = 'account';
    if (byContact) targets._parentcontactid_value = 'contact';
    const lead = qualified.length > 0 && rng.chance(0.3) ? rng.pick(qualified) : undefined;
    if (lead) targets._originatingleadid_value = 'lead';
    const r = rng.next();
    const state = r < 0.7 ? 0 : r < 0.85 ? 1 : 2;
    opportunities.push({
      id,
      values: {
        opportunityid: id,
        name: `${rng.pick(['New licences', 'Renewal', 'Upsell', 'Pilot', 'Expansion'])} ${i + 1}`,
        _customerid_value: customer.id,
        _parentaccountid_value: typeof parentAccount === 'string' ? parentAccount : null,
        _parentcontactid_value: byContact ? customer.id : null,
        _originatingleadid_value: lead ? lead.id : null,
        estimatedvalue: rng.int(1, 2000) * 500,
        estimatedclosedate: isoSeconds(SEED_END + rng.int(-180, 365) * 86400000).slice(0, 10),
        closeprobability: rng.int(0, 100),
        salesstagecode: rng.int(1, 4),
        new_synctomkto: syncFlag(),
        statecode: state,
        statuscode: state === 0 ? rng.int(1, 2) : state === 1 ? 3 : rng.int(4, 5),
        _ownerid_value: ownerId,
        ...meta(),
      },
      targets,
    });
  }

  // Tasks regarding contacts or leads.
  const tasks: Pending[] = [];
  for (let i = 0; i < counts.task && (contacts.length > 0 || leads.length > 0); i++) {
    const id = rng.guid();
    const [ownerId, ownerType] = owner();
    const [regarding, onContact] = pickEither(contacts, 0.6, leads);
    const state = rng.chance(0.6) ? 0 : 1;
    tasks.push({
      id,
      values: {
        activityid: id,
        subject: rng.pick([
          'Call back',
          'Send proposal',
          'Follow up on webinar',
          'Book demo',
          'Check renewal',
        ]),
        description: 'Created by the seed.',
        scheduledend: isoSeconds(SEED_END + rng.int(-30, 60) * 86400000),
        prioritycode: rng.int(0, 2),
        _regardingobjectid_value: regarding.id,
        statecode: state,
        statuscode: state === 0 ? 2 : 5,
        _ownerid_value: ownerId,
        ...meta(),
      },
      targets: {
        _ownerid_value: ownerType,
        _regardingobjectid_value: onContact ? 'contact' : 'lead',
        ...auditTargets,
      },
    });
  }

  const byTable: [string, Pending[]][] = [
    ['systemuser', users],
    ['team', teams],
    ['teammembership', memberships],
    ['account', accounts],
    ['contact', contacts],
    ['lead', leads],
    ['opportunity', opportunities],
    ['task', tasks],
  ];
  const pools: Record<string, Pending[]> = { contact: contacts, lead: leads, account: accounts };

  // Custom tables.
  for (const custom of customTables) {
    const state = store.table(custom.logicalName) as TableState;
    const rows: Pending[] = [];
    for (let i = 0; i < custom.count; i++) {
      const id = rng.guid();
      const [ownerId, ownerType] = owner();
      const values: Record<string, unknown> = {
        [state.def.primaryKey]: id,
        statecode: 0,
        statuscode: 1,
        _ownerid_value: ownerId,
        ...meta(),
      };
      const targets: Record<string, string> = { _ownerid_value: ownerType, ...auditTargets };
      for (const c of state.def.columns) {
        if (c.readOnly || c.name in values) continue;
        switch (c.type) {
          case 'string':
            values[c.name] =
              c.name === state.def.primaryName ? `${custom.logicalName} ${i + 1}` : `${rng.pick(SUBJECTS)}`;
            break;
          case 'int':
            values[c.name] = rng.int(0, 1000);
            break;
          case 'decimal':
          case 'money':
            values[c.name] = Math.round(rng.next() * 100000) / 100;
            break;
          case 'bool':
            values[c.name] = c.name === 'new_synctomkto' ? syncFlag() : rng.chance(0.5);
            break;
          case 'datetime':
            values[c.name] = stamps().modifiedon;
            break;
          case 'choice':
            values[c.name] = c.options && c.options.length > 0 ? rng.pick(c.options).value : null;
            break;
          case 'lookup': {
            const target = (c.targets ?? []).find((t) => (pools[t]?.length ?? 0) > 0);
            const pool = target ? pools[target] : undefined;
            if (target && pool) {
              values[c.name] = rng.pick(pool).id;
              targets[c.name] = target;
            } else values[c.name] = null;
            break;
          }
          default:
            values[c.name] = null;
        }
      }
      rows.push({ id, values, targets });
    }
    byTable.push([custom.logicalName, rows]);
    // A later custom table may look rows of this one up (a custom row linked to a custom row).
    pools[custom.logicalName] = rows;
  }

  // Last, from their own stream: the rows above stay as they were before these tables existed.
  byTable.push(
    ...seedRelations({
      seed,
      counts,
      contacts,
      leads,
      accounts,
      opportunities,
      users: enabledUsers,
      teams,
    }),
  );

  for (const [table, rows] of byTable) {
    const state = store.table(table);
    if (!state) continue;
    for (const r of rows) store.bulkInsert(state, r.id, r.values, r.targets);
  }
  store.finishBulk();
};
