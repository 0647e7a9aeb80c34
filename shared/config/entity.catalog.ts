import { z } from 'zod';
import { ConfigError } from './config.errors';

/** Cosmos containers the sync writes; the provisioning code and the infrastructure both use this list. */
export const CONTAINERS = {
  people: { id: 'people', partitionKey: '/id' },
  accounts: { id: 'accounts', partitionKey: '/id' },
  opportunities: { id: 'opportunities', partitionKey: '/id' },
  directory: { id: 'directory', partitionKey: '/id' },
  custom: { id: 'custom', partitionKey: '/id' },
  // Marketing lists, list members, connections and connection roles: what memberships and
  // opportunity roles are worked out from.
  relations: { id: 'relations', partitionKey: '/id' },
  // Per-item TTL on (no default expiry): run history expires, checkpoints and aliases never do.
  syncState: { id: 'sync-state', partitionKey: '/entity', defaultTtl: -1 },
  syncErrors: { id: 'sync-errors', partitionKey: '/entity' },
  leases: { id: 'leases', partitionKey: '/id' },
} as const;

export type ContainerKey = keyof typeof CONTAINERS;

export const entityDefinitionSchema = z.object({
  logicalName: z.string().regex(/^[a-z][a-z0-9_]*$/, 'must be a Dataverse logical name (lower case)'),
  entitySet: z.string().regex(/^[a-z][a-z0-9_]*$/, 'must be a Dataverse entity set name'),
  key: z.string().regex(/^[a-z][a-z0-9_]*$/),
  container: z.enum(Object.keys(CONTAINERS) as [ContainerKey, ...ContainerKey[]]),
  // Only leads and contacts may flow back to Dynamics; everything else is Dynamics-wins, one way.
  direction: z.enum(['both', 'pull']),
  columns: z.array(z.string().regex(/^[a-z_][a-z0-9_]*$/)).min(1),
  custom: z.boolean().default(false),
});

export type EntityDefinition = z.output<typeof entityDefinitionSchema>;

const common = ['statecode', 'statuscode', '_ownerid_value', 'modifiedon', 'versionnumber'];
const filterable = ['new_synctomkto', 'merged', '_masterid_value'];
/** The columns of a person that leads and contacts share. */
const personal = ['firstname', 'lastname', 'emailaddress1', 'jobtitle', 'telephone1'];

export const BUILT_IN_ENTITIES: readonly EntityDefinition[] = [
  {
    logicalName: 'lead',
    entitySet: 'leads',
    key: 'leadid',
    container: 'people',
    direction: 'both',
    custom: false,
    columns: [
      ...personal,
      'companyname',
      'leadsourcecode',
      'industrycode',
      '_parentaccountid_value',
      '_parentcontactid_value',
      ...filterable,
      ...common,
    ],
  },
  {
    logicalName: 'contact',
    entitySet: 'contacts',
    key: 'contactid',
    container: 'people',
    direction: 'both',
    custom: false,
    columns: [
      ...personal,
      'mobilephone',
      'preferredcontactmethodcode',
      'donotemail',
      '_parentcustomerid_value',
      '_originatingleadid_value',
      ...filterable,
      ...common,
    ],
  },
  {
    logicalName: 'account',
    entitySet: 'accounts',
    key: 'accountid',
    container: 'accounts',
    direction: 'pull',
    custom: false,
    columns: [
      'name',
      'accountnumber',
      'industrycode',
      'websiteurl',
      'telephone1',
      'address1_city',
      'address1_country',
      'numberofemployees',
      '_primarycontactid_value',
      '_parentaccountid_value',
      ...filterable,
      ...common,
    ],
  },
  {
    logicalName: 'opportunity',
    entitySet: 'opportunities',
    key: 'opportunityid',
    container: 'opportunities',
    direction: 'pull',
    custom: false,
    columns: [
      'name',
      '_customerid_value',
      '_parentaccountid_value',
      '_parentcontactid_value',
      '_originatingleadid_value',
      'estimatedvalue',
      'estimatedclosedate',
      'closeprobability',
      'salesstagecode',
      ...common,
    ],
  },
  {
    logicalName: 'systemuser',
    entitySet: 'systemusers',
    key: 'systemuserid',
    container: 'directory',
    direction: 'pull',
    custom: false,
    columns: [
      'fullname',
      'firstname',
      'lastname',
      'internalemailaddress',
      'isdisabled',
      'title',
      'modifiedon',
      'versionnumber',
    ],
  },
  {
    logicalName: 'team',
    entitySet: 'teams',
    key: 'teamid',
    container: 'directory',
    direction: 'pull',
    custom: false,
    columns: ['name', 'teamtype', '_administratorid_value', 'modifiedon', 'versionnumber'],
  },
  {
    // Who is in which team, beside the users and teams; not in the default SYNC_ENTITIES.
    logicalName: 'teammembership',
    entitySet: 'teammemberships',
    key: 'teammembershipid',
    container: 'directory',
    direction: 'pull',
    custom: false,
    columns: ['systemuserid', 'teamid', 'modifiedon', 'versionnumber'],
  },
  // Marketing lists and their members (opt-in through SYNC_ENTITIES): each person's memberships are
  // worked out from them. Static lists hold listmember rows; a dynamic list's members are a query.
  {
    logicalName: 'list',
    entitySet: 'lists',
    key: 'listid',
    container: 'relations',
    direction: 'pull',
    custom: false,
    columns: [
      'listname',
      'type',
      'createdfromcode',
      'membercount',
      'statecode',
      '_ownerid_value',
      'modifiedon',
      'versionnumber',
    ],
  },
  {
    logicalName: 'listmember',
    entitySet: 'listmembers',
    key: 'listmemberid',
    container: 'relations',
    direction: 'pull',
    custom: false,
    columns: ['_listid_value', '_entityid_value', 'modifiedon', 'versionnumber'],
  },
  // The campaigns that distribute marketing lists: a membership says which campaigns it puts a person in.
  {
    logicalName: 'campaign',
    entitySet: 'campaigns',
    key: 'campaignid',
    container: 'relations',
    direction: 'pull',
    custom: false,
    columns: ['name', 'codename', 'statecode', 'statuscode', 'modifiedon', 'versionnumber'],
  },
  {
    logicalName: 'campaignitem',
    entitySet: 'campaignitems',
    key: 'campaignitemid',
    container: 'relations',
    direction: 'pull',
    custom: false,
    columns: ['_campaignid_value', 'entityid', 'entitytype', 'modifiedon', 'versionnumber'],
  },
  // Stakeholders of opportunities: a connection names its two ends and the role of each.
  {
    logicalName: 'connectionrole',
    entitySet: 'connectionroles',
    key: 'connectionroleid',
    container: 'relations',
    direction: 'pull',
    custom: false,
    columns: ['name', 'category', 'statecode', 'modifiedon', 'versionnumber'],
  },
  {
    logicalName: 'connection',
    entitySet: 'connections',
    key: 'connectionid',
    container: 'relations',
    direction: 'pull',
    custom: false,
    columns: [
      '_record1id_value',
      '_record2id_value',
      '_record1roleid_value',
      '_record2roleid_value',
      'ismaster',
      'effectivestart',
      'effectiveend',
      'statecode',
      'modifiedon',
      'versionnumber',
    ],
  },
];

/** The entities a deployment syncs: the built-in ones plus custom ones declared in SYNC_CONFIG. */
export class EntityCatalog {
  private readonly byName: Map<string, EntityDefinition>;

  constructor(custom: readonly EntityDefinition[] = []) {
    this.byName = new Map();
    for (const entity of [...BUILT_IN_ENTITIES, ...custom]) {
      if (this.byName.has(entity.logicalName)) {
        throw new ConfigError('invalid_sync_config', `entity "${entity.logicalName}" is declared twice`);
      }
      this.byName.set(entity.logicalName, entity);
    }
  }

  get names(): string[] {
    return [...this.byName.keys()];
  }

  get(name: string): EntityDefinition {
    const entity = this.byName.get(name);
    if (entity === undefined) {
      throw new ConfigError(
        'unknown_entity',
        `unknown entity "${name}"; known entities: ${this.names.join(', ')} (custom ones are declared in SYNC_CONFIG)`,
      );
    }
    return entity;
  }

  /** Resolves SYNC_ENTITIES, failing on the first unknown name so a typo cannot silently skip a table. */
  enabled(names: readonly string[]): EntityDefinition[] {
    return names.map((name) => this.get(name));
  }
}
