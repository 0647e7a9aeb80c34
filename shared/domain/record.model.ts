import { z } from 'zod';
import { ownerSchema } from './document.schema';

/** A choice (option set) value: the integer is the truth, the label is localized and only for display. */
export const choiceValueSchema = z.object({
  value: z.union([z.number().int(), z.array(z.number().int())]),
  label: z.string().nullable(),
});
export type ChoiceValue = z.output<typeof choiceValueSchema>;

/** A row's state is active (statecode 0), or the table has no state: not closed, deactivated or qualified. */
export const isActiveState = (statecode: ChoiceValue | null | undefined): boolean =>
  statecode === undefined || statecode === null || statecode.value === 0;

/** A lookup keeps the target table, because owner and customer lookups can point at several tables. */
export const lookupValueSchema = z.object({ id: z.string(), table: z.string().nullable() });
export type LookupValue = z.output<typeof lookupValueSchema>;

export const fieldValueSchema = z.union([
  z.string(),
  z.number(),
  z.boolean(),
  z.null(),
  choiceValueSchema,
  lookupValueSchema,
]);
export type FieldValue = z.output<typeof fieldValueSchema>;
export type FieldValues = Record<string, FieldValue>;

const flagSchema = z.object({ at: z.string() });

/** What Dynamics says about one source row; a person can have two (its lead and its contact). */
export const sourceMetaSchema = z.object({
  id: z.string(),
  table: z.string(),
  etag: z.string(),
  versionnumber: z.number(),
  modifiedon: z.string().nullable(),
  statecode: choiceValueSchema.nullable(),
  statuscode: choiceValueSchema.nullable(),
  merged: z.boolean(),
  masterId: z.string().nullable(),
  /** Hash of the synced values and state; an incoming row with the same hash costs no write. */
  hash: z.string(),
  /** The full-load run that last saw the row; a resync marks rows it did not see as deleted. */
  seenLoad: z.string().optional(),
  deletedAt: z.string().optional(),
  /** The row's filter column said false when last read. */
  excluded: z.boolean().optional(),
});
export type SourceMeta = z.output<typeof sourceMetaSchema>;

export const recordSyncSchema = z.object({
  updatedAt: z.string(),
  /** The sync filter column is false: the copy stays but is no longer updated. */
  excluded: flagSchema.optional(),
  deletedInDynamics: flagSchema.optional(),
  merged: z.object({ at: z.string(), into: z.string() }).optional(),
});

/** Accounts, opportunities, users, teams and custom entities: one-way copies of a Dynamics row. */
export const genericRecordSchema = z.looseObject({
  id: z.string(),
  entity: z.string(),
  values: z.record(z.string(), fieldValueSchema),
  dynamics: sourceMetaSchema,
  sync: recordSyncSchema,
  /** The shape this document was written in (document.schema.ts); absent: version 1. */
  schemaVersion: z.number().int().positive().optional(),
  /** The row's owner with what the directory knows of it (tables with owners). */
  owner: ownerSchema.optional(),
  _etag: z.string().optional(),
});
export type GenericRecord = z.output<typeof genericRecordSchema>;

export const MARKETING_FIELDS = [
  'firstName',
  'lastName',
  'email',
  'jobTitle',
  'phone',
  'company',
  'ownerId',
  'status',
] as const;
export type MarketingField = (typeof MARKETING_FIELDS)[number];

export const personSourceSchema = sourceMetaSchema.extend({
  /** The row's other synced columns (choices, lookups, flags) as Dynamics sent them. */
  values: z.record(z.string(), fieldValueSchema),
});
export type PersonSource = z.output<typeof personSourceSchema>;

/**
 * The marketing "person": one document per human whether Dynamics knows them as a lead, a contact
 * or both (a qualified lead and the contact it became). Marketing fields sit at the top level, where
 * the marketing side edits them; `sync.agreed` holds the values last agreed with Dynamics so that a
 * push can send only marketing edits and a pull can tell who changed what.
 */
export const personRecordSchema = z.looseObject({
  id: z.string(),
  entity: z.literal('person'),
  type: z.enum(['lead', 'contact']),
  firstName: fieldValueSchema.optional(),
  lastName: fieldValueSchema.optional(),
  email: fieldValueSchema.optional(),
  jobTitle: fieldValueSchema.optional(),
  phone: fieldValueSchema.optional(),
  company: fieldValueSchema.optional(),
  ownerId: fieldValueSchema.optional(),
  status: fieldValueSchema.optional(),
  dynamics: z.object({
    leadId: z.string().optional(),
    contactId: z.string().optional(),
    etag: z.string(),
    versionnumber: z.number(),
    modifiedon: z.string().nullable(),
    lead: personSourceSchema.optional(),
    contact: personSourceSchema.optional(),
  }),
  sync: recordSyncSchema.extend({
    agreed: z.record(z.string(), fieldValueSchema),
  }),
  /** The shape this document was written in (document.schema.ts); absent: version 1. */
  schemaVersion: z.number().int().positive().optional(),
  /** The primary row's owner with what the directory knows of it; `ownerId` stays for older readers. */
  owner: ownerSchema.optional(),
  _etag: z.string().optional(),
});
export type PersonRecord = z.output<typeof personRecordSchema>;

export type RecordDocument = GenericRecord | PersonRecord;

export const isPerson = (doc: RecordDocument): doc is PersonRecord => doc.entity === 'person';
