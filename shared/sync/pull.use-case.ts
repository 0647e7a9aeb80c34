import { randomUUID } from 'node:crypto';
import { isDataverseError } from '../dataverse/dataverse.errors';
import {
  afterCatchup,
  afterPage,
  CATCHUP_SKEW_MS,
  catchupSince,
  organizationChanged,
  organizationChangedPause,
  ORGANIZATION_CHANGED,
  paused,
  selectChanged,
  startFullLoad,
  withParallelLoad,
  type Checkpoint,
} from '../domain/checkpoint.state';
import type { EntityProfile } from '../domain/entity.profile';
import { personAwaitingLink } from '../domain/first-load.rules';
import { lookupIdsOf, markUnseen, planPage, type PageInput, type PagePlan } from '../domain/page.planner';
import { PageTally } from '../domain/page.tally';
import type { DirectoryOwner } from '../domain/owner.rules';
import { isForgotten, type PersonTable } from '../domain/person.values';
import { isPerson, type PersonRecord, type RecordDocument } from '../domain/record.model';
import type { SyncErrorInput } from '../domain/sync-error.model';
import type { Logger } from '../telemetry/logger';
import { FirstLoadWriter, keptChanging } from './first-load.writer';
import { ParallelLoadRunner, type ParallelLoadSettings } from './parallel-load.runner';
import type {
  ChangePage,
  ChangeSource,
  CheckpointStore,
  ErrorSink,
  InvalidDocument,
  OrganizationIdentity,
  OwnerDirectory,
  PeopleQueries,
  PullObserver,
  RecordStore,
  WriteOutcome,
} from './ports';

export interface PullDeps {
  source: ChangeSource;
  records: RecordStore;
  checkpoints: CheckpointStore;
  errors: ErrorSink;
  log: Logger;
  /**
   * The organisation answering (WhoAmI), checked against the checkpoint at the start and the end of
   * every job; absent, nothing is checked (unit tests over a fake feed).
   */
  organization?: OrganizationIdentity;
  /** The directory: every record keeps its owner's name and email from it. */
  owners?: OwnerDirectory;
  /** People by email: a rebaseline matches rows with unknown ids to people by email. */
  people?: Pick<PeopleQueries, 'byEmail'>;
  /** Told of every page read, write and error as the pull goes (IGNORE_PROGRESS when nobody watches). */
  observer: PullObserver;
  /** Wall-clock budget of one job; the pull stops after the page that crosses it. */
  timeBudgetMs: number;
  pageSize?: number;
  catchupSkewMs?: number;
  now?: () => Date;
  newId?: () => string;
  /**
   * A new full load reads the table in parallel createdon ranges after a keys-only tracked read
   * (docs/initial-load.md); absent: one tracked chain of full pages. A load already running goes on
   * the way it started.
   */
  parallel?: ParallelLoadSettings;
  /** Test seam: runs after a page is written and before its checkpoint is saved (crash injection). */
  afterPageWrite?: (info: { phase: Checkpoint['phase']; page: number }) => Promise<void> | void;
  /**
   * Runs after each page is written and before its checkpoint moves, with the ids of the page's rows
   * (read or deleted): what is worked out from them (memberships, roles) is part of the page, so a
   * replayed page works it out again.
   */
  afterPage?: (rowIds: readonly string[]) => Promise<void>;
}

export interface PullOptions {
  /** Read exactly these rows again by id, through the ordinary write path (an operator's retry). */
  reread?: readonly string[];
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

/** Stats of a pull that has done nothing yet. */
export const noPullStats = (): PullStats => ({
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
});

export interface PullResult {
  outcome: 'done' | 'continue' | 'paused';
  phase: Checkpoint['phase'];
  stats: PullStats;
  paused?: NonNullable<Checkpoint['paused']>;
  /** The load was restarted because the delta token expired. */
  resynced: boolean;
}

const MAX_WRITE_ATTEMPTS = 5;

/**
 * Pulls one entity from Dynamics into Cosmos: initial load page by page, a catch-up pass for edits
 * made while it ran, then incremental pulls from the deltaLink. Every page is written before the
 * link that follows it is saved, so a crash anywhere replays at most one page, and replays are
 * harmless because planning against already-written documents yields no writes.
 */
export class PullUseCase {
  private readonly now: () => Date;
  private readonly newId: () => string;
  private readonly stats: PullStats = noPullStats();
  private deadline = 0;
  private resynced = false;
  /** The organisation answering at the start of this job. */
  private organization: string | undefined;
  /** The running load is a rebaseline: rows with ids nobody holds are matched to people by email. */
  private rebaselining: { loadId: string } | undefined;
  private readonly firstLoad: FirstLoadWriter;

  constructor(
    private readonly profile: EntityProfile,
    private readonly deps: PullDeps,
  ) {
    this.now = deps.now ?? (() => new Date());
    this.newId = deps.newId ?? randomUUID;
    this.firstLoad = new FirstLoadWriter(profile, deps.records, {
      write: (docs) => this.write(docs),
      settle: async (plans) => {
        const now = this.now().toISOString();
        for (const plan of plans) await this.settle(plan, now);
        await this.resolveErrors(
          plans.flatMap((plan) => plan.synced),
          now,
        );
        await this.deps.afterPage?.(plans.flatMap((plan) => plan.synced));
      },
      readPath: (page, tally) => this.writePage(page, undefined, tally),
      counted: (tally) => this.counted(tally),
      retried: () => {
        this.stats.retries += 1;
      },
    });
  }

  async run(options: PullOptions = {}): Promise<PullResult> {
    this.deadline = this.now().getTime() + this.deps.timeBudgetMs;
    const entity = this.profile.logicalName;
    let checkpoint = await this.deps.checkpoints.get(entity);
    if (options.reread !== undefined) return this.reread(options.reread, checkpoint);
    const select = this.profile.select;
    if (options.resyncLoadId !== undefined && checkpoint?.loadId !== options.resyncLoadId) {
      checkpoint = await this.save(
        this.keepOrganization(
          startFullLoad(entity, options.resyncLoadId, this.now(), true, select),
          checkpoint,
        ),
        checkpoint,
      );
    }
    if (checkpoint?.paused !== undefined && !options.resume) return this.result('paused', checkpoint);
    if (this.deps.organization !== undefined) {
      this.organization = await this.deps.organization.organizationId();
      if (checkpoint !== undefined && organizationChanged(checkpoint, this.organization)) {
        // Only a rebaseline (a new checkpoint) leaves this pause: a resume would follow the old links.
        return this.pauseForOrganization(checkpoint, options.correlationId);
      }
    }
    if (checkpoint?.paused !== undefined) {
      const { paused: _paused, ...rest } = checkpoint;
      checkpoint = await this.deps.checkpoints.save(rest);
    }
    if (
      checkpoint !== undefined &&
      this.organization !== undefined &&
      checkpoint.organizationId === undefined
    ) {
      // Written before organisations were kept, or a rebaseline that starts now: this is its organisation.
      checkpoint = await this.deps.checkpoints.save({ ...checkpoint, organizationId: this.organization });
    }
    if (checkpoint !== undefined && selectChanged(checkpoint, select)) {
      // Saved links carry the old $select: new columns would never be read, removed ones still asked for.
      this.deps.log.info('synced columns changed, starting a new full load', { entity });
      checkpoint = await this.save(
        this.keepOrganization(startFullLoad(entity, this.newId(), this.now(), false, select), checkpoint),
        checkpoint,
      );
    }
    if (checkpoint === undefined) {
      // The first load into a store holding none of the entity's rows can skip the read before each
      // write. Checked once here, not per job: later pages of this load meet only its own documents.
      const createOnly = !(await this.deps.records.hasRecordsOf(entity));
      checkpoint = await this.deps.checkpoints.save(
        this.stamped(startFullLoad(entity, this.newId(), this.now(), false, select, createOnly)),
      );
    }
    this.rebaselining =
      checkpoint.rebaseline === true && checkpoint.loadId !== undefined
        ? { loadId: checkpoint.loadId }
        : undefined;

    try {
      const result = await this.load(checkpoint, select);
      return await this.stillSameOrganization(result, options.correlationId);
    } catch (error) {
      const pause = pauseReason(error);
      if (pause === undefined) throw error;
      await this.recordError({
        recordId: pause.column ?? null,
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

  /** Follows the feed from the checkpoint until it is caught up or the job's budget is spent. */
  private async load(start: Checkpoint, select: string[]): Promise<PullResult> {
    const entity = this.profile.logicalName;
    let checkpoint = start;
    {
      for (;;) {
        if (
          checkpoint.phase === 'initial' &&
          checkpoint.parallel === undefined &&
          checkpoint.nextLink === undefined &&
          this.deps.parallel !== undefined
        ) {
          // A load that has read nothing yet, whatever started it (first load, resync, expired token).
          checkpoint = await this.deps.checkpoints.save(withParallelLoad(checkpoint));
        }
        if (checkpoint.phase === 'initial' && checkpoint.parallel !== undefined) {
          const loaded = await this.parallelLoad(checkpoint);
          if (loaded === undefined) {
            return this.result('continue', (await this.deps.checkpoints.get(entity)) ?? checkpoint);
          }
          checkpoint = loaded;
          if (this.overBudget()) return this.result('done', checkpoint);
          continue;
        }
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
            this.keepOrganization(startFullLoad(entity, this.newId(), this.now(), true, select), checkpoint),
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
              this.keepOrganization(
                startFullLoad(entity, this.newId(), this.now(), true, select),
                checkpoint,
              ),
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
    }
  }

  /**
   * The organisation may change while a job runs (a refresh mid-load): checked again at its end, so
   * the job that read from the new one pauses instead of handing its links to the next job.
   */
  private async stillSameOrganization(
    result: PullResult,
    correlationId: string | undefined,
  ): Promise<PullResult> {
    if (this.deps.organization === undefined || this.organization === undefined) return result;
    if (result.outcome === 'paused') return result;
    const now = await this.deps.organization.organizationId();
    if (now.toLowerCase() === this.organization.toLowerCase()) return result;
    const latest = await this.deps.checkpoints.get(this.profile.logicalName);
    if (latest === undefined) return result;
    this.organization = now;
    return this.pauseForOrganization(latest, correlationId);
  }

  /** Pauses the entity with an error that says the organisation changed and what to run. */
  private async pauseForOrganization(
    checkpoint: Checkpoint,
    correlationId: string | undefined,
  ): Promise<PullResult> {
    const current = this.organization ?? '?';
    const pause = organizationChangedPause(checkpoint.organizationId ?? '?', current);
    if (checkpoint.paused?.code === ORGANIZATION_CHANGED) return this.result('paused', checkpoint);
    await this.recordError({
      recordId: null,
      code: pause.code,
      message: pause.reason,
      at: this.now().toISOString(),
      ...(correlationId !== undefined ? { correlationId } : {}),
    });
    const saved = await this.deps.checkpoints.save(paused(checkpoint, pause, this.now()));
    this.deps.log.error('entity paused: the Dynamics organisation changed', {
      entity: this.profile.logicalName,
      stored: checkpoint.organizationId,
      current,
    });
    return this.result('paused', saved);
  }

  /** A new checkpoint of this job's organisation. */
  private stamped(checkpoint: Checkpoint): Checkpoint {
    return this.organization !== undefined
      ? { ...checkpoint, organizationId: this.organization }
      : checkpoint;
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
      this.stats.pages += 1;
      await this.deps.afterPageWrite?.({ phase: current.phase, page: number });
      current = await this.deps.checkpoints.save(afterPage(current, page, this.now()));
    };
    try {
      for await (const page of pages) {
        this.deps.observer.pageRead(this.profile.logicalName, page.rows.length + page.deleted.length);
        if (current.phase === 'initial' && current.createOnly === true && !current.resync) {
          const now = this.now().toISOString();
          const written = this.ownersOf(page).then((owners) =>
            this.firstLoad.writePage({ rows: page.rows, deleted: page.deleted }, now, owners),
          );
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
          // Links made by a parallel load name changed rows by key only: those are read again by id.
          const input =
            current.tracking === 'keys'
              ? await this.rowsOfKeys(page)
              : { rows: page.rows, deleted: page.deleted };
          await this.writePage(input, loadId);
          this.stats.pages += 1;
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
   * Runs (or resumes) a parallel load; returns its final checkpoint, or undefined when the job's
   * budget ran out first (the continuation resumes it from the saved progress).
   */
  private async parallelLoad(checkpoint: Checkpoint): Promise<Checkpoint | undefined> {
    const runner = new ParallelLoadRunner(
      {
        profile: this.profile,
        source: this.deps.source,
        checkpoints: this.deps.checkpoints,
        log: this.deps.log,
        observer: this.deps.observer,
        pageSize: this.deps.pageSize,
        now: this.now,
        writeRows: (rows, current) => this.writeLoadRows(rows, current),
        overBudget: () => this.overBudget(),
        ...(this.deps.afterPageWrite !== undefined ? { afterPageWrite: this.deps.afterPageWrite } : {}),
      },
      this.deps.parallel ?? { concurrency: 1 },
      checkpoint,
    );
    const { checkpoint: loaded, finished } = await runner.run();
    if (!finished) return undefined;
    if (loaded.resync && loaded.loadId !== undefined) await this.reconcile(loaded.loadId);
    return this.deps.checkpoints.save(runner.finish(loaded));
  }

  /** A range's page of a parallel load, written as a page of the sequential load would be. */
  private async writeLoadRows(rows: Record<string, unknown>[], checkpoint: Checkpoint): Promise<void> {
    if (checkpoint.createOnly === true && !checkpoint.resync) {
      await this.firstLoad.writePage({ rows, deleted: [] }, this.now().toISOString());
    } else {
      await this.writePage({ rows, deleted: [] }, checkpoint.resync ? checkpoint.loadId : undefined);
    }
    this.stats.pages += 1;
  }

  /**
   * A keys-only delta page as rows: the changed rows read again by id with the synced columns
   * (fifty a request: the price of the parallel load, paid on every delta); a changed row that is
   * gone by now is taken as deleted, as its tombstone will say in the next delta.
   */
  private async rowsOfKeys(page: ChangePage): Promise<PageInput> {
    const key = this.profile.key;
    const ids = page.rows.flatMap((row) => (typeof row[key] === 'string' ? [row[key].toLowerCase()] : []));
    const rows: Record<string, unknown>[] = [];
    const seen = new Set<string>();
    if (ids.length > 0) {
      for await (const found of this.deps.source.readRows({
        entitySet: this.profile.entitySet,
        select: this.profile.select,
        keyColumn: key,
        ids,
      })) {
        this.deps.observer.pageRead(this.profile.logicalName, 0);
        for (const row of found.rows) {
          const id = row[key];
          if (typeof id === 'string') seen.add(id.toLowerCase());
          rows.push(row);
        }
      }
    }
    const gone = ids.filter((id) => !seen.has(id)).map((id) => ({ id }));
    return { rows, deleted: [...page.deleted, ...gone] };
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
      this.deps.observer.pageRead(this.profile.logicalName, page.rows.length);
      await this.writePage(
        { rows: page.rows, deleted: [] },
        checkpoint.resync ? checkpoint.loadId : undefined,
      );
      this.stats.pages += 1;
      if (page.nextLink !== undefined && this.overBudget()) return undefined;
    }
    if (checkpoint.resync && checkpoint.loadId !== undefined) await this.reconcile(checkpoint.loadId);
    return this.deps.checkpoints.save(afterCatchup(checkpoint, this.now()));
  }

  /**
   * Reads these rows as they are now and writes them as any changed row is written; a row Dynamics
   * no longer returns is taken as deleted. The checkpoint does not move: the delta feed is untouched.
   */
  private async reread(ids: readonly string[], checkpoint: Checkpoint | undefined): Promise<PullResult> {
    const wanted = [...new Set(ids.map((id) => id.toLowerCase()))];
    const seen = new Set<string>();
    for await (const page of this.deps.source.readRows({
      entitySet: this.profile.entitySet,
      select: this.profile.select,
      keyColumn: this.profile.key,
      ids: wanted,
    })) {
      this.deps.observer.pageRead(this.profile.logicalName, page.rows.length);
      for (const row of page.rows) {
        const key = row[this.profile.key];
        if (typeof key === 'string') seen.add(key.toLowerCase());
      }
      await this.writePage({ rows: page.rows, deleted: [] }, undefined);
      this.stats.pages += 1;
    }
    const gone = wanted.filter((id) => !seen.has(id)).map((id) => ({ id }));
    // Not rows read: Dynamics answered without them. Counted as marked deleted, not as rows written.
    if (gone.length > 0) {
      const marked = new PageTally();
      await this.writePage({ rows: [], deleted: gone }, undefined, marked);
      this.stats.markedDeleted += marked.counts().written;
    }
    return {
      outcome: 'done',
      phase: checkpoint?.phase ?? 'delta',
      stats: { ...this.stats },
      resynced: false,
    };
  }

  /** After a resync: records the load did not see were deleted while the token was expired. */
  private async reconcile(loadId: string): Promise<void> {
    const now = this.now().toISOString();
    for await (const found of this.deps.records.recordsOf(this.profile.logicalName)) {
      let docs = found.docs;
      for (let attempt = 1; ; attempt += 1) {
        const updates = docs.flatMap((doc) => markUnseen(this.profile, doc, loadId, now) ?? []);
        const outcome = await this.write(updates);
        this.stats.markedDeleted += outcome.written;
        if (this.profile.kind === 'generic') await this.deps.afterPage?.(updates.map((doc) => doc.id));
        if (outcome.conflicts.length === 0) break;
        if (attempt >= MAX_WRITE_ATTEMPTS) throw keptChanging(outcome.conflicts);
        docs = (await this.deps.records.findForPage(outcome.conflicts)).docs;
      }
    }
  }

  /**
   * Plans and writes one page, re-planning documents someone else changed meanwhile. Its rows are
   * counted when it is done, unless the caller passed a tally: then they are part of a larger page
   * the caller counts (the first load's read path).
   */
  private async writePage(page: PageInput, loadId: string | undefined, tally?: PageTally): Promise<void> {
    const rows = tally ?? new PageTally();
    if (this.rebaselining !== undefined && this.profile.kind === 'person') {
      await this.matchByEmail(page, this.rebaselining.loadId);
    }
    const ids = lookupIdsOf(this.profile, page);
    const now = this.now().toISOString();
    const owners = await this.ownersOf(page);
    for (let attempt = 1; ; attempt += 1) {
      // Rows registered to a person that does not hold them yet: that person is read too, and the
      // row goes into it (push-create registers, then links; a pull in between must not add a person).
      const aliases =
        this.profile.kind === 'person' ? await this.deps.records.aliasesOf(ids) : new Map<string, string>();
      const lookup = aliases.size > 0 ? [...new Set([...ids, ...aliases.values()])] : ids;
      const found = await this.deps.records.findForPage(lookup);
      const knownEtags = new Map<string, string>();
      const awaiting = this.awaitingLink(found.invalid, aliases, now);
      for (const bad of found.invalid) {
        if (bad.etag !== undefined) knownEtags.set(bad.id, bad.etag);
        if (attempt === 1 && !awaiting.has(bad.id)) {
          await this.recordError({
            recordId: bad.id,
            code: 'invalid_document',
            message: `stored document failed validation and is replaced by the Dynamics version: ${bad.message}`,
            at: now,
          });
        }
      }
      const docs = awaiting.size > 0 ? [...found.docs, ...awaiting.values()] : found.docs;
      const plan = planPage(this.profile, page, docs, {
        now,
        ...(owners !== undefined ? { owners } : {}),
        ...(loadId !== undefined ? { loadId } : {}),
        ...(aliases.size > 0 ? { aliases } : {}),
      });
      const outcome = await this.write(plan.writes, knownEtags);
      // Rows whose documents went through are written even if a re-plan finds them unchanged.
      rows.stored(plan, outcome.conflicts);
      if (outcome.conflicts.length > 0) {
        this.stats.retries += 1;
        if (attempt >= MAX_WRITE_ATTEMPTS) throw keptChanging(outcome.conflicts);
        continue;
      }
      rows.settled(plan);
      await this.settle(plan, now);
      await this.resolveErrors(plan.synced, now);
      await this.deps.afterPage?.([...plan.synced, ...page.deleted.map((row) => row.id.toLowerCase())]);
      if (tally === undefined) this.counted(rows);
      return;
    }
  }

  /**
   * A rebaseline meets rows under ids no person holds when the new environment gave its rows new
   * ids. Such a row goes into the person with its email whose own row of this table is not in the
   * new environment (asked of Dynamics, not assumed), through the alias registry the planner already
   * follows; anything else (no email, nobody, a person whose row still exists) becomes a new person.
   */
  private async matchByEmail(page: PageInput, loadId: string): Promise<void> {
    const people = this.deps.people;
    if (people === undefined) return;
    const table = this.profile.logicalName as PersonTable;
    const idKey = table === 'lead' ? 'leadId' : 'contactId';
    const ids = lookupIdsOf(this.profile, page);
    const aliases = await this.deps.records.aliasesOf(ids);
    const found = await this.deps.records.findForPage([...new Set([...ids, ...aliases.values()])]);
    const held = new Set<string>(aliases.keys());
    for (const doc of found.docs) {
      held.add(doc.id);
      if (isPerson(doc)) {
        if (doc.dynamics.leadId !== undefined) held.add(doc.dynamics.leadId);
        if (doc.dynamics.contactId !== undefined) held.add(doc.dynamics.contactId);
      }
    }
    const candidates = new Map<string, { personId: string; oldRowId: string | undefined }>();
    for (const raw of page.rows) {
      const row = raw as Record<string, unknown>;
      const id =
        typeof row[this.profile.key] === 'string' ? (row[this.profile.key] as string).toLowerCase() : '';
      const lead = typeof row._originatingleadid_value === 'string' ? row._originatingleadid_value : '';
      if (id === '' || held.has(id) || held.has(lead.toLowerCase())) continue;
      const email = typeof row.emailaddress1 === 'string' ? row.emailaddress1.trim().toLowerCase() : '';
      if (email === '') continue;
      const match = (await people.byEmail(email, 10))
        .map((doc) => doc as { id: string; dynamics?: Record<string, unknown> })
        .filter((doc) => doc.dynamics?.leadId !== undefined || doc.dynamics?.contactId !== undefined)
        .filter((doc) => !isForgotten(doc))
        .filter((doc) => (doc.dynamics?.[table] as { seenLoad?: string } | undefined)?.seenLoad !== loadId)
        .filter((doc) => ![...candidates.values()].some((c) => c.personId === doc.id))
        .sort((a, b) => a.id.localeCompare(b.id))[0];
      if (match === undefined) continue;
      const oldRowId = match.dynamics?.[idKey];
      candidates.set(id, {
        personId: match.id,
        oldRowId: typeof oldRowId === 'string' ? oldRowId : undefined,
      });
    }
    if (candidates.size === 0) return;
    const oldIds = [...candidates.values()].flatMap((c) => (c.oldRowId !== undefined ? [c.oldRowId] : []));
    const stillThere = new Set<string>();
    if (oldIds.length > 0) {
      for await (const rows of this.deps.source.readRows({
        entitySet: this.profile.entitySet,
        select: [this.profile.key],
        keyColumn: this.profile.key,
        ids: oldIds,
      })) {
        for (const row of rows.rows) {
          const key = row[this.profile.key];
          if (typeof key === 'string') stillThere.add(key.toLowerCase());
        }
      }
    }
    for (const [rowId, { personId, oldRowId }] of candidates) {
      if (oldRowId !== undefined && stillThere.has(oldRowId.toLowerCase())) continue;
      await this.deps.records.registerAlias(rowId, personId);
      this.deps.log.info('rebaseline: row matched to a person by email', {
        entity: table,
        rowId,
        personId,
      });
    }
  }

  /** The directory's entries for the owners the page's rows name (one query a page). */
  private async ownersOf(page: PageInput): Promise<ReadonlyMap<string, DirectoryOwner> | undefined> {
    if (this.deps.owners === undefined || !this.profile.select.includes('_ownerid_value')) return undefined;
    const ids = new Set<string>();
    for (const raw of page.rows) {
      const owner = (raw as Record<string, unknown>)._ownerid_value;
      if (typeof owner === 'string') ids.add(owner.toLowerCase());
    }
    return ids.size === 0 ? undefined : this.deps.owners.byIds([...ids]);
  }

  /** Every write of the pull: counted in its stats and reported to the observer. */
  private async write(
    docs: readonly RecordDocument[],
    knownEtags?: ReadonlyMap<string, string>,
  ): Promise<WriteOutcome> {
    const outcome = await this.deps.records.write(docs, knownEtags);
    this.stats.written += outcome.written;
    return outcome;
  }

  /** A page's rows, counted once each, reported to the observer. */
  private counted(tally: PageTally): void {
    const counts = tally.counts();
    if (counts.written > 0 || counts.unchanged > 0) {
      this.deps.observer.rowsSettled(this.profile.logicalName, counts);
    }
  }

  /** A pull error of this entity, recorded and reported to the observer. */
  private async recordError(error: Omit<SyncErrorInput, 'entity' | 'operation'>): Promise<void> {
    await this.deps.errors.record({ ...error, entity: this.profile.logicalName, operation: 'pull' });
    this.deps.observer.errorRecorded(this.profile.logicalName);
  }

  /** After the page's writes: errors of rows that now synced cleanly are over (one query a page). */
  private async resolveErrors(rowIds: readonly string[], now: string): Promise<void> {
    if (rowIds.length === 0) return;
    await this.deps.errors.resolve(this.profile.logicalName, rowIds, now, 'pull');
  }

  /**
   * Registered persons that are not records yet (personAwaitingLink): the row joins the person
   * push-create is linking to it, written under the person's _etag, so a link written meanwhile
   * makes this a conflict and a re-plan. Anything else stays an invalid document.
   */
  private awaitingLink(
    invalid: readonly InvalidDocument[],
    aliases: ReadonlyMap<string, string>,
    now: string,
  ): Map<string, PersonRecord> {
    const out = new Map<string, PersonRecord>();
    if (aliases.size === 0 || invalid.length === 0) return out;
    const registered = new Set(aliases.values());
    for (const bad of invalid) {
      if (!registered.has(bad.id) || bad.raw === undefined) continue;
      const person = personAwaitingLink(bad.raw, this.profile.logicalName as PersonTable, now);
      if (person !== undefined) out.set(bad.id, person);
    }
    return out;
  }

  /** Error records are part of the page: written before the checkpoint moves past it. */
  private async settle(plan: PagePlan, now: string): Promise<void> {
    for (const error of plan.errors) {
      await this.recordError({
        recordId: error.id,
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

  /** A new load of the same organisation (the previous checkpoint's, or this job's). */
  private keepOrganization(next: Checkpoint, previous: Checkpoint | undefined): Checkpoint {
    const organizationId = previous?.organizationId ?? this.organization;
    return organizationId !== undefined ? { ...next, organizationId } : next;
  }

  private async save(next: Checkpoint, previous: Checkpoint | undefined): Promise<Checkpoint> {
    // Keep the stored _etag so the guarded save still detects a concurrent writer.
    const base = previous?._etag !== undefined ? { ...next, _etag: previous._etag } : next;
    return this.deps.checkpoints.save(base);
  }

  private overBudget(): boolean {
    return this.now().getTime() >= this.deadline;
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
