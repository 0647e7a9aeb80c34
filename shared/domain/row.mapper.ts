import { z } from 'zod';
import { hashText, stableStringify } from './content.hash';
import type { ColumnType, EntityProfile } from './entity.profile';
import type { ChoiceValue, FieldValue, FieldValues } from './record.model';
import { errorExcerpt } from '../errors/error.excerpt';

export const FORMATTED = '@OData.Community.Display.V1.FormattedValue';
export const LOOKUP_TABLE = '@Microsoft.Dynamics.CRM.lookuplogicalname';

const guid = z
  .string()
  .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'must be a GUID')
  .transform((id) => id.toLowerCase());

// Int64 columns arrive as numbers, or as strings when the client asks for IEEE754Compatible.
const int64 = z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]);

const columnSchemas: Record<ColumnType, z.ZodType> = {
  string: z.string().nullable().optional(),
  int: z.number().int().nullable().optional(),
  decimal: z.number().nullable().optional(),
  bool: z.boolean().nullable().optional(),
  datetime: z
    .string()
    .refine((text) => !Number.isNaN(Date.parse(text)), 'must be an ISO 8601 date')
    .nullable()
    .optional(),
  // Multi-select choices come as one comma-separated string of integers.
  choice: z
    .union([z.number().int(), z.string().regex(/^-?\d+(,-?\d+)*$/, 'must be a choice value')])
    .nullable()
    .optional(),
  lookup: guid.nullable().optional(),
  any: z.union([z.string(), z.number(), z.boolean(), z.null()]).optional(),
};

/** Columns that describe the row rather than its content; they go to the `dynamics` sub-object. */
const META_COLUMNS = new Set([
  'modifiedon',
  'versionnumber',
  'statecode',
  'statuscode',
  'merged',
  '_masterid_value',
]);

const schemaCache = new WeakMap<EntityProfile, z.ZodType<Record<string, unknown>>>();

/** The zod schema of one entity's rows, from the profile's column types; annotations pass through. */
export function rowSchemaFor(profile: EntityProfile): z.ZodType<Record<string, unknown>> {
  const cached = schemaCache.get(profile);
  if (cached) return cached;
  const shape: Record<string, z.ZodType> = {
    '@odata.etag': z.string().min(1),
    versionnumber: int64,
  };
  for (const [column, type] of Object.entries(profile.columnTypes)) {
    if (column === 'versionnumber') continue;
    shape[column] = columnSchemas[type];
  }
  shape[profile.key] = guid;
  const schema = z.looseObject(shape) as unknown as z.ZodType<Record<string, unknown>>;
  schemaCache.set(profile, schema);
  return schema;
}

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const CHOICE_TEXT = /^-?\d+(,-?\d+)*$/;
const DIGITS = /^\d+$/;

const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Accepts a subset of what the column's zod schema accepts (never more), with no allocation. The
 * zod schema stays the authority: a row the quick check rejects is parsed by zod, which either
 * accepts it after all or names what is wrong.
 */
const quickChecks: Record<ColumnType, (v: unknown) => boolean> = {
  string: (v) => v === undefined || v === null || typeof v === 'string',
  int: (v) => v === undefined || v === null || Number.isSafeInteger(v),
  decimal: (v) => v === undefined || v === null || isFiniteNumber(v),
  bool: (v) => v === undefined || v === null || typeof v === 'boolean',
  datetime: (v) => v === undefined || v === null || (typeof v === 'string' && !Number.isNaN(Date.parse(v))),
  choice: (v) =>
    v === undefined ||
    v === null ||
    Number.isSafeInteger(v) ||
    (typeof v === 'string' && CHOICE_TEXT.test(v)),
  lookup: (v) => v === undefined || v === null || (typeof v === 'string' && GUID.test(v)),
  any: (v) =>
    v === undefined || v === null || typeof v === 'string' || typeof v === 'boolean' || isFiniteNumber(v),
};

interface RowPlan {
  /** Columns and their quick checks, key and version included. */
  checks: [string, (v: unknown) => boolean][];
  /** Synced value columns, in profile order, with the field name they map to. */
  fields: PlannedField[];
  /** Field names sorted as stableStringify orders them, for the content hash. */
  sortedFields: string[];
  /** `"field":` for each of sortedFields, so rows do not stringify the same names again. */
  sortedFieldKeys: string[];
  /** Lookup fields in stableStringify order, with their `"field":` text, for `lookupNames`. */
  sortedLookups: { field: string; key: string }[];
  statecode: PlannedField;
  statuscode: PlannedField;
}

/** One column's mapping, with the annotation property names built once rather than per row. */
interface PlannedField {
  column: string;
  field: string;
  type: ColumnType;
  formattedKey: string;
  tableKey: string;
  /** Position of `field` in sortedFields. */
  sortedIndex: number;
}

const plannedField = (column: string, field: string, type: ColumnType): PlannedField => ({
  column,
  field,
  type,
  formattedKey: `${column}${FORMATTED}`,
  tableKey: `${column}${LOOKUP_TABLE}`,
  sortedIndex: -1,
});

const planCache = new WeakMap<EntityProfile, RowPlan>();

function rowPlanFor(profile: EntityProfile): RowPlan {
  const cached = planCache.get(profile);
  if (cached) return cached;
  const checks: RowPlan['checks'] = [
    ['@odata.etag', (v) => typeof v === 'string' && v.length > 0],
    ['versionnumber', (v) => Number.isSafeInteger(v) || (typeof v === 'string' && DIGITS.test(v))],
  ];
  for (const [column, type] of Object.entries(profile.columnTypes)) {
    if (column === 'versionnumber' || column === profile.key) continue;
    checks.push([column, quickChecks[type]]);
  }
  checks.push([profile.key, (v) => typeof v === 'string' && GUID.test(v)]);
  const fields: RowPlan['fields'] = [];
  for (const [column, type] of Object.entries(profile.columnTypes)) {
    if (column === profile.key || column === profile.filterColumn || META_COLUMNS.has(column)) continue;
    fields.push(plannedField(column, type === 'lookup' ? lookupField(column) : column, type));
  }
  const sortedFields = [...new Set(fields.map((f) => f.field))].sort(compareKeys);
  for (const f of fields) f.sortedIndex = sortedFields.indexOf(f.field);
  const lookupFields = new Set(fields.filter((f) => f.type === 'lookup').map((f) => f.field));
  const plan: RowPlan = {
    checks,
    fields,
    sortedFields,
    sortedFieldKeys: sortedFields.map((field) => `${JSON.stringify(field)}:`),
    sortedLookups: sortedFields
      .filter((field) => lookupFields.has(field))
      .map((field) => ({ field, key: `${JSON.stringify(field)}:` })),
    statecode: plannedField('statecode', 'statecode', 'choice'),
    statuscode: plannedField('statuscode', 'statuscode', 'choice'),
  };
  planCache.set(profile, plan);
  return plan;
}

const compareKeys = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function quickValid(plan: RowPlan, raw: unknown): raw is Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return false;
  const row = raw as Record<string, unknown>;
  for (const [column, check] of plan.checks) if (!check(row[column])) return false;
  return true;
}

/** A validated Dynamics row, split into synced values and row metadata. */
export interface MappedRow {
  id: string;
  table: string;
  etag: string;
  versionnumber: number;
  modifiedon: string | null;
  statecode: ChoiceValue | null;
  statuscode: ChoiceValue | null;
  merged: boolean;
  masterId: string | null;
  /** The sync filter column: null when the table has none or the value is empty. */
  filter: boolean | null;
  values: FieldValues;
  /** Display names of lookups (a contact's parent account name), by field name. */
  lookupNames: Record<string, string>;
  /** Hash of everything the sync copies; unchanged hash = no write. */
  hash: string;
}

export interface RowError {
  id: string | null;
  /** transform_failed: a field's SYNC_CONFIG transform cannot take the row's value (the field is held). */
  code: 'invalid_row' | 'transform_failed';
  message: string;
  excerpt: string;
}

export type MapResult = { ok: true; row: MappedRow } | { ok: false; error: RowError };

/** `_parentcustomerid_value` -> `parentcustomerid`: the name the marketing side sees. */
/** A lookup column as the Web API reads it: `_<name>_value`, a GUID (annotations name its table). */
export const isLookupColumn = (column: string): boolean => /^_[a-z0-9_]+_value$/.test(column);

export const lookupField = (column: string): string => column.replace(/^_/, '').replace(/_value$/, '');

function choiceOf(raw: number | string, label: unknown): ChoiceValue {
  const value =
    typeof raw === 'number'
      ? raw
      : raw
          .split(',')
          .filter((part) => part !== '')
          .map(Number);
  return { value, label: typeof label === 'string' ? label : null };
}

function mapValue(f: PlannedField, row: Record<string, unknown>): FieldValue {
  const raw = row[f.column];
  if (raw === undefined || raw === null) return null;
  const label = row[f.formattedKey];
  switch (f.type) {
    case 'lookup': {
      const table = row[f.tableKey];
      // Lower-cased here too: rows that passed the quick check are not copied through zod's transform.
      return { id: String(raw).toLowerCase(), table: typeof table === 'string' ? table : null };
    }
    case 'choice':
      return choiceOf(raw as number | string, label);
    case 'any':
      // An untyped custom column is a choice when Dynamics labels its integer with words; plain
      // numbers and money are labelled with digits and symbols only.
      if (
        typeof raw === 'number' &&
        Number.isInteger(raw) &&
        typeof label === 'string' &&
        /\p{L}/u.test(label)
      ) {
        return choiceOf(raw, label);
      }
      // A multi-select choice is the one text column Dynamics labels: its values as "1,2" and their
      // labels as "A; B". A plain text column never carries a FormattedValue.
      if (typeof raw === 'string' && typeof label === 'string' && CHOICE_TEXT.test(raw)) {
        return choiceOf(raw, label);
      }
      return raw as FieldValue;
    default:
      return raw as FieldValue;
  }
}

/** Keeps only what helps someone find the bad value: the key, the failing columns, values cut short. */
export function safeExcerpt(row: unknown, key: string, paths: readonly string[]): string {
  return errorExcerpt(
    row,
    [key],
    paths.map((path) => [path]),
  );
}

export function mapRow(profile: EntityProfile, raw: unknown): MapResult {
  const plan = rowPlanFor(profile);
  if (quickValid(plan, raw)) return mapValidRow(profile, plan, raw);
  const parsed = rowSchemaFor(profile).safeParse(raw);
  if (!parsed.success) {
    const rawKey =
      typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>)[profile.key] : undefined;
    const paths = [...new Set(parsed.error.issues.map((issue) => String(issue.path[0] ?? '')))].filter(
      Boolean,
    );
    return {
      ok: false,
      error: {
        id: typeof rawKey === 'string' ? rawKey.toLowerCase() : null,
        code: 'invalid_row',
        message: parsed.error.issues
          .map((issue) => `${issue.path.join('.') || '(row)'}: ${issue.message}`)
          .join('; ')
          .slice(0, 1000),
        excerpt: safeExcerpt(raw, profile.key, paths),
      },
    };
  }
  return mapValidRow(profile, plan, parsed.data);
}

/** Maps a row that passed validation (the quick check or zod); reads it, never changes it. */
function mapValidRow(profile: EntityProfile, plan: RowPlan, row: Record<string, unknown>): MapResult {
  const values: FieldValues = {};
  const lookupNames: Record<string, string> = {};
  // Each value's hash text is made as the value is, in sorted-field slots, so the hash text needs
  // no second pass over the values (same text as rowContentText).
  const texts = new Array<string>(plan.sortedFields.length);
  for (const f of plan.fields) {
    const value = mapValue(f, row);
    values[f.field] = value;
    texts[f.sortedIndex] = fieldText(value);
    if (f.type === 'lookup' && value !== null) {
      const name = row[f.formattedKey];
      if (typeof name === 'string') lookupNames[f.field] = name;
    }
  }
  const statecode = mapValue(plan.statecode, row) as ChoiceValue | null;
  const statuscode = mapValue(plan.statuscode, row) as ChoiceValue | null;
  const master = row._masterid_value;
  const masterId = typeof master === 'string' ? master.toLowerCase() : null;
  const merged = row.merged === true;
  const filterValue = profile.filterColumn === undefined ? null : row[profile.filterColumn];
  let names = '';
  for (const { field, key } of plan.sortedLookups) {
    const name = lookupNames[field];
    if (name !== undefined) names += `${names === '' ? '' : ','}${key}${JSON.stringify(name)}`;
  }
  let text = `{"lookupNames":{${names}},"masterId":${JSON.stringify(masterId)},"merged":${merged},"statecode":${fieldText(statecode)},"statuscode":${fieldText(statuscode)},"values":{`;
  for (let i = 0; i < texts.length; i++) {
    text += `${i === 0 ? '' : ','}${plan.sortedFieldKeys[i] as string}${texts[i] as string}`;
  }
  const hash = hashText(`${text}}}`);
  return {
    ok: true,
    row: {
      id: (row[profile.key] as string).toLowerCase(),
      table: profile.logicalName,
      etag: row['@odata.etag'] as string,
      versionnumber: Number(row.versionnumber),
      modifiedon: typeof row.modifiedon === 'string' ? row.modifiedon : null,
      statecode,
      statuscode,
      merged,
      masterId,
      filter: typeof filterValue === 'boolean' ? filterValue : null,
      values,
      lookupNames,
      hash,
    },
  };
}

const ownKeyCount = (value: object): number => {
  let count = 0;
  for (const key in value) if (Object.hasOwn(value, key)) count += 1;
  return count;
};

/** stableStringify of one field value, with the two shapes the mapper makes written out directly. */
function fieldText(value: FieldValue | undefined): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value !== 'object') return JSON.stringify(value);
  const fields = ownKeyCount(value);
  if (fields === 2 && 'value' in value && 'label' in value && value.label !== undefined) {
    const choice = Array.isArray(value.value) ? `[${value.value.join(',')}]` : JSON.stringify(value.value);
    return `{"label":${JSON.stringify(value.label)},"value":${choice}}`;
  }
  if (fields === 2 && 'id' in value && 'table' in value && value.table !== undefined) {
    return `{"id":${JSON.stringify(value.id)},"table":${JSON.stringify(value.table)}}`;
  }
  return stableStringify(value);
}

/**
 * Exactly stableStringify({ values, lookupNames, statecode, statuscode, merged, masterId }), so
 * stored hashes stay valid, without sorting the same keys again for every row: the value fields are
 * fixed per entity and sorted once.
 */
export function rowContentText(
  sortedFields: readonly string[],
  values: FieldValues,
  lookupNames: Record<string, string>,
  statecode: ChoiceValue | null,
  statuscode: ChoiceValue | null,
  merged: boolean,
  masterId: string | null,
): string {
  let text = `{"lookupNames":${stableStringify(lookupNames)},"masterId":${JSON.stringify(masterId)},"merged":${merged},"statecode":${fieldText(statecode)},"statuscode":${fieldText(statuscode)},"values":{`;
  let first = true;
  for (const field of sortedFields) {
    const value = values[field];
    if (value === undefined) continue;
    text += `${first ? '' : ','}${JSON.stringify(field)}:${fieldText(value)}`;
    first = false;
  }
  return `${text}}}`;
}
