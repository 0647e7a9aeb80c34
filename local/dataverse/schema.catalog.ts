// Table and column metadata of the simulated organisation. Column names are the names the Web API
// reads and writes: lookups are stored under their read name `_<attr>_value`, and each lookup lists
// the navigation properties a client may bind through (`<nav>@odata.bind`).

export type ColumnType =
  | 'string'
  | 'memo'
  | 'int'
  | 'decimal'
  | 'money'
  | 'bool'
  | 'datetime'
  | 'dateonly'
  | 'choice'
  /** Multi-select choice: the values as one string, `"100000000,100000002"`. */
  | 'multichoice'
  | 'lookup'
  | 'guid';

export interface ChoiceOption {
  value: number;
  label: string;
}

export interface ColumnDef {
  /** Name as read over the Web API (`firstname`, `_parentcustomerid_value`). */
  name: string;
  type: ColumnType;
  /** Attribute logical name; differs from `name` only for lookups. */
  attribute: string;
  options?: ChoiceOption[];
  /** Labels for false/true. */
  boolLabels?: [string, string];
  /** Lookup targets (table logical names). */
  targets?: string[];
  /** navigation property -> target table (one per target for polymorphic lookups). */
  navigations?: Record<string, string>;
  /** System-maintained: writes are ignored. */
  readOnly?: boolean;
  maxLength?: number;
  /** Value a create gets when the body leaves the column out. */
  default?: unknown;
  /**
   * AttributeType the metadata reports where the column type alone cannot tell it (State, Status,
   * Owner, Customer, BigInt): reading and writing them is the same as for their plain type.
   */
  attributeType?: string;
  /** Tables whose row, when deleted, takes this row with it (cascade delete of intersect rows). */
  deletedWith?: string[];
}

export interface StateDef {
  state: number;
  label: string;
  statuses: ChoiceOption[];
}

export interface TableDef {
  logicalName: string;
  entitySetName: string;
  primaryKey: string;
  primaryName: string;
  columns: ColumnDef[];
  columnMap: Map<string, ColumnDef>;
  /** nav property -> lookup column + target table. */
  navMap: Map<string, { column: ColumnDef; targets: string[] }>;
  states?: StateDef[];
  ownership: 'user' | 'none';
  /** The Web API refuses direct creates/updates (intersect tables). */
  apiReadOnly?: boolean;
  schemaName: string;
  /**
   * The table name inside its privilege names (`prvRead<…>`); undefined when the table has none of
   * its own, as intersect tables, whose rows are governed by the tables they join.
   */
  privilegeEntity: string | undefined;
  /** The intersect table of a many-to-many relationship (metadata `IsIntersect`). */
  intersect: boolean;
}

export const col = {
  string: (name: string, maxLength = 100): ColumnDef => ({
    name,
    attribute: name,
    type: 'string',
    maxLength,
  }),
  memo: (name: string): ColumnDef => ({ name, attribute: name, type: 'memo', maxLength: 100000 }),
  int: (name: string): ColumnDef => ({ name, attribute: name, type: 'int' }),
  decimal: (name: string): ColumnDef => ({ name, attribute: name, type: 'decimal' }),
  money: (name: string): ColumnDef => ({ name, attribute: name, type: 'money' }),
  bool: (name: string, labels: [string, string] = ['No', 'Yes']): ColumnDef => ({
    name,
    attribute: name,
    type: 'bool',
    boolLabels: labels,
  }),
  datetime: (name: string, readOnly = false): ColumnDef => ({
    name,
    attribute: name,
    type: 'datetime',
    readOnly,
  }),
  dateonly: (name: string): ColumnDef => ({ name, attribute: name, type: 'dateonly' }),
  choice: (name: string, options: ChoiceOption[]): ColumnDef => ({
    name,
    attribute: name,
    type: 'choice',
    options,
  }),
  multichoice: (name: string, options: ChoiceOption[]): ColumnDef => ({
    name,
    attribute: name,
    type: 'multichoice',
    options,
  }),
  guid: (name: string): ColumnDef => ({ name, attribute: name, type: 'guid', readOnly: true }),
  /**
   * A lookup. `targets` maps target table -> navigation property; a single-target lookup's
   * navigation property is normally the attribute name itself.
   */
  lookup: (attribute: string, navigations: Record<string, string>, readOnly = false): ColumnDef => ({
    name: `_${attribute}_value`,
    attribute,
    type: 'lookup',
    targets: [...new Set(Object.values(navigations))],
    navigations,
    readOnly,
  }),
  /** A customer lookup: an account or a contact, one navigation property per target. */
  customer: (attribute: string, navigations: Record<string, string>): ColumnDef => ({
    ...col.lookup(attribute, navigations),
    attributeType: 'Customer',
  }),
};

const opts = (...labels: [number, string][]): ChoiceOption[] =>
  labels.map(([value, label]) => ({ value, label }));

export const industryOptions = opts(
  [1, 'Accounting'],
  [2, 'Agriculture and Non-petrol Natural Resource Extraction'],
  [3, 'Broadcasting Printing and Publishing'],
  [4, 'Brokers'],
  [5, 'Building Supply Retail'],
  [6, 'Business Services'],
  [7, 'Consulting'],
  [8, 'Consumer Services'],
  [9, 'Design, Direction and Creative Management'],
  [10, 'Distributors, Dispatchers and Processors'],
  [11, 'Doctor\u2019s Offices and Clinics'],
  [12, 'Durable Manufacturing'],
  [13, 'Eating and Drinking Places'],
  [14, 'Entertainment Retail'],
  [15, 'Equipment Rental and Leasing'],
  [16, 'Financial'],
  [17, 'Food and Tobacco Processing'],
  [18, 'Inbound Capital Intensive Processing'],
  [19, 'Inbound Repair and Services'],
  [20, 'Insurance'],
  [21, 'Legal Services'],
  [22, 'Non-Durable Merchandise Retail'],
  [23, 'Outbound Consumer Service'],
  [24, 'Petrochemical Extraction and Distribution'],
  [25, 'Service Retail'],
  [26, 'SIG Affiliations'],
  [27, 'Social Services'],
  [28, 'Special Outbound Trade Contractors'],
  [29, 'Specialty Realty'],
  [30, 'Transportation'],
  [31, 'Utility Creation and Distribution'],
  [32, 'Vehicle Retail'],
  [33, 'Wholesale'],
);

const ownerColumns = (): ColumnDef[] => [
  { ...col.lookup('ownerid', { systemuser: 'systemuser', team: 'team' }), attributeType: 'Owner' },
  col.lookup('createdby', { createdby: 'systemuser' }, true),
  col.lookup('modifiedby', { modifiedby: 'systemuser' }, true),
];

const systemColumns = (): ColumnDef[] => [
  col.datetime('createdon', true),
  col.datetime('modifiedon', true),
  // Served as a number like an Int32; the metadata knows it as the 64-bit row version.
  { name: 'versionnumber', attribute: 'versionnumber', type: 'int', readOnly: true, attributeType: 'BigInt' },
];

const stateColumns = (states: StateDef[]): ColumnDef[] => [
  {
    ...col.choice(
      'statecode',
      states.map((s) => ({ value: s.state, label: s.label })),
    ),
    attributeType: 'State',
  },
  {
    ...col.choice(
      'statuscode',
      states.flatMap((s) => s.statuses),
    ),
    attributeType: 'Status',
  },
];

const activeInactive = (inactiveStatus = 2): StateDef[] => [
  { state: 0, label: 'Active', statuses: opts([1, 'Active']) },
  { state: 1, label: 'Inactive', statuses: opts([inactiveStatus, 'Inactive']) },
];

export const leadStates: StateDef[] = [
  { state: 0, label: 'Open', statuses: opts([1, 'New'], [2, 'Contacted']) },
  { state: 1, label: 'Qualified', statuses: opts([3, 'Qualified']) },
  {
    state: 2,
    label: 'Disqualified',
    statuses: opts([4, 'Lost'], [5, 'Cannot Contact'], [6, 'No Longer Interested'], [7, 'Canceled']),
  },
];

export const opportunityStates: StateDef[] = [
  { state: 0, label: 'Open', statuses: opts([1, 'In Progress'], [2, 'On Hold']) },
  { state: 1, label: 'Won', statuses: opts([3, 'Won']) },
  { state: 2, label: 'Lost', statuses: opts([4, 'Canceled'], [5, 'Out-Sold']) },
];

const taskStates: StateDef[] = [
  {
    state: 0,
    label: 'Open',
    statuses: opts([2, 'Not Started'], [3, 'In Progress'], [4, 'Waiting on someone else']),
  },
  { state: 1, label: 'Completed', statuses: opts([5, 'Completed']) },
  { state: 2, label: 'Canceled', statuses: opts([6, 'Canceled']) },
];

/** Labels of the people's multi-select interests; each table gets its own copy, as its own column. */
export const interestOptions = (): ChoiceOption[] =>
  opts([100000000, 'Email'], [100000001, 'Events'], [100000002, 'Webinars']);

/** `list.createdfromcode`: the one table whose rows a marketing list holds. */
const listMemberTables = opts([1, 'Account'], [2, 'Contact'], [4, 'Lead']);

export const listMemberTable = (createdfromcode: unknown): string | undefined =>
  listMemberTables.find((o) => o.value === createdfromcode)?.label.toLowerCase();

/** The platform's tables have fixed object type codes; custom tables get theirs per organisation. */
export const OBJECT_TYPE_CODES: Readonly<Record<string, number>> = {
  account: 1,
  contact: 2,
  opportunity: 3,
  lead: 4,
  systemuser: 8,
  team: 9,
  teammembership: 23,
  connectionrole: 3231,
  connection: 3234,
  task: 4212,
  list: 4300,
  listmember: 4301,
  campaign: 4400,
  campaignitem: 4403,
};

/** The tables a connection may join, with the display names its `record…objecttypecode` labels show. */
const CONNECTABLE_NAMES: Record<string, string> = {
  account: 'Account',
  contact: 'Contact',
  lead: 'Lead',
  opportunity: 'Opportunity',
  systemuser: 'User',
  team: 'Team',
};
export const CONNECTABLE = Object.keys(CONNECTABLE_NAMES);

const objectTypeCodes = opts(
  ...Object.entries(CONNECTABLE_NAMES).map(([t, label]): [number, string] => [
    OBJECT_TYPE_CODES[t] as number,
    label,
  ]),
);

const listStates: StateDef[] = [
  { state: 0, label: 'Active', statuses: opts([0, 'Active']) },
  { state: 1, label: 'Inactive', statuses: opts([1, 'Inactive']) },
];

const campaignStates: StateDef[] = [
  {
    state: 0,
    label: 'Active',
    statuses: opts(
      [0, 'Proposed'],
      [1, 'Ready To Launch'],
      [2, 'Launched'],
      [3, 'Completed'],
      [4, 'Canceled'],
      [5, 'Suspended'],
    ),
  },
  { state: 1, label: 'Inactive', statuses: opts([6, 'Inactive']) },
];

/** One end of a connection: any of the tables a stakeholder relationship joins. */
const connectionEnd = (attribute: string): ColumnDef => ({
  ...col.lookup(attribute, Object.fromEntries(CONNECTABLE.map((t) => [`${attribute}_${t}`, t]))),
  deletedWith: CONNECTABLE,
});

export interface TableInit {
  logicalName: string;
  entitySetName: string;
  primaryKey: string;
  primaryName: string;
  columns: ColumnDef[];
  states?: StateDef[];
  ownership: 'user' | 'none';
  apiReadOnly?: boolean;
  /** Defaults to the logical name (custom tables). */
  schemaName?: string;
  /** Defaults to the schema name, or none for an intersect table. */
  privilegeEntity?: string;
  intersect?: boolean;
}

export const buildTable = (init: TableInit): TableDef => {
  const columns: ColumnDef[] = [
    col.guid(init.primaryKey),
    ...init.columns,
    ...(init.states ? stateColumns(init.states) : []),
    ...(init.ownership === 'user' ? ownerColumns() : []),
    ...systemColumns(),
  ];
  const schemaName = init.schemaName ?? init.logicalName;
  const intersect = init.intersect ?? false;
  return withColumns(
    {
      ...init,
      schemaName,
      intersect,
      privilegeEntity: init.privilegeEntity ?? (intersect ? undefined : schemaName),
      columns: [],
      columnMap: new Map(),
      navMap: new Map(),
    },
    columns,
  );
};

/** The table with another column list, its lookups' navigation properties worked out again. */
const withColumns = (def: TableDef, columns: ColumnDef[]): TableDef => {
  const columnMap = new Map(columns.map((c) => [c.name, c]));
  const navMap = new Map<string, { column: ColumnDef; targets: string[] }>();
  for (const c of columns) {
    if (c.type !== 'lookup' || c.readOnly) continue;
    if (c.attribute === 'ownerid') {
      // The owner lookup has one navigation property for both user and team targets.
      navMap.set('ownerid', { column: c, targets: c.targets ?? [] });
      continue;
    }
    for (const [nav, target] of Object.entries(c.navigations ?? {}))
      navMap.set(nav, { column: c, targets: [target] });
  }
  return { ...def, columns, columnMap, navMap };
};

/** A column by its read name (`_parentcustomerid_value`) or its attribute name (`parentcustomerid`). */
export const findColumn = (def: TableDef, name: string): ColumnDef | undefined =>
  def.columnMap.get(name) ?? def.columns.find((c) => c.attribute === name);

/** The table without one column, as after a customizer deleted it. */
export const withoutColumn = (def: TableDef, column: ColumnDef): TableDef =>
  withColumns(
    def,
    def.columns.filter((c) => c !== column),
  );

/**
 * The table with one column replaced. Columns are never changed in place: the serializer caches
 * per column object what does not change from row to row (labels included).
 */
export const withColumn = (def: TableDef, column: ColumnDef, replacement: ColumnDef): TableDef =>
  withColumns(
    def,
    def.columns.map((c) => (c === column ? replacement : c)),
  );

// `merged` and `masterid` are set only by the Merge action, which merges rows of one table only.
const syncFilterAndMerge = (table: string): ColumnDef[] => [
  col.bool('new_synctomkto'),
  { ...col.bool('merged'), readOnly: true, default: false },
  col.lookup('masterid', { masterid: table }, true),
];

export const builtInTables = (): TableDef[] => [
  buildTable({
    logicalName: 'contact',
    schemaName: 'Contact',
    entitySetName: 'contacts',
    primaryKey: 'contactid',
    primaryName: 'fullname',
    ownership: 'user',
    states: activeInactive(2),
    columns: [
      col.string('firstname', 50),
      col.string('lastname', 50),
      { ...col.string('fullname', 160), readOnly: true },
      col.string('emailaddress1'),
      col.string('jobtitle'),
      col.string('telephone1', 50),
      col.string('mobilephone', 50),
      col.string('address1_city', 80),
      col.string('address1_country', 80),
      col.customer('parentcustomerid', {
        parentcustomerid_account: 'account',
        parentcustomerid_contact: 'contact',
      }),
      col.lookup('originatingleadid', { originatingleadid: 'lead' }),
      {
        ...col.choice(
          'preferredcontactmethodcode',
          opts([1, 'Any'], [2, 'Email'], [3, 'Phone'], [4, 'Fax'], [5, 'Mail']),
        ),
        default: 1,
      },
      { ...col.bool('donotemail', ['Allow', 'Do Not Allow']), default: false },
      ...syncFilterAndMerge('contact'),
      col.multichoice('new_interests', interestOptions()),
    ],
  }),
  buildTable({
    logicalName: 'lead',
    schemaName: 'Lead',
    entitySetName: 'leads',
    primaryKey: 'leadid',
    primaryName: 'fullname',
    ownership: 'user',
    states: leadStates,
    columns: [
      col.string('firstname', 50),
      col.string('lastname', 50),
      { ...col.string('fullname', 160), readOnly: true },
      col.string('emailaddress1'),
      col.string('companyname'),
      col.string('jobtitle'),
      col.string('telephone1', 50),
      col.string('subject', 300),
      col.choice(
        'leadsourcecode',
        opts(
          [1, 'Advertisement'],
          [2, 'Employee Referral'],
          [3, 'External Referral'],
          [4, 'Partner'],
          [5, 'Public Relations'],
          [6, 'Seminar'],
          [7, 'Trade Show'],
          [8, 'Web'],
          [9, 'Word of Mouth'],
          [10, 'Other'],
        ),
      ),
      col.choice('industrycode', industryOptions),
      col.lookup('parentaccountid', { parentaccountid: 'account' }),
      col.lookup('parentcontactid', { parentcontactid: 'contact' }),
      ...syncFilterAndMerge('lead'),
      col.multichoice('new_interests', interestOptions()),
    ],
  }),
  buildTable({
    logicalName: 'account',
    schemaName: 'Account',
    entitySetName: 'accounts',
    primaryKey: 'accountid',
    primaryName: 'name',
    ownership: 'user',
    states: activeInactive(2),
    columns: [
      col.string('name', 160),
      col.string('accountnumber', 20),
      col.choice('industrycode', industryOptions),
      col.string('websiteurl', 200),
      col.string('telephone1', 50),
      col.string('address1_city', 80),
      col.string('address1_country', 80),
      col.int('numberofemployees'),
      col.money('revenue'),
      col.lookup('primarycontactid', { primarycontactid: 'contact' }),
      col.lookup('parentaccountid', { parentaccountid: 'account' }),
      ...syncFilterAndMerge('account'),
    ],
  }),
  buildTable({
    logicalName: 'opportunity',
    schemaName: 'Opportunity',
    entitySetName: 'opportunities',
    primaryKey: 'opportunityid',
    primaryName: 'name',
    ownership: 'user',
    states: opportunityStates,
    columns: [
      col.string('name', 300),
      col.customer('customerid', { customerid_account: 'account', customerid_contact: 'contact' }),
      col.lookup('parentaccountid', { parentaccountid: 'account' }),
      col.lookup('parentcontactid', { parentcontactid: 'contact' }),
      col.lookup('originatingleadid', { originatingleadid: 'lead' }),
      col.money('estimatedvalue'),
      col.dateonly('estimatedclosedate'),
      col.int('closeprobability'),
      col.choice('salesstagecode', opts([1, 'Qualify'], [2, 'Develop'], [3, 'Propose'], [4, 'Close'])),
      col.bool('new_synctomkto'),
    ],
  }),
  buildTable({
    logicalName: 'systemuser',
    schemaName: 'SystemUser',
    // Users' privileges are named after the User entity: prvReadUser, prvWriteUser.
    privilegeEntity: 'User',
    entitySetName: 'systemusers',
    primaryKey: 'systemuserid',
    primaryName: 'fullname',
    ownership: 'none',
    columns: [
      { ...col.string('fullname', 200), readOnly: true },
      col.string('firstname', 64),
      col.string('lastname', 64),
      col.string('internalemailaddress'),
      col.string('domainname', 1024),
      { ...col.bool('isdisabled', ['Enabled', 'Disabled']), default: false },
      col.string('title', 128),
      col.string('applicationid', 40),
      col.lookup('businessunitid', { businessunitid: 'businessunit' }),
    ],
  }),
  buildTable({
    logicalName: 'team',
    schemaName: 'Team',
    entitySetName: 'teams',
    primaryKey: 'teamid',
    primaryName: 'name',
    ownership: 'none',
    columns: [
      col.string('name', 160),
      col.choice('teamtype', opts([0, 'Owner'], [1, 'Access'], [2, 'Security Group'], [3, 'Office Group'])),
      col.lookup('businessunitid', { businessunitid: 'businessunit' }),
      col.lookup('administratorid', { administratorid: 'systemuser' }),
    ],
  }),
  buildTable({
    logicalName: 'teammembership',
    schemaName: 'TeamMembership',
    intersect: true,
    entitySetName: 'teammemberships',
    primaryKey: 'teammembershipid',
    primaryName: 'teammembershipid',
    ownership: 'none',
    apiReadOnly: true,
    columns: [
      // Intersect keys are plain ids, not lookups: no annotations, no navigation properties.
      { ...col.guid('systemuserid'), deletedWith: ['systemuser'] },
      { ...col.guid('teamid'), deletedWith: ['team'] },
    ],
  }),
  buildTable({
    logicalName: 'task',
    schemaName: 'Task',
    // Every activity table shares the Activity privileges: prvReadActivity, prvCreateActivity.
    privilegeEntity: 'Activity',
    entitySetName: 'tasks',
    primaryKey: 'activityid',
    primaryName: 'subject',
    ownership: 'user',
    states: taskStates,
    columns: [
      col.string('subject', 200),
      col.memo('description'),
      col.datetime('scheduledend'),
      { ...col.choice('prioritycode', opts([0, 'Low'], [1, 'Normal'], [2, 'High'])), default: 1 },
      // Activities name one navigation property per regarding table, suffixed with their own name.
      col.lookup('regardingobjectid', {
        regardingobjectid_contact_task: 'contact',
        regardingobjectid_lead_task: 'lead',
        regardingobjectid_account_task: 'account',
        regardingobjectid_opportunity_task: 'opportunity',
        regardingobjectid_campaign_task: 'campaign',
        regardingobjectid_list_task: 'list',
      }),
    ],
  }),
  buildTable({
    logicalName: 'list',
    schemaName: 'List',
    entitySetName: 'lists',
    primaryKey: 'listid',
    primaryName: 'listname',
    ownership: 'user',
    states: listStates,
    columns: [
      col.string('listname', 128),
      { ...col.bool('type', ['Static', 'Dynamic']), default: false },
      col.choice('createdfromcode', listMemberTables),
      // A dynamic list's FetchXML; its members are what the query finds, never stored rows.
      col.memo('query'),
      col.memo('description'),
      col.string('purpose', 512),
      col.string('source', 128),
      { ...col.int('membercount'), readOnly: true, default: 0 },
      { ...col.bool('lockstatus'), default: false },
    ],
  }),
  buildTable({
    logicalName: 'listmember',
    schemaName: 'ListMember',
    entitySetName: 'listmembers',
    primaryKey: 'listmemberid',
    primaryName: 'listmemberid',
    ownership: 'none',
    apiReadOnly: true,
    intersect: true,
    columns: [
      { ...col.lookup('listid', { listid: 'list' }, true), deletedWith: ['list'] },
      {
        ...col.lookup(
          'entityid',
          { entityid_account: 'account', entityid_contact: 'contact', entityid_lead: 'lead' },
          true,
        ),
        deletedWith: ['account', 'contact', 'lead'],
      },
    ],
  }),
  buildTable({
    logicalName: 'campaign',
    schemaName: 'Campaign',
    entitySetName: 'campaigns',
    primaryKey: 'campaignid',
    primaryName: 'name',
    ownership: 'user',
    states: campaignStates,
    columns: [
      col.string('name', 128),
      col.choice(
        'typecode',
        opts([1, 'Advertisement'], [2, 'Direct Marketing'], [3, 'Event'], [4, 'Co-branding'], [5, 'Other']),
      ),
      col.string('codename', 32),
      col.memo('description'),
      col.dateonly('proposedstart'),
      col.dateonly('proposedend'),
      col.money('budgetedcost'),
      { ...col.bool('istemplate'), default: false },
    ],
  }),
  buildTable({
    logicalName: 'campaignitem',
    schemaName: 'CampaignItem',
    entitySetName: 'campaignitems',
    primaryKey: 'campaignitemid',
    primaryName: 'campaignitemid',
    ownership: 'none',
    apiReadOnly: true,
    // What a campaign distributes (here: its marketing lists), governed by the campaign's privileges.
    privilegeEntity: 'Campaign',
    columns: [
      { ...col.lookup('campaignid', { campaignid: 'campaign' }, true), deletedWith: ['campaign'] },
      { ...col.guid('entityid'), deletedWith: ['list'] },
      { ...col.string('entitytype', 64), readOnly: true },
    ],
  }),
  buildTable({
    logicalName: 'connectionrole',
    schemaName: 'ConnectionRole',
    entitySetName: 'connectionroles',
    primaryKey: 'connectionroleid',
    primaryName: 'name',
    ownership: 'none',
    states: activeInactive(2),
    columns: [
      col.string('name', 100),
      col.choice(
        'category',
        opts(
          [1, 'Business'],
          [2, 'Family'],
          [3, 'Social'],
          [4, 'Sales'],
          [5, 'Other'],
          [1000, 'Stakeholder'],
          [1001, 'Sales Team'],
          [1002, 'Service'],
        ),
      ),
      col.memo('description'),
    ],
  }),
  buildTable({
    logicalName: 'connection',
    schemaName: 'Connection',
    entitySetName: 'connections',
    primaryKey: 'connectionid',
    primaryName: 'name',
    ownership: 'user',
    states: activeInactive(2),
    columns: [
      { ...col.string('name', 500), readOnly: true },
      connectionEnd('record1id'),
      connectionEnd('record2id'),
      col.lookup('record1roleid', { record1roleid: 'connectionrole' }),
      col.lookup('record2roleid', { record2roleid: 'connectionrole' }),
      { ...col.choice('record1objecttypecode', objectTypeCodes), readOnly: true },
      { ...col.choice('record2objecttypecode', objectTypeCodes), readOnly: true },
      // Dataverse stores each connection twice, the second from the other end; this one says which is which.
      { ...col.bool('ismaster'), readOnly: true },
      {
        ...col.lookup('relatedconnectionid', { relatedconnectionid: 'connection' }, true),
        deletedWith: ['connection'],
      },
      col.memo('description'),
      col.datetime('effectivestart'),
      col.datetime('effectiveend'),
    ],
  }),
];
