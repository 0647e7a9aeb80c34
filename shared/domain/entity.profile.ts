import type { EntityDefinition } from '../config/entity.catalog';
import type { FieldConstant, FieldRule, FieldTransform, SyncConfig } from '../config/sync-config.schema';
import { isLookupColumn } from './row.mapper';

export type ColumnType = 'string' | 'int' | 'decimal' | 'bool' | 'datetime' | 'choice' | 'lookup' | 'any';

/** Column types of the built-in tables; custom columns are typed from their value and annotations. */
const BUILT_IN_TYPES: Record<string, ColumnType> = {
  firstname: 'string',
  lastname: 'string',
  fullname: 'string',
  emailaddress1: 'string',
  internalemailaddress: 'string',
  jobtitle: 'string',
  title: 'string',
  telephone1: 'string',
  mobilephone: 'string',
  companyname: 'string',
  name: 'string',
  accountnumber: 'string',
  websiteurl: 'string',
  address1_city: 'string',
  address1_country: 'string',
  numberofemployees: 'int',
  closeprobability: 'int',
  estimatedvalue: 'decimal',
  estimatedclosedate: 'datetime',
  modifiedon: 'datetime',
  versionnumber: 'int',
  merged: 'bool',
  donotemail: 'bool',
  isdisabled: 'bool',
  new_synctomkto: 'bool',
  statecode: 'choice',
  statuscode: 'choice',
  leadsourcecode: 'choice',
  industrycode: 'choice',
  preferredcontactmethodcode: 'choice',
  salesstagecode: 'choice',
  teamtype: 'choice',
  listname: 'string',
  type: 'bool',
  createdfromcode: 'choice',
  membercount: 'int',
  category: 'choice',
  ismaster: 'bool',
  effectivestart: 'datetime',
  effectiveend: 'datetime',
  codename: 'string',
  entityid: 'string',
  entitytype: 'string',
};

export function columnType(column: string, custom: boolean): ColumnType {
  if (isLookupColumn(column)) return 'lookup';
  if (custom && column !== 'modifiedon' && column !== 'versionnumber') return 'any';
  return BUILT_IN_TYPES[column] ?? 'any';
}

/** How a marketing field of a person is fed from a Dynamics column. */
export interface PersonFieldRule {
  marketing: string;
  dynamics: string;
  direction: 'both' | 'pull' | 'push';
  /** Who wins when both sides changed the field since the last agreement. */
  conflict: 'marketing' | 'dynamics';
  /** A lookup's display name rather than its id (a contact's company is its parent account's name). */
  useLookupName?: boolean;
  /** Applied to both sides' values before they are compared, merged, stored or sent (field.transform.ts). */
  transform?: FieldTransform[];
}

const SHARED_PERSON_FIELDS: Omit<PersonFieldRule, 'conflict'>[] = [
  { marketing: 'firstName', dynamics: 'firstname', direction: 'both' },
  { marketing: 'lastName', dynamics: 'lastname', direction: 'both' },
  { marketing: 'email', dynamics: 'emailaddress1', direction: 'both' },
  { marketing: 'jobTitle', dynamics: 'jobtitle', direction: 'both' },
  { marketing: 'phone', dynamics: 'telephone1', direction: 'both' },
];

const DEFAULT_PERSON_FIELDS: Record<'lead' | 'contact', Omit<PersonFieldRule, 'conflict'>[]> = {
  lead: [
    ...SHARED_PERSON_FIELDS,
    { marketing: 'company', dynamics: 'companyname', direction: 'both' },
    // Ownership and status change through dedicated Dynamics actions, never as a plain field push.
    { marketing: 'ownerId', dynamics: '_ownerid_value', direction: 'pull' },
    { marketing: 'status', dynamics: 'statuscode', direction: 'pull' },
  ],
  contact: [
    ...SHARED_PERSON_FIELDS,
    { marketing: 'company', dynamics: '_parentcustomerid_value', direction: 'pull', useLookupName: true },
    { marketing: 'ownerId', dynamics: '_ownerid_value', direction: 'pull' },
    { marketing: 'status', dynamics: 'statuscode', direction: 'pull' },
  ],
};

/** Everything the pull needs to know about one entity, resolved once from catalog and sync config. */
export interface EntityProfile {
  logicalName: string;
  entitySet: string;
  key: string;
  container: EntityDefinition['container'];
  kind: 'person' | 'generic';
  /** Columns to $select: the catalog's, with the configured filter column and mapped person columns. */
  select: string[];
  /** The sync filter column when this table has one. */
  filterColumn: string | undefined;
  columnTypes: Record<string, ColumnType>;
  personFields: PersonFieldRule[];
  /**
   * A contact's only: the lead's field rules. When a qualified lead's contact is deleted in Dynamics
   * the person falls back to its lead, with the lead's values, as a fresh load would build it.
   */
  fallbackFields: PersonFieldRule[];
  /** Fixed column values of a person's row: on create, or on every write (SYNC_CONFIG constants). */
  constants: FieldConstant[];
}

const DEFAULT_FILTER_COLUMN = 'new_synctomkto';

export function buildEntityProfile(entity: EntityDefinition, config: SyncConfig): EntityProfile {
  const filterColumn = config.syncFilterColumn;
  // The catalog lists the default filter column for tables that carry one; a deployment may rename it.
  const hasFilter = entity.columns.includes(DEFAULT_FILTER_COLUMN) || entity.columns.includes(filterColumn);
  let select = entity.columns.map((c) => (c === DEFAULT_FILTER_COLUMN ? filterColumn : c));
  const isPerson = entity.logicalName === 'lead' || entity.logicalName === 'contact';
  let personFields: PersonFieldRule[] = [];
  if (isPerson) {
    personFields = personFieldRules(entity.logicalName as 'lead' | 'contact', config.fields);
    select = [...select, ...personFields.map((f) => f.dynamics)];
  }
  if (!select.includes(entity.key)) select = [entity.key, ...select];
  select = [...new Set(select)];
  const columnTypes: Record<string, ColumnType> = {};
  for (const column of select) columnTypes[column] = columnType(column, entity.custom);
  if (hasFilter) columnTypes[filterColumn] = 'bool';
  return {
    logicalName: entity.logicalName,
    entitySet: entity.entitySet,
    key: entity.key,
    container: entity.container,
    kind: isPerson ? 'person' : 'generic',
    select,
    filterColumn: hasFilter ? filterColumn : undefined,
    columnTypes,
    personFields,
    fallbackFields: entity.logicalName === 'contact' ? personFieldRules('lead', config.fields) : [],
    constants: isPerson ? (config.constants[entity.logicalName as 'lead' | 'contact'] ?? []) : [],
  };
}

/** Default field map, with per-field overrides and additions from SyncConfig.fields. */
export function personFieldRules(
  table: 'lead' | 'contact',
  overrides: { lead?: FieldRule[]; contact?: FieldRule[] },
): PersonFieldRule[] {
  // The reference product: for leads the marketing side wins, for contacts Dynamics wins.
  const conflict: PersonFieldRule['conflict'] = table === 'lead' ? 'marketing' : 'dynamics';
  const rules = new Map<string, PersonFieldRule>();
  for (const rule of DEFAULT_PERSON_FIELDS[table]) rules.set(rule.marketing, { ...rule, conflict });
  for (const rule of overrides[table] ?? []) {
    const base = rules.get(rule.marketing);
    rules.set(rule.marketing, {
      marketing: rule.marketing,
      dynamics: rule.dynamics,
      direction: rule.direction,
      conflict: rule.conflict ?? conflict,
      ...(base?.useLookupName && base.dynamics === rule.dynamics ? { useLookupName: true } : {}),
      ...(rule.transform !== undefined ? { transform: rule.transform } : {}),
    });
  }
  return [...rules.values()];
}
