import type { TableState } from './data.store';
import { OBJECT_TYPE_CODES, type ColumnDef, type ColumnType } from './schema.catalog';
import { guidFromText } from './seed.random';
import { DataverseSimulatorError, errors } from './simulator.errors';
import type { ApiRequest, ApiResponse, WebApiContext } from './web-api.protocol';
import { GUID, json } from './web-api.protocol';

// EntityDefinitions: the tables (`EntityDefinitions`, `EntityDefinitions(LogicalName='x')`) and their
// columns (`/Attributes`, `/Attributes(LogicalName='y')`, cast to one metadata type), with the
// properties a client checks before it syncs a table. Deleted columns and switched-off change
// tracking show here as they do in the data.

export interface MetadataPath {
  /** Inside `EntityDefinitions(…)`; none for the collection. */
  table?: string;
  attributes: boolean;
  /** Inside `Attributes(…)`. */
  attribute?: string;
  /** `Microsoft.Dynamics.CRM.<type>` after `Attributes`. */
  cast?: string;
}

type Described = Record<string, unknown>;

export const entityDefinitions = (ctx: WebApiContext, path: MetadataPath, req: ApiRequest): ApiResponse => {
  const root = `${ctx.apiUrl}$metadata#EntityDefinitions`;
  if (path.table === undefined) {
    if (path.attributes) throw errors.resourceNotFound('Attributes');
    const pick = picker(req, 'EntityMetadata', ENTITY_PROPERTIES);
    return json(200, {
      '@odata.context': `${root}${pick.context}`,
      value: ctx.store.allTables().map((t) => pick.apply(describeTable(t))),
    });
  }
  const state = tableByKey(ctx, path.table);
  if (!path.attributes) {
    const pick = picker(req, 'EntityMetadata', ENTITY_PROPERTIES);
    return json(200, {
      '@odata.context': `${root}${pick.context}/$entity`,
      ...pick.apply(describeTable(state)),
    });
  }
  const type = path.cast === undefined ? undefined : castType(path.cast);
  const expand = optionSetExpansion(req, type);
  const pick = picker(req, type ?? 'AttributeMetadata', ATTRIBUTE_PROPERTIES);
  const serve = (c: ColumnDef): Described => {
    const described = pick.apply(describeColumn(state, c));
    if (expand) described.OptionSet = optionSet(c);
    return described;
  };
  const context = `${root}(${metadataId('entity', state.def.logicalName)})/Attributes`;
  const castSuffix = type ? `/Microsoft.Dynamics.CRM.${type}` : '';
  const columns = state.def.columns.filter((c) => !type || metadataType(c) === type);
  if (path.attribute === undefined) {
    return json(200, {
      '@odata.context': `${context}${castSuffix}${pick.context}`,
      value: columns.map(serve),
    });
  }
  const name = keyName(path.attribute);
  const column = columns.find((c) => c.attribute === name || metadataId('attribute', state, c) === name);
  if (!column) throw attributeNotFound(path.attribute);
  return json(200, { '@odata.context': `${context}${castSuffix}${pick.context}/$entity`, ...serve(column) });
};

const ENTITY_PROPERTIES = [
  'MetadataId',
  'LogicalName',
  'SchemaName',
  'EntitySetName',
  'ObjectTypeCode',
  'PrimaryIdAttribute',
  'PrimaryNameAttribute',
  'ChangeTrackingEnabled',
  'IsCustomEntity',
  'IsIntersect',
];

const ATTRIBUTE_PROPERTIES = [
  'MetadataId',
  'LogicalName',
  'EntityLogicalName',
  'AttributeType',
  'AttributeTypeName',
  'IsPrimaryId',
  'IsPrimaryName',
  'IsCustomAttribute',
  'IsValidForRead',
  'IsValidForCreate',
  'IsValidForUpdate',
  'MaxLength',
  'Targets',
];

/** `$select` over metadata: the key (MetadataId) and the derived type always come along. */
const picker = (
  req: ApiRequest,
  type: string,
  known: string[],
): { context: string; apply: (o: Described) => Described } => {
  const select = req.query.get('$select');
  if (select === null) return { context: '', apply: (o) => o };
  const names = select
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  for (const n of names) if (!known.includes(n)) throw unknownMetadataProperty(n, type);
  const keep = new Set([...names, 'MetadataId', '@odata.type']);
  return {
    context: `(${names.join(',')})`,
    apply: (o) => Object.fromEntries(Object.entries(o).filter(([k]) => keep.has(k))),
  };
};

const unknownMetadataProperty = (name: string, type: string): DataverseSimulatorError =>
  errors.badRequest(`Could not find a property named '${name}' on type 'Microsoft.Dynamics.CRM.${type}'.`);

const keyName = (key: string): string => {
  const m = /^(?:LogicalName=)?'([^']+)'$/.exec(key.trim());
  return m ? (m[1] as string) : key.trim().toLowerCase();
};

const tableByKey = (ctx: WebApiContext, key: string): TableState => {
  const name = keyName(key);
  const state = GUID.test(name)
    ? ctx.store.allTables().find((t) => metadataId('entity', t.def.logicalName) === name)
    : ctx.store.table(name);
  if (!state) {
    throw new DataverseSimulatorError(
      404,
      '0x80041102',
      `Entity with a name = '${name}' with namemapping = 'Logical' was not found in the MetadataCache.`,
    );
  }
  return state;
};

const attributeNotFound = (key: string): DataverseSimulatorError =>
  new DataverseSimulatorError(
    404,
    '0x80041102',
    `Attribute with a name = '${keyName(key)}' was not found in the MetadataCache.`,
  );

// Metadata ids are GUIDs that stay the same for a table or column, as in a real organisation.
function metadataId(kind: 'entity', table: string): string;
function metadataId(kind: 'attribute', state: TableState, column: ColumnDef): string;
function metadataId(kind: 'entity' | 'attribute', table: string | TableState, column?: ColumnDef): string {
  const name = typeof table === 'string' ? table : `${table.def.logicalName}.${column?.attribute ?? ''}`;
  return guidFromText(`metadata:${kind}:${name}`);
}

const describeTable = (t: TableState): Described => ({
  MetadataId: metadataId('entity', t.def.logicalName),
  LogicalName: t.def.logicalName,
  SchemaName: t.def.schemaName,
  EntitySetName: t.def.entitySetName,
  ObjectTypeCode: OBJECT_TYPE_CODES[t.def.logicalName] ?? null,
  PrimaryIdAttribute: t.def.primaryKey,
  PrimaryNameAttribute: t.def.primaryName,
  ChangeTrackingEnabled: t.tracked,
  IsCustomEntity: t.def.logicalName.includes('_'),
  IsIntersect: t.def.intersect,
});

const TYPE_OF: Record<ColumnType, string> = {
  string: 'String',
  memo: 'Memo',
  int: 'Integer',
  decimal: 'Decimal',
  money: 'Money',
  bool: 'Boolean',
  datetime: 'DateTime',
  dateonly: 'DateTime',
  choice: 'Picklist',
  // Multi-select choices have no AttributeType of their own: Virtual, told apart by AttributeTypeName.
  multichoice: 'Virtual',
  lookup: 'Lookup',
  guid: 'Uniqueidentifier',
};

const attributeType = (c: ColumnDef): string => c.attributeType ?? TYPE_OF[c.type];

const typeName = (c: ColumnDef): string =>
  c.type === 'multichoice' ? 'MultiSelectPicklistType' : `${attributeType(c)}Type`;

/** The derived metadata type (`@odata.type`, and the cast segment) of a column. */
const metadataType = (c: ColumnDef): string => {
  if (c.type === 'multichoice') return 'MultiSelectPicklistAttributeMetadata';
  const type = attributeType(c);
  if (type === 'Owner' || type === 'Customer') return 'LookupAttributeMetadata';
  if (type === 'Uniqueidentifier') return 'UniqueIdentifierAttributeMetadata';
  return `${type}AttributeMetadata`;
};

const CAST_TYPES = new Set(
  [...Object.values(TYPE_OF), 'State', 'Status', 'BigInt', 'UniqueIdentifier', 'MultiSelectPicklist'].map(
    (t) => `${t}AttributeMetadata`,
  ),
);

const castType = (segment: string): string => {
  if (!CAST_TYPES.has(segment)) throw errors.resourceNotFound(`Microsoft.Dynamics.CRM.${segment}`);
  return segment;
};

const OPTION_TYPES = new Set([
  'PicklistAttributeMetadata',
  'StateAttributeMetadata',
  'StatusAttributeMetadata',
  'MultiSelectPicklistAttributeMetadata',
]);

/** `$expand=OptionSet`: only where the path was cast to a type that has one, as on the service. */
const optionSetExpansion = (req: ApiRequest, type: string | undefined): boolean => {
  const expand = req.query.get('$expand');
  if (expand === null) return false;
  if (expand.trim() !== 'OptionSet' || type === undefined || !OPTION_TYPES.has(type))
    throw unknownMetadataProperty(expand.trim(), type ?? 'AttributeMetadata');
  return true;
};

const label = (text: string) => {
  const localized = { Label: text, LanguageCode: 1033 };
  return { LocalizedLabels: [localized], UserLocalizedLabel: localized };
};

const optionSet = (c: ColumnDef): Described => ({
  IsGlobal: false,
  OptionSetType: c.type === 'multichoice' ? 'Picklist' : attributeType(c),
  Options: (c.options ?? []).map((o) => ({ Value: o.value, Label: label(o.label) })),
});

const describeColumn = (state: TableState, c: ColumnDef): Described => {
  const def = state.def;
  return {
    '@odata.type': `#Microsoft.Dynamics.CRM.${metadataType(c)}`,
    MetadataId: metadataId('attribute', state, c),
    LogicalName: c.attribute,
    EntityLogicalName: def.logicalName,
    AttributeType: attributeType(c),
    AttributeTypeName: { Value: typeName(c) },
    IsPrimaryId: c.name === def.primaryKey,
    IsPrimaryName: c.name === def.primaryName,
    // Custom columns carry their publisher's prefix (`new_`); the platform's never do.
    IsCustomAttribute: /^[a-z]+_/.test(c.attribute),
    IsValidForRead: true,
    IsValidForCreate: !c.readOnly,
    IsValidForUpdate: !c.readOnly,
    ...(c.maxLength !== undefined ? { MaxLength: c.maxLength } : {}),
    ...(c.targets ? { Targets: c.targets } : {}),
  };
};
