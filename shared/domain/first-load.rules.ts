import type { PersonTable } from './person.values';
import { marketingPersonSchema } from './push.planner';
import type { PersonRecord } from './record.model';

/**
 * Which rows of a first-load page must take the read path (read the stored documents, then write
 * conditionally) instead of being written create-only. A row is marked when one of its document ids
 * is in `ids`; marking a row adds all its ids, so marks spread (transitively) to every row sharing a
 * document with a marked one: a document is then planned from one consistent view, never written
 * by both paths. Returns the marks and the ids they cover; the inputs are not changed.
 */
export function spreadReadPath(
  idsOf: readonly (readonly string[])[],
  marked: readonly boolean[],
  ids: ReadonlySet<string>,
): { marked: boolean[]; ids: Set<string> } {
  const out = idsOf.map((_, i) => marked[i] === true);
  const covered = new Set(ids);
  for (const [i, rowIds] of idsOf.entries()) if (out[i]) for (const id of rowIds) covered.add(id);
  for (let changed = true; changed;) {
    changed = false;
    for (const [i, rowIds] of idsOf.entries()) {
      if (out[i] || !rowIds.some((id) => covered.has(id))) continue;
      out[i] = true;
      for (const id of rowIds) covered.add(id);
      changed = true;
    }
  }
  return { marked: out, ids: covered };
}

/**
 * A stored document registered to hold a row of `table` that is not a valid record yet: a marketing
 * person "sync person to Dynamics" is linking to that row has no Dynamics part until the link is
 * written. It is taken as a record with an empty Dynamics part, so the pulled row joins it as the
 * link would (the caller writes it under the stored _etag). One that already holds a lead or contact
 * is a damaged record, not one awaiting its link: undefined, and it stays reported as invalid.
 */
export function personAwaitingLink(
  raw: Record<string, unknown>,
  table: PersonTable,
  now: string,
): PersonRecord | undefined {
  const person = marketingPersonSchema.safeParse(raw);
  if (!person.success) return undefined;
  const dynamics = person.data.dynamics ?? {};
  if (dynamics.leadId !== undefined || dynamics.contactId !== undefined) return undefined;
  // System properties (_etag, _rid, _ts, ...) are the store's, not part of what is written.
  const stored = Object.fromEntries(Object.entries(person.data).filter(([key]) => !key.startsWith('_')));
  return {
    ...stored,
    // Its role becomes the row's table, as push-create's link would make it.
    type: table,
    dynamics: { ...dynamics },
    sync: { updatedAt: now, agreed: {} },
  } as unknown as PersonRecord;
}
