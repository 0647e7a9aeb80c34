import { isoSeconds, type TableState } from './data.store';
import { edmType } from './odata-query';
import type { ColumnDef } from './schema.catalog';
import { errors } from './simulator.errors';
import type { ApiRequest, WebApiContext } from './web-api.protocol';
import { GUID } from './web-api.protocol';

// Request bodies: the JSON object itself, and a row's body checked against its table (types,
// lengths, choices, `@odata.bind` references) into the changes a write applies.

export interface ParsedBody {
  changes: Record<string, unknown>;
  targets: Record<string, string | undefined>;
  id?: string;
}

/** The body as a JSON object; an empty body is an empty object, as for actions without parameters. */
export const parseJsonBody = (req: ApiRequest): Record<string, unknown> => {
  if (req.body.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(req.body);
  } catch {
    throw errors.badRequest('The request body is not valid JSON.', '0x80048d19');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw errors.badRequest('The request body must be a JSON object.', '0x80048d19');
  }
  return parsed as Record<string, unknown>;
};

/** A row an action names by its type and key: `{"@odata.type": "Microsoft.Dynamics.CRM.contact", "contactid": …}`. */
export interface EntityParameter {
  table: string;
  id: string;
}

/**
 * An entity-typed action parameter. `declared` is the parameter's declared table, which makes
 * `@odata.type` optional; a parameter of the base type (`crmbaseentity`) must name its own.
 */
export const entityReference = (
  ctx: WebApiContext,
  value: unknown,
  name: string,
  declared?: string,
): EntityParameter => {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw errors.badRequest(`Parameter '${name}' is required.`, '0x80040203');
  const o = value as Record<string, unknown>;
  const type = String(o['@odata.type'] ?? declared ?? '').replace(/^#?Microsoft\.Dynamics\.CRM\./, '');
  const state = ctx.store.table(type);
  if (!state) throw errors.badRequest(`Parameter '${name}' must have a valid @odata.type.`, '0x80040203');
  const id = o[state.def.primaryKey];
  if (typeof id !== 'string' || !GUID.test(id))
    throw errors.badRequest(`Parameter '${name}' has no ${state.def.primaryKey}.`, '0x80040203');
  return { table: type, id: id.toLowerCase() };
};

export const entityParameter = (
  ctx: WebApiContext,
  body: Record<string, unknown>,
  name: string,
  declared?: string,
): EntityParameter => entityReference(ctx, body[name], name, declared);

/** An `Edm.Guid` action parameter. */
export const guidParameter = (body: Record<string, unknown>, name: string): string => {
  const v = body[name];
  if (v === undefined || v === null)
    throw errors.badRequest(`Parameter '${name}' is required.`, '0x80040203');
  if (typeof v !== 'string' || !GUID.test(v)) {
    throw errors.badRequest(
      `Cannot convert the literal '${String(v)}' to the expected type 'Edm.Guid'.`,
      '0x80048d19',
    );
  }
  return v.toLowerCase();
};

/** Resolves `/accounts(id)`, an absolute URL, or a `$n` Content-ID reference. */
export const resolveReference = (
  ctx: WebApiContext,
  ref: string,
  contentIds?: Map<string, string>,
): { table: TableState; id: string } | undefined => {
  let text = ref.trim();
  const cid = /^\$([A-Za-z0-9_-]+)$/.exec(text);
  if (cid) {
    const url = contentIds?.get(cid[1] as string);
    if (!url) return undefined;
    text = url;
  }
  if (text.startsWith(ctx.apiUrl)) text = text.slice(ctx.apiUrl.length);
  text = text.replace(/^https?:\/\/[^/]+\/api\/data\/v9\.\d\//, '').replace(/^\/+/, '');
  const m = /^([A-Za-z0-9_]+)\(([0-9a-fA-F-]{36})\)$/.exec(text);
  if (!m) return undefined;
  const table = ctx.store.tableBySet(m[1] as string);
  if (!table) return undefined;
  return { table, id: (m[2] as string).toLowerCase() };
};

/**
 * Validates a JSON body against the table. `trusted` (control API, "a Dynamics user") may also
 * set system-maintained columns such as `merged` and write lookups as `_x_value` directly.
 */
export const parseBody = (
  ctx: WebApiContext,
  state: TableState,
  body: Record<string, unknown>,
  contentIds?: Map<string, string>,
  trusted = false,
): ParsedBody => {
  const def = state.def;
  const out: ParsedBody = { changes: {}, targets: {} };
  for (const [key, value] of Object.entries(body)) {
    if (key.startsWith('@odata.')) continue;
    const at = key.indexOf('@');
    if (at >= 0) {
      const annotation = key.slice(at + 1);
      if (annotation !== 'odata.bind') continue;
      const nav = key.slice(0, at);
      const binding = def.navMap.get(nav);
      if (!binding) throw errors.undeclaredNavigation(nav);
      if (value === null) {
        out.changes[binding.column.name] = null;
        out.targets[binding.column.name] = undefined;
        continue;
      }
      if (typeof value !== 'string')
        throw errors.payload(def.entitySetName, `Invalid @odata.bind value for '${nav}'.`);
      const ref = resolveReference(ctx, value, contentIds);
      if (!ref) {
        throw errors.badRequest(
          `Invalid reference '${value}' for navigation property '${nav}': expected /<entityset>(<id>).`,
          '0x80048d19',
        );
      }
      if (!binding.targets.includes(ref.table.def.logicalName)) {
        throw errors.badRequest(
          `Navigation property '${nav}' of '${def.logicalName}' cannot reference a '${ref.table.def.logicalName}' record.`,
          '0x80048d19',
        );
      }
      const target = ref.table.rows.get(ref.id);
      if (!target) throw errors.notFound(ref.table.def.logicalName, ref.id);
      // Nothing can be given to a disabled user, neither on create nor by assignment.
      if (binding.column.attribute === 'ownerid' && target.values.isdisabled === true)
        throw errors.userDisabled(ref.id);
      out.changes[binding.column.name] = ref.id;
      out.targets[binding.column.name] = ref.table.def.logicalName;
      continue;
    }
    if (key === def.primaryKey) {
      if (typeof value !== 'string' || !GUID.test(value)) {
        throw errors.payload(
          def.entitySetName,
          `Cannot convert the literal '${String(value)}' to the expected type 'Edm.Guid'.`,
        );
      }
      out.id = value.toLowerCase();
      continue;
    }
    const c = def.columnMap.get(key);
    if (!c) throw errors.unknownProperty(key, def.logicalName);
    if (c.type === 'lookup') {
      if (!trusted) throw errors.unknownProperty(key, def.logicalName);
      if (value === null) {
        out.changes[c.name] = null;
        out.targets[c.name] = undefined;
        continue;
      }
      const id = String(value).toLowerCase();
      const target = (c.targets ?? []).find((t) => ctx.store.table(t)?.rows.has(id)) ?? (c.targets ?? [])[0];
      out.changes[c.name] = id;
      out.targets[c.name] = target;
      continue;
    }
    if (c.readOnly && !(trusted && !['createdon', 'modifiedon', 'versionnumber'].includes(c.name))) continue;
    out.changes[c.name] = coerce(state, c, value);
  }
  return out;
};

/** A JSON value as the column stores it, or the error the platform gives for it. */
function coerce(state: TableState, c: ColumnDef, value: unknown): unknown {
  const def = state.def;
  if (value === null) return null;
  const bad = () =>
    errors.payload(
      def.entitySetName,
      `Cannot convert the literal '${typeof value === 'object' ? JSON.stringify(value) : String(value)}' to the expected type '${edmType(c)}'.`,
    );
  switch (c.type) {
    case 'string':
    case 'memo':
      if (typeof value !== 'string') throw bad();
      if (c.maxLength !== undefined && value.length > c.maxLength)
        throw errors.tooLong(c.name, def.logicalName, c.maxLength);
      return value;
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value)) throw bad();
      return value;
    case 'choice': {
      if (typeof value !== 'number' || !Number.isInteger(value)) throw bad();
      return knownOption(state, c, value);
    }
    case 'multichoice': {
      // Written as read: one string of comma-separated values; an empty one clears like null. Kept
      // as a set, in value order, so the same choice always reads back the same.
      if (typeof value !== 'string') throw bad();
      if (value.trim() === '') return null;
      const items = value.split(',').map((v) => v.trim());
      // Past the OData layer (the column is an Edm.String), a value that is no option is out of range.
      const chosen = new Set(items.map((v) => knownOption(state, c, /^-?\d+$/.test(v) ? Number(v) : v)));
      return [...chosen].sort((x, y) => x - y).join(',');
    }
    case 'decimal':
    case 'money':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw bad();
      return value;
    case 'bool':
      if (typeof value !== 'boolean') throw bad();
      return value;
    case 'datetime': {
      if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) throw bad();
      return isoSeconds(Date.parse(value));
    }
    case 'dateonly':
      if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) throw bad();
      return value;
    case 'guid':
      if (typeof value !== 'string' || !GUID.test(value)) throw bad();
      return value.toLowerCase();
    case 'lookup':
      throw errors.unknownProperty(c.name, def.logicalName);
  }
}

function knownOption(state: TableState, c: ColumnDef, value: number | string): number {
  const accepted = (c.options ?? []).map((o) => o.value);
  if (typeof value !== 'number' || !accepted.includes(value))
    throw errors.outOfRange(c.name, state.def.logicalName, value, accepted);
  return value;
}
