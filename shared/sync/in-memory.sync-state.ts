import type { RunRecord } from '../domain/run-record.model';
import { CosmosStoreError } from '../cosmos/cosmos.errors';
import { checkpointSchema, type Checkpoint } from '../domain/checkpoint.state';
import {
  foldHour,
  foldRun,
  hourOf,
  hourTotalsId,
  type EntityStatusRecord,
  type HourTotals,
} from '../domain/entity-status.model';
import {
  toSyncErrorRecord,
  type ErrorPage,
  type ErrorSearch,
  type SyncErrorInput,
  type SyncErrorRecord,
} from '../domain/sync-error.model';
import type { VerifyResult } from '../domain/verify-result.model';
import type { CheckpointStore, ErrorLog, ErrorSink, RunHistory } from './ports';

/** Checkpoints in memory with the repository's ETag guard, so a second writer fails the same way. */
export class InMemoryCheckpointStore implements CheckpointStore {
  private readonly byEntity = new Map<string, Checkpoint>();
  private version = 0;
  saves = 0;

  async get(entity: string): Promise<Checkpoint | undefined> {
    const stored = this.byEntity.get(entity);
    return stored === undefined ? undefined : { ...stored };
  }

  async save(checkpoint: Checkpoint): Promise<Checkpoint> {
    const { _etag: etag, ...body } = checkpointSchema.parse(checkpoint);
    const current = this.byEntity.get(body.entity);
    if (etag === undefined ? current !== undefined : current?._etag !== etag) {
      throw new CosmosStoreError(
        'precondition_failed',
        `checkpoint of ${body.entity} was moved by another puller; this run stops and is redelivered`,
        { status: etag === undefined ? 409 : 412, retryable: true },
      );
    }
    const saved = { ...body, _etag: `"${++this.version}"` };
    this.byEntity.set(body.entity, saved);
    this.saves += 1;
    return { ...saved };
  }
}

/** Sync errors by their stable id (a replay updates, never duplicates), like the repository. */
export class InMemoryErrorSink implements ErrorLog {
  readonly records = new Map<string, SyncErrorRecord>();

  async record(error: SyncErrorInput): Promise<SyncErrorRecord> {
    const record = toSyncErrorRecord(error);
    this.records.set(record.id, record);
    return record;
  }

  readonly resolve: ErrorSink['resolve'] = async (entity, recordIds, at, operation) => {
    const ids = new Set(recordIds);
    let resolved = 0;
    for (const [key, error] of this.records) {
      if (error.entity !== entity || error.operation !== operation || error.resolvedAt !== undefined)
        continue;
      if (error.recordId === null || !ids.has(error.recordId)) continue;
      this.records.set(key, { ...error, resolvedAt: at });
      resolved += 1;
    }
    return resolved;
  };

  async search(search: ErrorSearch): Promise<ErrorPage> {
    const q = search.q?.trim().toLowerCase();
    const matching = [...this.records.values()]
      .filter((e) => search.entity === undefined || e.entity === search.entity)
      .filter((e) => search.status === 'all' || (search.status === 'open') === (e.resolvedAt === undefined))
      .filter((e) => search.code === undefined || e.code === search.code)
      .filter(
        (e) =>
          q === undefined ||
          q === '' ||
          [e.recordId, e.email, e.code, e.message].some((text) => text?.toLowerCase().includes(q)),
      )
      .sort((a, b) => b.at.localeCompare(a.at));
    // The continuation is the offset of the next page: opaque to callers, as Cosmos DB's is.
    const start = search.continuation === undefined ? 0 : Number(search.continuation);
    const end = start + search.limit;
    return {
      errors: matching.slice(start, end),
      ...(end < matching.length ? { continuation: String(end) } : {}),
    };
  }

  async countOpen(entity: string): Promise<number> {
    return this.list(entity).filter((e) => e.resolvedAt === undefined).length;
  }

  async byIds(ids: readonly string[]): Promise<SyncErrorRecord[]> {
    return ids.flatMap((id) => this.records.get(id) ?? []);
  }

  async openFor(recordIds: readonly string[]): Promise<SyncErrorRecord[]> {
    const ids = new Set(recordIds);
    return [...this.records.values()]
      .filter((e) => e.recordId !== null && ids.has(e.recordId) && e.resolvedAt === undefined)
      .sort((a, b) => b.at.localeCompare(a.at));
  }

  list(entity?: string): SyncErrorRecord[] {
    return [...this.records.values()].filter((e) => entity === undefined || e.entity === entity);
  }
}

/** Run history in memory: the last state of each run, and each entity's status as the repository folds it. */
export class InMemoryRunSink implements RunHistory {
  readonly runs = new Map<string, RunRecord>();
  readonly statuses = new Map<string, EntityStatusRecord>();
  private readonly hours = new Map<string, HourTotals>();

  async save(run: RunRecord): Promise<void> {
    this.runs.set(run.id, { ...run });
    this.statuses.set(run.entity, foldRun(this.statuses.get(run.entity), run));
    if (run.status === 'running') return;
    const id = hourTotalsId(run.entity, hourOf(run.finishedAt ?? run.startedAt));
    this.hours.set(id, foldHour(this.hours.get(id), run));
  }

  async status(entity: string): Promise<EntityStatusRecord | undefined> {
    return this.statuses.get(entity);
  }

  async totalsSince(entity: string, hour: string): Promise<HourTotals[]> {
    return [...this.hours.values()]
      .filter((t) => t.entity === entity && t.hour >= hour)
      .sort((a, b) => a.hour.localeCompare(b.hour));
  }

  readonly verifies = new Map<string, VerifyResult>();

  async verifyResult(entity: string): Promise<VerifyResult | undefined> {
    return this.verifies.get(entity);
  }

  async saveVerifyResult(result: VerifyResult): Promise<void> {
    this.verifies.set(result.entity, result);
  }
}
