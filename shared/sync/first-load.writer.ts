import { CosmosStoreError } from '../cosmos/cosmos.errors';
import { spreadReadPath } from '../domain/first-load.rules';
import type { EntityProfile } from '../domain/entity.profile';
import type { Owner } from '../domain/document.schema';
import {
  lookupIdsOf,
  planPage,
  type PageInput,
  type PagePlan,
  type PlanContext,
} from '../domain/page.planner';
import { PageTally } from '../domain/page.tally';
import { isPerson, type RecordDocument } from '../domain/record.model';
import type { RecordStore, WriteOutcome } from './ports';

/** Rows mapped between two yields to the event loop (~10-25 ms of work). */
const PLAN_SLICE_ROWS = 500;

/** What the writer hands back to the pull that owns the page. */
export interface FirstLoadPageOwner {
  /** Writes documents (counted as the pull's writes). */
  write(docs: readonly RecordDocument[]): Promise<WriteOutcome>;
  /** Records the plans' row errors and counts, and resolves errors of rows that synced cleanly. */
  settle(plans: readonly PagePlan[]): Promise<void>;
  /** The ordinary path: read the stored documents, plan against them, write conditionally; its rows go in `tally`. */
  readPath(page: PageInput, tally: PageTally): Promise<void>;
  /** The page's rows, counted once each whichever path they took. */
  counted(tally: PageTally): void;
  /** A batch lost a race and its rows moved to the read path. */
  retried(): void;
}

/**
 * A page of a first load into a store holding none of the entity's rows: planned against no stored
 * documents and written create-only, with no read before the write. Rows whose documents turn out
 * to exist (a replay after a crash, a lead's person that a contact joins), rows held by a person
 * under another id, and tombstones take the read path; so do rows sharing a document id with one of
 * those (spreadReadPath), so each document is planned from one consistent view.
 */
export class FirstLoadWriter {
  constructor(
    private readonly profile: EntityProfile,
    private readonly records: RecordStore,
    private readonly owner: FirstLoadPageOwner,
  ) {}

  /** `owners`: the directory's entries for the owners the rows name (see PlanContext). */
  async writePage(page: PageInput, now: string, owners?: ReadonlyMap<string, Owner>): Promise<void> {
    const ctx = { now, ...(owners !== undefined ? { owners } : {}) };
    const idsOf = page.rows.map((row) => lookupIdsOf(this.profile, { rows: [row], deleted: [] }));
    const registered =
      this.profile.kind === 'person' ? await this.records.aliasesOf(idsOf.flat()) : new Map<string, string>();
    const aliased: ReadonlySet<string> = new Set(registered.keys());
    let split = spreadReadPath(
      idsOf,
      idsOf.map((ids) => ids.some((id) => aliased.has(id))),
      new Set(page.deleted.map((tombstone) => tombstone.id.toLowerCase())),
    );
    const fastRows = page.rows.filter((_, i) => !split.marked[i]);
    const written = await this.planAndWrite(fastRows, aliased, ctx);
    let plans = written.plans;
    const conflicts = written.conflicts;
    // One tally for both paths: a row created here and then moved to the read path (it shares a
    // document with a row that lost its race) is written, not unchanged there.
    const tally = new PageTally();
    for (const plan of plans) tally.stored(plan, conflicts);
    if (conflicts.length > 0) {
      this.owner.retried();
      const before = split.marked.filter(Boolean).length;
      split = spreadReadPath(idsOf, split.marked, new Set([...split.ids, ...conflicts]));
      if (split.marked.filter(Boolean).length === before) throw keptChanging(conflicts);
      // Rows, errors and counts of the rows that stay on this path; the read path reports its own.
      plans = [
        planPage(this.profile, { rows: page.rows.filter((_, i) => !split.marked[i]), deleted: [] }, [], ctx),
      ];
    }
    await this.owner.settle(plans);
    const slowRows = page.rows.filter((_, i) => split.marked[i]);
    if (slowRows.length > 0 || page.deleted.length > 0) {
      await this.owner.readPath({ rows: slowRows, deleted: page.deleted }, tally);
    }
    this.owner.counted(tally);
  }

  /**
   * Plans in slices with a yield between them, so the read-ahead of the next page keeps streaming in
   * while this one is mapped; a store that prefers smaller calls gets each batch as soon as it is
   * planned, and the next one is planned while those writes are in flight.
   */
  private async planAndWrite(
    rows: readonly unknown[],
    checked: ReadonlySet<string>,
    ctx: PlanContext,
  ): Promise<{ plans: PagePlan[]; conflicts: string[] }> {
    const batch = Math.max(1, this.records.preferredWriteBatch ?? rows.length);
    const slice = Math.min(batch, PLAN_SLICE_ROWS);
    const plans: PagePlan[] = [];
    const writes: Promise<WriteOutcome | { failed: unknown }>[] = [];
    let ready: RecordDocument[] = [];
    for (let start = 0; start < rows.length; start += slice) {
      if (start > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      const plan = planPage(this.profile, { rows: rows.slice(start, start + slice), deleted: [] }, [], ctx);
      plans.push(plan);
      ready = ready.length === 0 ? plan.writes : ready.concat(plan.writes);
      if (ready.length >= batch || start + slice >= rows.length) {
        // Caught at once: a batch failing while later ones are planned must not be an unhandled rejection.
        writes.push(this.writeCreates(ready, checked).catch((failed: unknown) => ({ failed })));
        ready = [];
      }
    }
    const conflicts: string[] = [];
    for (const result of await Promise.all(writes)) {
      if ('failed' in result) throw result.failed;
      conflicts.push(...result.conflicts);
    }
    return { plans, conflicts };
  }

  /**
   * One batch, written create-only after asking the alias registry once more about exactly these
   * rows: one registered since the page's check (push-create linking a person to an existing row)
   * would otherwise become a second person. Such documents are not written; they come back as
   * conflicts, so their rows take the read path, which puts them into that person.
   */
  private async writeCreates(docs: RecordDocument[], checked: ReadonlySet<string>): Promise<WriteOutcome> {
    if (this.profile.kind !== 'person') return this.owner.write(docs);
    const rowIdsOf = (doc: RecordDocument): string[] =>
      isPerson(doc)
        ? [doc.dynamics.leadId, doc.dynamics.contactId].filter((id): id is string => id !== undefined)
        : [doc.id];
    const registered = await this.records.aliasesOf(docs.flatMap(rowIdsOf));
    const late = (doc: RecordDocument) => rowIdsOf(doc).some((id) => registered.has(id) && !checked.has(id));
    const held = docs.filter(late);
    if (held.length === 0) return this.owner.write(docs);
    const rest = docs.filter((doc) => !late(doc));
    const outcome = rest.length > 0 ? await this.owner.write(rest) : { written: 0, conflicts: [] };
    return { written: outcome.written, conflicts: [...outcome.conflicts, ...held.map((doc) => doc.id)] };
  }
}

/** Writes kept losing races to other writers: the job fails and its redelivery re-plans from what is stored. */
export function keptChanging(ids: readonly string[]): CosmosStoreError {
  return new CosmosStoreError(
    'precondition_failed',
    `records kept changing while being written (${ids.slice(0, 5).join(', ')}); the job is retried`,
    { retryable: true },
  );
}
