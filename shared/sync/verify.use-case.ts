import type { Checkpoint } from '../domain/checkpoint.state';
import type { EntityProfile } from '../domain/entity.profile';
import type { PersonTable } from '../domain/person.values';
import { isForgotten } from '../domain/person.values';
import { isPerson, type RecordDocument } from '../domain/record.model';
import { mapRow } from '../domain/row.mapper';
import { verifyResultId, type VerifyResult } from '../domain/verify-result.model';
import {
  classifyOrphan,
  classifyPush,
  classifyRow,
  countVerdict,
  driftOf,
  emptyCounts,
  SAMPLE_SIZE,
  type Finding,
  type OrphanVerdict,
  type PushVerdict,
  type RowVerdict,
  type StoredRow,
  type SyncWindow,
} from '../domain/verify.rules';
import { describeError, errorCodeOf } from '../errors/app.errors';
import type { Logger } from '../telemetry/logger';
import type { ChangeSource, CheckpointStore, RecordStore, RunHistory } from './ports';
import type { RowScanner } from './verify.ports';

export interface VerifyDeps {
  scanner: RowScanner;
  /** The delta feed (what is in flight) and reads by id (confirming a row is gone). */
  source: ChangeSource;
  records: (profile: EntityProfile) => RecordStore;
  checkpoints: CheckpointStore;
  runs: Pick<RunHistory, 'status' | 'saveVerifyResult'>;
  /** Dataverse requests sent so far by this process (the governor's counter). */
  requests: () => number;
  log: Logger;
  /** A marketing edit younger than this is still in the pusher's hands (its retries included). */
  pushWindowMs: number;
  pageSize?: number;
  now?: () => Date;
}

/** What repair needs of one entity's drift: the rows to read again, the people to push again. */
export interface RepairList {
  rowIds: string[];
  personIds: string[];
  /** Rows whose only difference is a lookup's display name: read again by every verify. */
  renamedRowIds: string[];
}

export interface EntityVerify {
  result: VerifyResult;
  repair: RepairList;
}

/**
 * Ids kept for repair per entity beyond the sample. A bound, so a table that drifted whole costs
 * memory in proportion to this, not to the table; a second verify finds what is left.
 */
export const MAX_REPAIR_IDS = 100_000;

/** Stored candidates whose row was not seen, read again by id before they count as gone. */
const CONFIRM_BATCH = 500;

/**
 * Verify (drift audit) of one entity: reads every Dynamics row at the governor's pace (a page of
 * keys, versions and synced columns at a time) and the Cosmos records holding each page's rows,
 * then every stored record of the entity, and classifies each by the rules of verify.rules.ts.
 * Memory: one page of each side at a time, plus the set of row keys seen in Dynamics (about 40
 * bytes a row: 4 MB for 100,000 rows) and the ids kept for repair (at most MAX_REPAIR_IDS).
 */
export class VerifyUseCase {
  constructor(private readonly deps: VerifyDeps) {}

  private now(): Date {
    return (this.deps.now ?? (() => new Date()))();
  }

  async verify(profile: EntityProfile): Promise<EntityVerify> {
    const entity = profile.logicalName;
    const startedAt = this.now().toISOString();
    const requestsBefore = this.deps.requests();
    const counts = emptyCounts();
    const sample: Finding[] = [];
    const repair: RepairList = { rowIds: [], personIds: [], renamedRowIds: [] };
    const note = (verdict: RowVerdict | OrphanVerdict | PushVerdict) => {
      if (verdict.kind === 'renamed' && repair.renamedRowIds.length < MAX_REPAIR_IDS) {
        repair.renamedRowIds.push(verdict.id);
      }
      const finding = countVerdict(counts, verdict);
      if (finding === undefined) return;
      if (sample.length < SAMPLE_SIZE) sample.push(finding);
      const list = finding.code === 'unpushed' ? repair.personIds : repair.rowIds;
      if (list.length < MAX_REPAIR_IDS) list.push(finding.id);
    };
    let error: VerifyResult['error'];
    try {
      const window = await this.window(profile);
      const seen = await this.compareRows(profile, window, counts, note);
      await this.compareStored(profile, window, seen, counts, note);
      // A paused entity reads nothing on its own: it may be paused because Dynamics is another
      // organisation now. Its renamed rows are counted, and read again once it is resumed.
      if (window.paused) repair.renamedRowIds.length = 0;
    } catch (failure) {
      error = { code: errorCodeOf(failure), message: describeError(failure).slice(0, 1000) };
      this.deps.log.error('verify failed', { entity, ...error });
    }
    const result: VerifyResult = {
      id: verifyResultId(entity),
      entity,
      type: 'verify-result',
      at: startedAt,
      finishedAt: this.now().toISOString(),
      drift: driftOf(counts),
      findings: counts.findings,
      counts: {
        rows: counts.rows,
        stored: counts.stored,
        inSync: counts.inSync,
        inFlight: counts.inFlight,
        filteredOut: counts.filteredOut,
        renamed: counts.renamed,
      },
      sample,
      requests: Math.max(0, this.deps.requests() - requestsBefore),
      ...(error !== undefined ? { error } : {}),
    };
    await this.deps.runs.saveVerifyResult(result);
    this.deps.log.info('verify finished', {
      entity,
      drift: result.drift,
      ...result.findings,
      ...result.counts,
      requests: result.requests,
    });
    return { result, repair };
  }

  /** What counts as in flight now: the last caught-up pull, and the changes waiting in the feed. */
  private async window(profile: EntityProfile): Promise<SyncWindow> {
    const entity = profile.logicalName;
    const [status, checkpoint] = await Promise.all([
      this.deps.runs.status(entity),
      this.deps.checkpoints.get(entity),
    ]);
    const paused = checkpoint?.paused !== undefined;
    // A load in progress has not reached the end of the feed: all of the entity is in flight.
    const loading = checkpoint === undefined || checkpoint.phase !== 'delta';
    const caughtUpFrom = loading ? undefined : status?.caughtUpFrom;
    const pending = paused || loading ? new Set<string>() : await this.pending(profile, checkpoint);
    return { caughtUpFrom, pending, paused };
  }

  /**
   * Row ids with changes waiting after the pull's saved link. Following a link again reads the same
   * changes without moving the pull (the checkpoint is not touched). A link that cannot be read
   * (an expired token) leaves the set empty: the time rule still applies.
   */
  private async pending(profile: EntityProfile, checkpoint: Checkpoint): Promise<Set<string>> {
    const ids = new Set<string>();
    const link = checkpoint.nextLink ?? checkpoint.deltaLink;
    if (link === undefined) return ids;
    try {
      for await (const page of this.deps.source.readChanges({
        entitySet: profile.entitySet,
        select: profile.select,
        resumeLink: link,
        ...(this.deps.pageSize !== undefined ? { pageSize: this.deps.pageSize } : {}),
      })) {
        for (const row of page.rows) {
          const key = row[profile.key];
          if (typeof key === 'string') ids.add(key.toLowerCase());
        }
        for (const tombstone of page.deleted) ids.add(tombstone.id);
      }
    } catch (failure) {
      this.deps.log.warn('verify could not read the pending changes; judging by time only', {
        entity: profile.logicalName,
        error: describeError(failure),
      });
    }
    return ids;
  }

  /** Every Dynamics row against the records holding it; answers the keys seen. */
  private async compareRows(
    profile: EntityProfile,
    window: SyncWindow,
    counts: ReturnType<typeof emptyCounts>,
    note: (verdict: RowVerdict) => void,
  ): Promise<Set<string>> {
    const seen = new Set<string>();
    const records = this.deps.records(profile);
    for await (const page of this.deps.scanner.scanRows({
      entitySet: profile.entitySet,
      select: profile.select,
      ...(this.deps.pageSize !== undefined ? { pageSize: this.deps.pageSize } : {}),
    })) {
      const rows = [];
      for (const raw of page.rows) {
        const mapped = mapRow(profile, raw);
        // A row that does not map is the pull's invalid_row error already; verify does not count it twice.
        if (!mapped.ok) continue;
        rows.push(mapped.row);
        seen.add(mapped.row.id);
      }
      counts.rows += rows.length;
      if (rows.length === 0) continue;
      const found = await records.findForPage(rows.map((row) => row.id));
      const holder = holderIndex(profile, found.docs);
      for (const row of rows) {
        note(
          classifyRow(
            profile.logicalName,
            row,
            storedRowOf(profile, holder.get(row.id)),
            window,
            profile.filterColumn,
          ),
        );
      }
    }
    return seen;
  }

  /**
   * Every stored record of the entity: a row Dynamics did not list is gone unless a read by id
   * finds it after all (created during the scan); a person whose table this is also has its
   * marketing edits checked.
   */
  private async compareStored(
    profile: EntityProfile,
    window: SyncWindow,
    seen: ReadonlySet<string>,
    counts: ReturnType<typeof emptyCounts>,
    note: (verdict: OrphanVerdict | PushVerdict) => void,
  ): Promise<void> {
    const entity = profile.logicalName;
    const now = this.now().getTime();
    let candidates: { rowId: string; docId: string }[] = [];
    const settle = async () => {
      if (candidates.length === 0) return;
      const found = new Set<string>();
      for await (const page of this.deps.source.readRows({
        entitySet: profile.entitySet,
        select: [profile.key],
        keyColumn: profile.key,
        ids: candidates.map((c) => c.rowId),
      })) {
        for (const row of page.rows) {
          const key = row[profile.key];
          if (typeof key === 'string') found.add(key.toLowerCase());
        }
      }
      for (const candidate of candidates) {
        note(
          classifyOrphan(
            { entity, ...candidate, flaggedDeleted: false, confirmedAbsent: !found.has(candidate.rowId) },
            window,
          ),
        );
      }
      candidates = [];
    };
    for await (const page of this.deps.records(profile).recordsOf(entity)) {
      counts.stored += page.docs.length;
      for (const doc of page.docs) {
        const held = heldRow(profile, doc);
        if (held === undefined) continue;
        if (!seen.has(held.rowId)) {
          if (held.flaggedDeleted) counts.inSync += 1;
          else candidates.push({ rowId: held.rowId, docId: doc.id });
        }
        if (isPerson(doc) && doc.type === entity && !isForgotten(doc)) {
          const lastWrite = typeof doc._ts === 'number' ? doc._ts * 1000 : now;
          note(classifyPush(entity, doc, profile.personFields, lastWrite, now, this.deps.pushWindowMs));
        }
      }
      if (candidates.length >= CONFIRM_BATCH) await settle();
    }
    await settle();
  }
}

/** The record holding each row of the page, by row id. */
function holderIndex(profile: EntityProfile, docs: readonly RecordDocument[]): Map<string, RecordDocument> {
  const out = new Map<string, RecordDocument>();
  for (const doc of docs) {
    const held = heldRow(profile, doc);
    if (held !== undefined) out.set(held.rowId, doc);
  }
  return out;
}

/** The row of this entity a record holds, and whether it is flagged deleted. */
function heldRow(
  profile: EntityProfile,
  doc: RecordDocument,
): { rowId: string; flaggedDeleted: boolean } | undefined {
  if (!isPerson(doc)) {
    if (doc.entity !== profile.logicalName) return undefined;
    return { rowId: doc.id, flaggedDeleted: doc.sync.deletedInDynamics !== undefined };
  }
  const table = profile.logicalName as PersonTable;
  const source = doc.dynamics[table];
  if (source === undefined) return undefined;
  const flaggedDeleted =
    source.deletedAt !== undefined || (doc.type === table && doc.sync.deletedInDynamics !== undefined);
  return { rowId: source.id, flaggedDeleted };
}

/** What the record holds of the row, as the rules compare it. */
function storedRowOf(profile: EntityProfile, doc: RecordDocument | undefined): StoredRow | undefined {
  if (doc === undefined) return undefined;
  if (!isPerson(doc)) {
    return {
      docId: doc.id,
      versionnumber: doc.dynamics.versionnumber,
      hash: doc.dynamics.hash,
      values: doc.values,
      statecode: doc.dynamics.statecode,
      statuscode: doc.dynamics.statuscode,
      excluded: doc.sync.excluded !== undefined || doc.dynamics.excluded === true,
      deleted: doc.dynamics.deletedAt !== undefined,
      recordDeleted: false,
      suppressed: false,
    };
  }
  const table = profile.logicalName as PersonTable;
  const source = doc.dynamics[table];
  if (source === undefined) return undefined;
  return {
    docId: doc.id,
    versionnumber: source.versionnumber,
    hash: source.hash,
    values: source.values,
    statecode: source.statecode,
    statuscode: source.statuscode,
    excluded: source.excluded === true || (doc.type === table && doc.sync.excluded !== undefined),
    deleted: source.deletedAt !== undefined,
    // A person flagged deleted while this row of it is live: a fresh load would make it live.
    recordDeleted: doc.sync.deletedInDynamics !== undefined,
    // Forgotten on request: the pull leaves it alone on purpose.
    suppressed: isForgotten(doc),
  };
}
