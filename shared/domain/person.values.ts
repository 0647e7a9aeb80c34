import type { PersonFieldRule } from './entity.profile';
import {
  fieldValueSchema,
  type FieldValue,
  type FieldValues,
  type LookupValue,
  type PersonRecord,
  type PersonSource,
} from './record.model';
import { normalizeMarketing, toMarketing } from './field.transform';
import { isLookupColumn, lookupField, type MappedRow } from './row.mapper';

export type PersonTable = 'lead' | 'contact';

/** Marked on a person whose personal data was removed on request; the sync then leaves it alone. */
export const FORGOTTEN_KEY = 'forgotten';

/** Whether the person was forgotten on request: no pull writes it, no push reads it. */
export const isForgotten = (doc: object): boolean =>
  (doc as Record<string, unknown>)[FORGOTTEN_KEY] !== undefined;

/** Where a person keeps the id of its lead or contact row. */
export const idKeyOf = (table: PersonTable): 'leadId' | 'contactId' =>
  table === 'lead' ? 'leadId' : 'contactId';

/** The version of a Dynamics row a person's values were last agreed at (the If-Match of a push). */
export interface RowVersion {
  rowId: string;
  etag: string;
  versionnumber: number;
  modifiedon: string | null;
}

/**
 * The person's Dynamics part once it holds this version of a row of `table`: the row's id under
 * the table's key, the version the person's values were agreed at, and the row's source when known.
 * Everything else of the part (the other table's row) stays as it was.
 */
export function withDynamicsRow(
  dynamics: object | undefined,
  table: PersonTable,
  version: RowVersion,
  source: PersonSource | undefined,
): PersonRecord['dynamics'] {
  return {
    ...(dynamics ?? {}),
    [idKeyOf(table)]: version.rowId,
    etag: version.etag,
    versionnumber: version.versionnumber,
    modifiedon: version.modifiedon,
    ...(source !== undefined ? { [table]: source } : {}),
  } as PersonRecord['dynamics'];
}

/** The version a freshly read row carries. */
export const versionOf = (row: MappedRow): RowVersion => ({
  rowId: row.id,
  etag: row.etag,
  versionnumber: row.versionnumber,
  modifiedon: row.modifiedon,
});

/**
 * The person's current marketing values of the fields the rules cover, read from the top level of
 * the document where the marketing side edits them. Absent fields are left out; a value that is no
 * field value at all (a malformed edit) is left out too, so it can never be sent or merged.
 */
export function marketingValues(person: object, rules: readonly PersonFieldRule[]): FieldValues {
  const doc = person as Record<string, unknown>;
  const out: FieldValues = {};
  for (const rule of rules) {
    if (!(rule.marketing in doc)) continue;
    const parsed = fieldValueSchema.safeParse(doc[rule.marketing]);
    if (parsed.success) out[rule.marketing] = normalizeMarketing(rule, parsed.data);
  }
  return out;
}

/** The marketing-field values Dynamics holds in this row, by the person's rules. */
export function incomingMarketingValues(rules: readonly PersonFieldRule[], row: MappedRow): FieldValues {
  const out: FieldValues = {};
  for (const rule of rules) {
    const raw = rawIncoming(rule, row);
    const transformed = toMarketing(rule, raw);
    // A value the transforms cannot take is held by the planner (transformFailures); null meanwhile.
    out[rule.marketing] = transformed.ok ? transformed.value : null;
  }
  return out;
}

/** The fields of this row whose transforms fail, with why: held, and reported as transform_failed. */
export function transformFailures(
  rules: readonly PersonFieldRule[],
  row: MappedRow,
): { field: string; reason: string }[] {
  const out: { field: string; reason: string }[] = [];
  for (const rule of rules) {
    if (rule.transform === undefined) continue;
    const transformed = toMarketing(rule, rawIncoming(rule, row));
    if (!transformed.ok) out.push({ field: rule.marketing, reason: transformed.reason });
  }
  return out;
}

/** The row's value of a rule's column, before any transform. */
function rawIncoming(rule: PersonFieldRule, row: MappedRow): FieldValue {
  const column = rule.dynamics;
  if (column === 'statuscode' || column === 'statecode') return row[column];
  if (isLookupColumn(column)) {
    const field = lookupField(column);
    const lookup = row.values[field] as LookupValue | null | undefined;
    return rule.useLookupName ? (row.lookupNames[field] ?? null) : (lookup?.id ?? null);
  }
  return row.values[column] ?? null;
}
