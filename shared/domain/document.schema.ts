import { z } from 'zod';

/**
 * Versions of the record documents' shape. A document says which one it was written in
 * (`schemaVersion`); one without it was written before versions existed and is version 1.
 *
 * 1. Records as first stored: a person's owner only as `ownerId` (a GUID).
 * 2. `schemaVersion` on every record; `owner: {id, type, name, email}` on people and on records of
 *    owned tables, beside the `ownerId` version 1 readers know.
 *
 * Rules a new version keeps, so old and new code can share a container during a rolling deploy:
 * fields are only added (never renamed, retyped or removed), an upgrade is pure and idempotent, and
 * a document of a newer version than this code knows is read as it is and keeps its version when
 * written (its extra fields survive: every record schema keeps unknown fields).
 */
export const DOCUMENT_SCHEMA_VERSION = 2;

export const ownerTypeSchema = z.enum(['systemuser', 'team']);

/** A record's owner in Dynamics: a user or a team, with what the directory knows of it. */
export const ownerSchema = z.object({
  id: z.string(),
  type: ownerTypeSchema,
  /** The user's full name or the team's name; null until the directory has the owner. */
  name: z.string().nullable(),
  /** A user's primary email (`internalemailaddress`); null for teams and unknown owners. */
  email: z.string().nullable(),
});
export type Owner = z.output<typeof ownerSchema>;

type Raw = Record<string, unknown>;

/** The version a stored document was written in (1 when it does not say). */
export function schemaVersionOf(doc: object): number {
  const version = (doc as Raw).schemaVersion;
  return typeof version === 'number' && Number.isInteger(version) && version > 0 ? version : 1;
}

const isObject = (value: unknown): value is Raw =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The owner lookup a row kept (`values.ownerid = {id, table}`), if it names a user or a team. */
function ownerLookup(values: unknown): { id: string; type: Owner['type'] } | undefined {
  const lookup = isObject(values) ? values.ownerid : undefined;
  if (!isObject(lookup) || typeof lookup.id !== 'string') return undefined;
  const type = ownerTypeSchema.safeParse(lookup.table);
  return { id: lookup.id, type: type.success ? type.data : 'systemuser' };
}

/** A person's owner is its primary row's (the one `type` names); `ownerId` when no row says more. */
function personOwner(doc: Raw): Owner | undefined {
  const dynamics = isObject(doc.dynamics) ? doc.dynamics : {};
  const primary = typeof doc.type === 'string' ? dynamics[doc.type] : undefined;
  const lookup = ownerLookup(isObject(primary) ? primary.values : undefined);
  if (lookup !== undefined) return { ...lookup, name: null, email: null };
  if (typeof doc.ownerId === 'string')
    return { id: doc.ownerId, type: 'systemuser', name: null, email: null };
  return undefined;
}

function upgradeFrom1(doc: Raw): Raw {
  if (doc.owner !== undefined) return doc;
  const owner = doc.entity === 'person' ? personOwner(doc) : ownerLookup(doc.values);
  if (owner === undefined) return doc;
  return { ...doc, owner: 'name' in owner ? owner : { ...owner, name: null, email: null } };
}

/** Upgrades from version N to N + 1, by N. */
const UPGRADES: Record<number, (doc: Raw) => Raw> = { 1: upgradeFrom1 };

/**
 * The document in the current shape: each upgrade from its version up, then the current version
 * stamped. Pure and idempotent; a newer document than this code knows comes back unchanged, and so
 * does anything that is no document at all (the record schemas report those).
 */
export function upgradeDocument<T extends object>(doc: T): T {
  if (!isObject(doc)) return doc;
  let version = schemaVersionOf(doc);
  if (version >= DOCUMENT_SCHEMA_VERSION) return doc;
  let out: Raw = doc;
  for (; version < DOCUMENT_SCHEMA_VERSION; version += 1) {
    const upgrade = UPGRADES[version];
    if (upgrade !== undefined) out = upgrade(out);
  }
  return { ...out, schemaVersion: DOCUMENT_SCHEMA_VERSION } as T;
}

/** The version a write stamps: the current one, or the newer one a document already carries. */
export const versionToWrite = (doc: object): number =>
  Math.max(DOCUMENT_SCHEMA_VERSION, schemaVersionOf(doc));
