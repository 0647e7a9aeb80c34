import type { Owner } from './document.schema';
import type { GenericRecord, LookupValue } from './record.model';

/** An owner as the directory (synced users and teams) knows it; a user may be disabled. */
export interface DirectoryOwner extends Owner {
  disabled: boolean;
}

/** A directory record (a systemuser or team document) as an owner; undefined for anything else. */
export function directoryOwner(doc: GenericRecord): DirectoryOwner | undefined {
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : null);
  if (doc.entity === 'systemuser') {
    return {
      id: doc.id,
      type: 'systemuser',
      name: text(doc.values.fullname),
      email: text(doc.values.internalemailaddress),
      disabled: doc.values.isdisabled === true,
    };
  }
  if (doc.entity === 'team') {
    return { id: doc.id, type: 'team', name: text(doc.values.name), email: null, disabled: false };
  }
  return undefined;
}

/**
 * The owner a row names (its `ownerid` lookup), with the directory's name and email. A directory
 * that does not know the owner yet (users synced after the row) keeps what the document knew of the
 * same owner, so an unchanged row is never rewritten for want of the directory.
 */
export function ownerOfRow(
  lookup: LookupValue | null | undefined,
  directory: ReadonlyMap<string, Owner> | undefined,
  previous: Owner | undefined,
): Owner | undefined {
  if (lookup === null || lookup === undefined) return undefined;
  const id = lookup.id.toLowerCase();
  const type: Owner['type'] = lookup.table === 'team' ? 'team' : 'systemuser';
  const known = directory?.get(id);
  if (known !== undefined) return { id, type, name: known.name, email: known.email };
  if (previous !== undefined && previous.id === id) return { ...previous, type };
  return { id, type, name: null, email: null };
}

export const sameOwner = (a: Owner | undefined, b: Owner | undefined): boolean =>
  a?.id === b?.id && a?.type === b?.type && a?.name === b?.name && a?.email === b?.email;

/** Why a requested owner cannot own a row here, or undefined when it can. */
export function ownerProblem(owner: DirectoryOwner | undefined): 'unknown' | 'disabled' | undefined {
  if (owner === undefined) return 'unknown';
  return owner.disabled ? 'disabled' : undefined;
}
