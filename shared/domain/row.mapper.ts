import { z } from 'zod';
import { contentHash } from './content.hash';
import type { ColumnType, EntityProfile } from './entity.profile';
import type { ChoiceValue, FieldValue, FieldValues } from './record.model';

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
  code: 'invalid_row';
  message: string;
  excerpt: string;
}

export type MapResult = { ok: true; row: MappedRow } | { ok: false; error: RowError };

/** `_parentcustomerid_value` -> `parentcustomerid`: the name the marketing side sees. */
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

function mapValue(type: ColumnType, column: string, row: Record<string, unknown>): FieldValue {
  const raw = row[column];
  if (raw === undefined || raw === null) return null;
  const label = row[`${column}${FORMATTED}`];
  switch (type) {
    case 'lookup': {
      const table = row[`${column}${LOOKUP_TABLE}`];
      return { id: String(raw), table: typeof table === 'string' ? table : null };
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
      return raw as FieldValue;
    default:
      return raw as FieldValue;
  }
}

/** Keeps only what helps someone find the bad value: the key, the failing columns, values cut short. */
export function safeExcerpt(row: unknown, key: string, paths: readonly string[]): string {
  if (typeof row !== 'object' || row === null) return JSON.stringify(row)?.slice(0, 200) ?? String(row);
  const source = row as Record<string, unknown>;
  const out: Record<string, unknown> = { [key]: source[key] };
  for (const path of paths) {
    const value = source[path];
    out[path] = typeof value === 'string' && value.length > 60 ? `${value.slice(0, 60)}...` : value;
  }
  return JSON.stringify(out).slice(0, 500);
}

export function mapRow(profile: EntityProfile, raw: unknown): MapResult {
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
  const row = parsed.data;
  const values: FieldValues = {};
  const lookupNames: Record<string, string> = {};
  for (const [column, type] of Object.entries(profile.columnTypes)) {
    if (column === profile.key || column === profile.filterColumn || META_COLUMNS.has(column)) continue;
    const field = type === 'lookup' ? lookupField(column) : column;
    values[field] = mapValue(type, column, row);
    const name = row[`${column}${FORMATTED}`];
    if (type === 'lookup' && row[column] != null && typeof name === 'string') lookupNames[field] = name;
  }
  const state = mapValue('choice', 'statecode', row);
  const status = mapValue('choice', 'statuscode', row);
  const masterId = row._masterid_value;
  const filterValue = profile.filterColumn === undefined ? null : row[profile.filterColumn];
  const mapped: Omit<MappedRow, 'hash'> = {
    id: row[profile.key] as string,
    table: profile.logicalName,
    etag: row['@odata.etag'] as string,
    versionnumber: row.versionnumber as number,
    modifiedon: typeof row.modifiedon === 'string' ? row.modifiedon : null,
    statecode: state as ChoiceValue | null,
    statuscode: status as ChoiceValue | null,
    merged: row.merged === true,
    masterId: typeof masterId === 'string' ? masterId.toLowerCase() : null,
    filter: typeof filterValue === 'boolean' ? filterValue : null,
    values,
    lookupNames,
  };
  const hash = contentHash({
    values,
    lookupNames,
    statecode: mapped.statecode,
    statuscode: mapped.statuscode,
    merged: mapped.merged,
    masterId: mapped.masterId,
  });
  return { ok: true, row: { ...mapped, hash } };
}
