import type { SyncConfig } from '../config/sync-config.schema';
import { genericRecordSchema, isPerson, type LookupValue } from '../domain/record.model';
import { lookupField } from '../domain/row.mapper';
import type { RecordStore } from './ports';

/** Where a custom record's links lead: the person at the end, or why there is none. */
export interface LinkedPerson {
  /** The person document holding the lead or contact at the end of the links; null when none does. */
  personId: string | null;
  /** Every record the links went through, from the one asked about. */
  path: { table: string; id: string }[];
  /** Set when the links end somewhere that is no person. */
  reason?: 'not_found' | 'no_link' | 'account' | 'person_not_synced' | 'too_deep';
}

/** Links followed at most: the config refuses circles, this bounds a damaged store. */
const MAX_DEPTH = 8;

/**
 * Follows a custom record's link (SYNC_CONFIG customEntities[].link) to the row it names, and on
 * through other custom records, to the person holding the lead or contact at the end. Resolved as
 * the stores are now rather than stored on the record, so it does not depend on which entity was
 * pulled first and never goes stale when a parent record is relinked.
 */
export async function resolveLinkedPerson(
  entity: string,
  id: string,
  deps: { config: SyncConfig; custom: Pick<RecordStore, 'read'>; people: Pick<RecordStore, 'findForPage'> },
): Promise<LinkedPerson> {
  const path: LinkedPerson['path'] = [];
  let table = entity;
  let rowId = id.toLowerCase();
  for (let depth = 0; depth < MAX_DEPTH; depth += 1) {
    path.push({ table, id: rowId });
    const declared = deps.config.customEntities.find((e) => e.logicalName === table);
    if (declared === undefined) {
      if (table === 'account') return { personId: null, path, reason: 'account' };
      const found = await deps.people.findForPage([rowId]);
      const person = found.docs.find(
        (doc) => isPerson(doc) && (table === 'lead' ? doc.dynamics.leadId : doc.dynamics.contactId) === rowId,
      );
      return person !== undefined
        ? { personId: person.id, path }
        : { personId: null, path, reason: 'person_not_synced' };
    }
    const parsed = genericRecordSchema.safeParse(await deps.custom.read(rowId));
    if (!parsed.success || parsed.data.entity !== table) return { personId: null, path, reason: 'not_found' };
    const link = parsed.data.values[lookupField(declared.link.column)] as LookupValue | null | undefined;
    if (link === null || link === undefined) return { personId: null, path, reason: 'no_link' };
    table = declared.link.target;
    rowId = link.id.toLowerCase();
  }
  return { personId: null, path, reason: 'too_deep' };
}
