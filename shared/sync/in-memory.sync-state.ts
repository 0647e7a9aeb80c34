import type { RunRecord } from '../domain/run-record.model';
import { CosmosStoreError } from '../cosmos/cosmos.errors';
import { checkpointSchema, type Checkpoint } from '../domain/checkpoint.state';
import { toSyncErrorRecord, type SyncErrorInput, type SyncErrorRecord } from '../domain/sync-error.model';
import type { CheckpointStore, ErrorSink, RunSink } from './ports';

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
export class InMemoryErrorSink implements ErrorSink {
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

  list(entity?: string): SyncErrorRecord[] {
    return [...this.records.values()].filter((e) => entity === undefined || e.entity === entity);
  }
}

/** Run history in memory: the last state of each run. */
export class InMemoryRunSink implements RunSink {
  readonly runs = new Map<string, RunRecord>();

  async save(run: RunRecord): Promise<void> {
    this.runs.set(run.id, { ...run });
  }
}
