import { randomUUID } from 'node:crypto';
import { CosmosStoreError } from '../cosmos/cosmos.errors';
import type { FoundDocuments, WriteOutcome } from '../cosmos/record.repository';
import type { SyncErrorInput } from '../cosmos/sync-error.repository';
import type {
  ChangePage,
  ModifiedPage,
  ModifiedSinceOptions,
  ReadChangesOptions,
} from '../dataverse/change-tracking.reader';
import { isDataverseError } from '../dataverse/dataverse.errors';
import {
  afterCatchup,
  afterPage,
  CATCHUP_SKEW_MS,
  catchupSince,
  paused,
  selectChanged,
  startFullLoad,
  type Checkpoint,
} from '../domain/checkpoint.state';
import type { EntityProfile } from '../domain/entity.profile';
import { lookupIdsOf, markUnseen, planPage, type PageInput, type PagePlan } from '../domain/page.planner';
import { marketingPersonSchema } from '../domain/push.planner';
import { isPerson, type PersonRecord, type RecordDocument } from '../domain/record.model';
import type { Logger } from '../telemetry/logger';

/** The delta feed (ChangeTrackingReader satisfies it). */
export interface ChangeSource {
  readChanges(options: ReadChangesOptions): AsyncIterable<ChangePage>;
  queryModifiedSince(options: ModifiedSinceOptions): AsyncIterable<ModifiedPage>;
}

/** The records of the entity's container (RecordRepository satisfies it). */
export interface RecordStore {
  findForPage(ids: readonly string[]): Promise<FoundDocuments>;
  write(docs: readonly RecordDocument[], knownEtags?: ReadonlyMap<string, string>): Promise<WriteOutcome>;
  recordsOf(entity: string): AsyncIterable<FoundDocuments>;
  /** Whether any stored document holds a row of the entity; without it a load never writes create-only. */
  hasRecordsOf?(entity: string): Promise<boolean>;
  /**
   * The person registered to hold each of these rows under another id (people linked from the
   * marketing side; rows without one are absent), or undefined when there is no registry: then
   * people are always read before they are written.
   */
  aliasesOf?(rowIds: readonly string[]): Promise<ReadonlyMap<string, string> | undefined>;
  /** Documents per write call the store prefers (undefined: one call per page). */
  readonly preferredWriteBatch?: number | undefined;
}

export interface CheckpointStore {
  get(entity: string): Promise<Checkpoint | undefined>;
  save(checkpoint: Checkpoint): Promise<Checkpoint>;
}

export interface ErrorSink {
  record(error: SyncErrorInput): Promise<unknown>;
  /**
   * Marks the open errors of these records resolved: a later pull synced the row cleanly (`pull`,
   * the default), or a later push of the person went through (`push`).
   */
  resolve?(
    entity: string,
    recordIds: readonly string[],
    at: string,
    operation?: 'pull' | 'push',
  ): Promise<unknown>;
}

export interface PullDeps {
  source: ChangeSource;
  records: RecordStore;
  checkpoints: CheckpointStore;
  errors: ErrorSink;
  log: Logger;
  /** Wall-clock budget of one job; the pull stops after the page that crosses it. */
  timeBudgetMs: number;
  pageSize?: number;
  catchupSkewMs?: number;
  now?: () => Date;
  newId?: () => string;
  /** Test seam: runs after a page is written and before its checkpoint is saved (crash injection). */
  afterPageWrite?: (info: { phase: Checkpoint['phase']; page: number }) => Promise<void> | void;
}

export interface PullOptions {
  /** Start a new full load (requested resync); an id derived from the job makes a redelivery resume it. */
  resyncLoadId?: string;
  /** Clear a pause (an admin fixed the cause, or asked to try again). */
  resume?: boolean;
  correlationId?: string;
}

export interface PullStats {
  pages: number;
  rows: number;
  deleted: number;
  written: number;
  unchanged: number;
  excluded: number;
  invalid: number;
  conflicts: number;
  retries: number;
  markedDeleted: number;
}

export interface PullResult {
  outcome: 'done' | 'continue' | 'paused';
  phase: Checkpoint['phase'];
  stats: PullStats;
  paused?: NonNullable<Checkpoint['paused']>;
  /** The load was restarted because the delta token expired. */
  resynced: boolean;
}

const MAX_WRITE_ATTEMPTS = 5;

/** Rows mapped between two yields to the event loop on a first load (~10-25 ms of work). */
const PLAN_SLICE_ROWS = 500;

/**
 * Pulls one entity from Dynamics into Cosmos: initial load page by page, a catch-up pass for edits
 * made while it ran, then incremental pulls from the deltaLink. Every page is written before the
 * link that follows it is saved, so a crash anywhere replays at most one page, and replays are
 * harmless because planning against already-written documents yields no writes.
 */
export class PullUseCase {
  private readonly now: () => Date;
  private readonly newId: () => string;
  private readonly stats: PullStats = {
    pages: 0,
    rows: 0,
    deleted: 0,
    written: 0,
    unchanged: 0,
    excluded: 0,
    invalid: 0,
    conflicts: 0,
    retries: 0,
    markedDeleted: 0,
  };
  private deadline = 0;
  private resynced = false;

  constructor(
    private readonly profile: EntityProfile,
    private readonly deps: PullDeps,
  ) {
    this.now = deps.now ?? (() => new Date());
    this.newId = deps.newId ?? randomUUID;
  }

  async run(options: PullOptions = {}): Promise<PullResult> {
    this.deadline = this.now().getTime() + this.deps.timeBudgetMs;
    const entity = this.profile.logicalName;
    let checkpoint = await this.deps.checkpoints.get(entity);
    const select = this.profile.select;
    if (options.resyncLoadId !== undefined && checkpoint?.loadId !== options.resyncLoadId) {
      checkpoint = await this.save(
        startFullLoad(entity, options.resyncLoadId, this.now(), true, select),
        checkpoint,
      );
    }
    if (checkpoint?.paused !== undefined) {
      if (!options.resume) return this.result('paused', checkpoint);
      const { paused: _paused, ...rest } = checkpoint;
      checkpoint = await this.deps.checkpoints.save(rest);
    }
    if (checkpoint !== undefined && selectChanged(checkpoint, select)) {
      // Saved links carry the old $select: new columns would never be read, removed ones still asked for.
      this.deps.log.info('synced columns changed, starting a new full load', { entity });
      checkpoint = await this.save(
        startFullLoad(entity, this.newId(), this.now(), false, select),
        checkpoint,
      );
    }
    if (checkpoint === undefined) {
      // The first load into a store holding none of the entity's rows can skip the read before each
      // write. Checked once here, not per job: later pages of this load meet only its own documents.
      const createOnly = (await this.deps.records.hasRecordsOf?.(entity)) === false;
      checkpoint = await this.deps.checkpoints.save(
        startFullLoad(entity, this.newId(), this.now(), false, select, createOnly),
      );
    }

    try {
      for (;;) {
        if (checkpoint.phase === 'catchup') {
          const done = await this.catchup(checkpoint);
          if (done === undefined) return this.result('continue', checkpoint);
          checkpoint = done;
          continue;
        }
        const link =
          checkpoint.phase === 'initial'
            ? checkpoint.nextLink
            : (checkpoint.nextLink ?? checkpoint.deltaLink);
        if (checkpoint.phase === 'delta' && link === undefined) {
          // A delta checkpoint without a link cannot resume; only a new load can.
          checkpoint = await this.save(
            startFullLoad(entity, this.newId(), this.now(), true, select),
            checkpoint,
          );
          continue;
        }
        let next: Checkpoint;
        try {
          next = await this.follow(checkpoint, link);
        } catch (error) {
          if (isDataverseError(error) && error.code === 'change_tracking_expired' && !this.resynced) {
            // The token outlived the organization's retention: reload everything, then mark what is gone.
            this.deps.log.warn('delta token expired, starting a full resync', { entity });
            this.resynced = true;
            checkpoint = await this.save(
              startFullLoad(entity, this.newId(), this.now(), true, select),
              checkpoint,
            );
            continue;
          }
          throw error;
        }
        const finished =
          checkpoint.phase === 'initial' ? next.phase === 'catchup' : next.nextLink === undefined;
        checkpoint = next;
        if (!finished || this.overBudget()) {
          return this.result(finished && checkpoint.phase === 'delta' ? 'done' : 'continue', checkpoint);
        }
        if (checkpoint.phase === 'delta') return this.result('done', checkpoint);
      }
    } catch (error) {
      const pause = pauseReason(error);
      if (pause === undefined) throw error;
      await this.deps.errors.record({
        entity,
        recordId: pause.column ?? null,
        operation: 'pull',
        direction: 'dynamics-to-marketing',
        code: pause.code,
        message: pause.reason,
        at: this.now().toISOString(),
        ...(options.correlationId !== undefined ? { correlationId: options.correlationId } : {}),
      });
      const latest = (await this.deps.checkpoints.get(entity)) ?? checkpoint;
      const saved = await this.deps.checkpoints.save(paused(latest, pause, this.now()));
      this.deps.log.error('entity paused', { entity, code: pause.code, reason: pause.reason });
      return this.result('paused', saved);
    }
  }

  /** Reads pages from a link (or a fresh load) until the feed ends or the budget is spent. */
  private async follow(checkpoint: Checkpoint, link: string | undefined): Promise<Checkpoint> {
    let current = checkpoint;
    const pages = this.deps.source.readChanges({
      entitySet: this.profile.entitySet,
      select: this.profile.select,
      ...(this.deps.pageSize !== undefined ? { pageSize: this.deps.pageSize } : {}),
      ...(link !== undefined ? { resumeLink: link } : {}),
    });
    // A first load writes page N+1 while page N's write finishes (the bulk executor only notices its
    // calls are done on a one-second poll); each checkpoint still waits for its own page and the one
    // before, so a saved link never skips a page that is not written.
    let pending: { page: ChangePage; number: number; written: Promise<void> } | undefined;
    let started = this.stats.pages;
    const commit = async ({ page, number, written }: NonNullable<typeof pending>) => {
      await written;
      await this.deps.afterPageWrite?.({ phase: current.phase, page: number });
      current = await this.deps.checkpoints.save(afterPage(current, page, this.now()));
    };
    try {
      for await (const page of pages) {
        if (current.phase === 'initial' && current.createOnly === true && !current.resync) {
          const written = this.writeFirstLoadPage({ rows: page.rows, deleted: page.deleted });
          // Observed by commit(); this keeps a failure from being unhandled while the previous page commits.
          written.catch(() => undefined);
          const previous = pending;
          started += 1;
          pending = { page, number: started, written };
          if (previous !== undefined) await commit(previous);
        } else {
          if (pending !== undefined) await commit(pending);
          pending = undefined;
          // Only a resync stamps rows as seen (it costs a write per unchanged row); its end marks the unseen deleted.
          const loadId = current.phase === 'initial' && current.resync ? current.loadId : undefined;
          await this.writePage({ rows: page.rows, deleted: page.deleted }, loadId);
          await this.deps.afterPageWrite?.({ phase: current.phase, page: this.stats.pages });
          current = await this.deps.checkpoints.save(afterPage(current, page, this.now()));
        }
        if (page.nextLink !== undefined && this.overBudget()) break;
      }
      if (pending !== undefined) await commit(pending);
      pending = undefined;
    } finally {
      // A failure leaves no write running behind the job's back: its retry must not race it.
      if (pending !== undefined) await pending.written.catch(() => undefined);
    }
    return current;
  }

  /**
   * Re-reads rows modified since the load started (minus clock skew): Dynamics issues the deltaLink
   * only at the end of a load, so edits to rows already paged past would otherwise be lost.
   * Returns undefined when the budget ran out (the pass restarts next time; it is idempotent).
   */
  private async catchup(checkpoint: Checkpoint): Promise<Checkpoint | undefined> {
    const since = catchupSince(checkpoint, this.deps.catchupSkewMs ?? CATCHUP_SKEW_MS);
    const select = this.profile.select.filter((column) => column !== 'modifiedon');
    for await (const page of this.deps.source.queryModifiedSince({
      entitySet: this.profile.entitySet,
      select,
      since,
      keyColumn: this.profile.key,
      ...(this.deps.pageSize !== undefined ? { pageSize: this.deps.pageSize } : {}),
    })) {
      await this.writePage(
        { rows: page.rows, deleted: [] },
        checkpoint.resync ? checkpoint.loadId : undefined,
      );
      if (page.nextLink !== undefined && this.overBudget()) return undefined;
    }
    if (checkpoint.resync && checkpoint.loadId !== undefined) await this.reconcile(checkpoint.loadId);
    return this.deps.checkpoints.save(afterCatchup(checkpoint, this.now()));
  }

  /** After a resync: records the load did not see were deleted while the token was expired. */
  private async reconcile(loadId: string): Promise<void> {
    const now = this.now().toISOString();
    for await (const found of this.deps.records.recordsOf(this.profile.logicalName)) {
      let docs = found.docs;
      for (let attempt = 1; ; attempt += 1) {
        const updates = docs.flatMap((doc) => markUnseen(this.profile, doc, loadId, now) ?? []);
        const outcome = await this.deps.records.write(updates);
        this.stats.markedDeleted += outcome.written;
        if (outcome.conflicts.length === 0) break;
        if (attempt >= MAX_WRITE_ATTEMPTS) throw this.tooManyConflicts(outcome.conflicts);
        docs = (await this.deps.records.findForPage(outcome.conflicts)).docs;
      }
    }
  }

  /**
   * A page of a first load: planned against no stored documents and written create-only. Rows whose
   * documents turn out to exist (a replay after a crash, a lead's person that a contact joins), rows
   * held by a person under another id, and tombstones take the read path; so do rows sharing a
   * document id with one of those, so each document is planned from one consistent view.
   */
  private async writeFirstLoadPage(page: PageInput): Promise<void> {
    const idsOf = page.rows.map((row) => lookupIdsOf(this.profile, { rows: [row], deleted: [] }));
    const registered =
      this.profile.kind === 'person' ? await this.deps.records.aliasesOf?.(idsOf.flat()) : new Map();
    if (registered === undefined) return this.writePage(page, undefined);
    const aliased: ReadonlySet<string> = new Set(registered.keys());
    const now = this.now().toISOString();
    const slow = idsOf.map((ids) => ids.some((id) => aliased.has(id)));
    const slowIds = new Set(page.deleted.map((tombstone) => tombstone.id.toLowerCase()));
    spread(idsOf, slow, slowIds);
    const fastRows = page.rows.filter((_, i) => !slow[i]);
    // Planned in slices with a yield between them, so the read-ahead of the next page keeps streaming
    // in while this one is mapped; a store that prefers smaller calls gets each batch as soon as it
    // is planned, and the next one is planned while those writes are in flight.
    const batch = Math.max(1, this.deps.records.preferredWriteBatch ?? fastRows.length);
    const slice = Math.min(batch, PLAN_SLICE_ROWS);
    let plans: PagePlan[] = [];
    const writes: Promise<WriteOutcome | { failed: unknown }>[] = [];
    let ready: RecordDocument[] = [];
    for (let start = 0; start < fastRows.length; start += slice) {
      if (start > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      const plan = planPage(this.profile, { rows: fastRows.slice(start, start + slice), deleted: [] }, [], {
        now,
      });
      plans.push(plan);
      ready = ready.length === 0 ? plan.writes : ready.concat(plan.writes);
      if (ready.length >= batch || start + slice >= fastRows.length) {
        // Caught at once: a batch failing while later ones are planned must not be an unhandled rejection.
        writes.push(this.writeCreates(ready, aliased).catch((failed: unknown) => ({ failed })));
        ready = [];
      }
    }
    const outcome: WriteOutcome = { written: 0, conflicts: [] };
    for (const result of await Promise.all(writes)) {
      if ('failed' in result) throw result.failed;
      outcome.written += result.written;
      outcome.conflicts.push(...result.conflicts);
    }
    this.stats.written += outcome.written;
    if (outcome.conflicts.length > 0) {
      this.stats.retries += 1;
      const before = slow.filter(Boolean).length;
      spread(idsOf, slow, new Set([...slowIds, ...outcome.conflicts]));
      if (slow.filter(Boolean).length === before) throw this.tooManyConflicts(outcome.conflicts);
      // Rows, errors and counts of the rows that stay on this path; the read path reports its own.
      plans = [
        planPage(this.profile, { rows: page.rows.filter((_, i) => !slow[i]), deleted: [] }, [], { now }),
      ];
    }
    for (const plan of plans) await this.settle(plan, now);
    await this.resolveErrors(
      plans.flatMap((plan) => plan.synced),
      now,
    );
    const slowRows = page.rows.filter((_, i) => slow[i]);
    if (slowRows.length === 0 && page.deleted.length === 0) {
      this.stats.pages += 1;
      return;
    }
    await this.writePage({ rows: slowRows, deleted: page.deleted }, undefined);
  }

  /**
   * One batch of a first-load page, written create-only after asking the alias registry once more
   * about exactly these rows: one registered since the page's check (push-create linking a person to
   * an existing row) would otherwise become a second person. Such documents are not written; they
   * come back as conflicts, so their rows take the read path, which puts them into that person.
   */
  private async writeCreates(docs: RecordDocument[], checked: ReadonlySet<string>): Promise<WriteOutcome> {
    if (this.profile.kind !== 'person' || this.deps.records.aliasesOf === undefined) {
      return this.deps.records.write(docs);
    }
    const rowIdsOf = (doc: RecordDocument): string[] =>
      isPerson(doc)
        ? [doc.dynamics.leadId, doc.dynamics.contactId].filter((id): id is string => id !== undefined)
        : [doc.id];
    const registered = (await this.deps.records.aliasesOf(docs.flatMap(rowIdsOf))) ?? new Map();
    const late = (doc: RecordDocument) => rowIdsOf(doc).some((id) => registered.has(id) && !checked.has(id));
    const held = docs.filter(late);
    if (held.length === 0) return this.deps.records.write(docs);
    const rest = docs.filter((doc) => !late(doc));
    const outcome = rest.length > 0 ? await this.deps.records.write(rest) : { written: 0, conflicts: [] };
    return { written: outcome.written, conflicts: [...outcome.conflicts, ...held.map((doc) => doc.id)] };
  }

  /** Plans and writes one page, re-planning documents someone else changed meanwhile. */
  private async writePage(page: PageInput, loadId: string | undefined): Promise<void> {
    const ids = lookupIdsOf(this.profile, page);
    const now = this.now().toISOString();
    for (let attempt = 1; ; attempt += 1) {
      // Rows registered to a person that does not hold them yet: that person is read too, and the
      // row goes into it (push-create registers, then links; a pull in between must not add a person).
      const aliases = this.profile.kind === 'person' ? await this.deps.records.aliasesOf?.(ids) : undefined;
      const lookup =
        aliases !== undefined && aliases.size > 0 ? [...new Set([...ids, ...aliases.values()])] : ids;
      const found = await this.deps.records.findForPage(lookup);
      const knownEtags = new Map<string, string>();
      const awaiting = this.awaitingLink(found.invalid, aliases, now);
      for (const bad of found.invalid) {
        if (bad.etag !== undefined) knownEtags.set(bad.id, bad.etag);
        if (attempt === 1 && !awaiting.has(bad.id)) {
          await this.deps.errors.record({
            entity: this.profile.logicalName,
            recordId: bad.id,
            operation: 'pull',
            direction: 'dynamics-to-marketing',
            code: 'invalid_document',
            message: `stored document failed validation and is replaced by the Dynamics version: ${bad.message}`,
            at: now,
          });
        }
      }
      const docs = awaiting.size > 0 ? [...found.docs, ...awaiting.values()] : found.docs;
      const plan = planPage(this.profile, page, docs, {
        now,
        ...(loadId !== undefined ? { loadId } : {}),
        ...(aliases !== undefined && aliases.size > 0 ? { aliases } : {}),
      });
      const outcome = await this.deps.records.write(plan.writes, knownEtags);
      this.stats.written += outcome.written;
      if (outcome.conflicts.length > 0) {
        this.stats.retries += 1;
        if (attempt >= MAX_WRITE_ATTEMPTS) throw this.tooManyConflicts(outcome.conflicts);
        continue;
      }
      await this.settle(plan, now);
      await this.resolveErrors(plan.synced, now);
      this.stats.pages += 1;
      return;
    }
  }

  /** After the page's writes: errors of rows that now synced cleanly are over (one query a page). */
  private async resolveErrors(rowIds: readonly string[], now: string): Promise<void> {
    if (rowIds.length === 0 || this.deps.errors.resolve === undefined) return;
    await this.deps.errors.resolve(this.profile.logicalName, rowIds, now);
  }

  /**
   * Registered persons that are not records yet: a marketing person push-create is linking to a row
   * of this page has no Dynamics part until the link is written. As a record with an empty Dynamics
   * part the row joins it as the link would (written under the person's _etag, so a link written
   * meanwhile makes this a conflict and a re-plan); anything else stays an invalid document.
   */
  private awaitingLink(
    invalid: readonly { id: string; raw?: Record<string, unknown> }[],
    aliases: ReadonlyMap<string, string> | undefined,
    now: string,
  ): Map<string, PersonRecord> {
    const out = new Map<string, PersonRecord>();
    if (aliases === undefined || aliases.size === 0 || invalid.length === 0) return out;
    const registered = new Set(aliases.values());
    for (const bad of invalid) {
      if (!registered.has(bad.id) || bad.raw === undefined) continue;
      const person = marketingPersonSchema.safeParse(bad.raw);
      // One that already holds a lead or contact is a damaged record, reported as such, not a new one.
      const holds = person.success && (person.data.dynamics?.leadId ?? person.data.dynamics?.contactId);
      if (!person.success || holds !== undefined) continue;
      // System properties (_etag, _rid, _ts, ...) are the store's, not part of what is written.
      const stored = Object.fromEntries(Object.entries(person.data).filter(([key]) => !key.startsWith('_')));
      out.set(bad.id, {
        ...stored,
        // Its role becomes the row's table, as push-create's link would make it.
        type: this.profile.logicalName as 'lead' | 'contact',
        dynamics: { ...(person.data.dynamics ?? {}) },
        sync: { updatedAt: now, agreed: {} },
      } as unknown as PersonRecord);
    }
    return out;
  }

  /** Error records are part of the page: written before the checkpoint moves past it. */
  private async settle(plan: PagePlan, now: string): Promise<void> {
    for (const error of plan.errors) {
      await this.deps.errors.record({
        entity: this.profile.logicalName,
        recordId: error.id,
        operation: 'pull',
        direction: 'dynamics-to-marketing',
        code: error.code,
        message: error.message,
        excerpt: error.excerpt,
        at: now,
      });
    }
    this.stats.rows += plan.stats.rows;
    this.stats.deleted += plan.stats.deleted;
    this.stats.unchanged += plan.stats.unchanged;
    this.stats.excluded += plan.stats.excluded;
    this.stats.invalid += plan.stats.invalid;
    this.stats.conflicts += plan.stats.conflicts;
  }

  private async save(next: Checkpoint, previous: Checkpoint | undefined): Promise<Checkpoint> {
    // Keep the stored _etag so the guarded save still detects a concurrent writer.
    const base = previous?._etag !== undefined ? { ...next, _etag: previous._etag } : next;
    return this.deps.checkpoints.save(base);
  }

  private overBudget(): boolean {
    return this.now().getTime() >= this.deadline;
  }

  private tooManyConflicts(ids: readonly string[]): CosmosStoreError {
    return new CosmosStoreError(
      'precondition_failed',
      `records kept changing while being written (${ids.slice(0, 5).join(', ')}); the job is retried`,
      { retryable: true },
    );
  }

  private result(outcome: PullResult['outcome'], checkpoint: Checkpoint): PullResult {
    return {
      outcome: checkpoint.paused !== undefined ? 'paused' : outcome,
      phase: checkpoint.phase,
      stats: { ...this.stats },
      ...(checkpoint.paused !== undefined ? { paused: checkpoint.paused } : {}),
      resynced: this.resynced,
    };
  }
}

/**
 * Marks every row sharing a document id with a marked row (transitively), adding its ids to `ids`:
 * a row's documents are always among its lookup ids, so unmarked rows touch none of the marked ones.
 */
function spread(idsOf: readonly string[][], marked: boolean[], ids: Set<string>): void {
  for (const [i, rowIds] of idsOf.entries()) if (marked[i]) for (const id of rowIds) ids.add(id);
  for (let changed = true; changed;) {
    changed = false;
    for (const [i, rowIds] of idsOf.entries()) {
      if (marked[i] || !rowIds.some((id) => ids.has(id))) continue;
      marked[i] = true;
      for (const id of rowIds) ids.add(id);
      changed = true;
    }
  }
}

/** Errors that need an admin (schema drift, tracking switched off): pause this entity, not the others. */
function pauseReason(error: unknown): { code: string; reason: string; column?: string } | undefined {
  if (!isDataverseError(error)) return undefined;
  if (error.code === 'unknown_column') {
    const column = error.column;
    const table = error.entity;
    return {
      code: 'unknown_column',
      reason: `column "${column ?? '?'}" of ${table ?? 'the table'} no longer exists in Dynamics; remove it from the sync or restore it, then resume: ${error.message}`,
      ...(column !== undefined ? { column } : {}),
    };
  }
  if (error.code === 'change_tracking_disabled') {
    return {
      code: 'change_tracking_disabled',
      reason: `change tracking is off for this table: ${error.message}`,
    };
  }
  return undefined;
}
