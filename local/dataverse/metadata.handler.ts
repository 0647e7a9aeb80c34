import type { TableState } from './data.store';
import type { ColumnDef } from './schema.catalog';
import { errors } from './simulator.errors';
import type { ApiRequest, ApiResponse, WebApiContext } from './web-api.protocol';
import { json } from './web-api.protocol';

// EntityDefinitions: the tables (`EntityDefinitions`, `EntityDefinitions(LogicalName='x')`) and
// their columns (`/Attributes`), with the few properties a client checks before it syncs a table.

export const entityDefinitions = (
  ctx: WebApiContext,
  key: string | undefined,
  attributes: boolean,
  req: ApiRequest,
): ApiResponse => {
  const pick = (o: Record<string, unknown>): Record<string, unknown> => {
    const select = req.query.get('$select');
    if (!select) return o;
    const names = select.split(',').map((s) => s.trim());
    return Object.fromEntries(Object.entries(o).filter(([k]) => names.includes(k)));
  };
  if (key === undefined) {
    return json(200, {
      '@odata.context': `${ctx.apiUrl}$metadata#EntityDefinitions`,
      value: ctx.store.allTables().map((t) => pick(describeTable(t))),
    });
  }
  const m = /^(?:LogicalName=)?'([^']+)'$/.exec(key.trim());
  const state = m ? ctx.store.table(m[1] as string) : undefined;
  if (!state) throw errors.resourceNotFound(`EntityDefinitions(${key})`);
  if (attributes) {
    return json(200, {
      '@odata.context': `${ctx.apiUrl}$metadata#EntityDefinitions('${state.def.logicalName}')/Attributes`,
      value: state.def.columns.map((c) => pick(describeColumn(c))),
    });
  }
  return json(200, {
    '@odata.context': `${ctx.apiUrl}$metadata#EntityDefinitions/$entity`,
    ...pick(describeTable(state)),
  });
};

const describeTable = (t: TableState): Record<string, unknown> => ({
  MetadataId: t.def.logicalName,
  LogicalName: t.def.logicalName,
  EntitySetName: t.def.entitySetName,
  PrimaryIdAttribute: t.def.primaryKey,
  PrimaryNameAttribute: t.def.primaryName,
  ChangeTrackingEnabled: t.tracked,
  IsCustomEntity: t.def.logicalName.includes('_'),
});

const describeColumn = (c: ColumnDef): Record<string, unknown> => ({
  LogicalName: c.attribute,
  AttributeType: {
    string: 'String',
    memo: 'Memo',
    int: 'Integer',
    decimal: 'Decimal',
    money: 'Money',
    bool: 'Boolean',
    datetime: 'DateTime',
    dateonly: 'DateTime',
    choice: c.name === 'statecode' ? 'State' : c.name === 'statuscode' ? 'Status' : 'Picklist',
    lookup: c.attribute === 'ownerid' ? 'Owner' : (c.targets?.length ?? 0) > 1 ? 'Customer' : 'Lookup',
    guid: 'Uniqueidentifier',
  }[c.type],
  IsValidForRead: true,
  IsValidForUpdate: !c.readOnly,
  ...(c.targets ? { Targets: c.targets } : {}),
});
