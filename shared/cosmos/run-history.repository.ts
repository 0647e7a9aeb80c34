import type { Container } from '@azure/cosmos';
import {
  entityStatusId,
  entityStatusSchema,
  foldHour,
  foldRun,
  hourOf,
  hourTotalsId,
  hourTotalsSchema,
  type EntityStatusRecord,
  type HourTotals,
} from '../domain/entity-status.model';
import { runRecordSchema, type RunRecord } from '../domain/run-record.model';
import { verifyResultId, verifyResultSchema, type VerifyResult } from '../domain/verify-result.model';
import type { RunHistory } from '../sync/ports';
import { CosmosStoreError } from './cosmos.errors';
import { queryPartition, StateDocuments } from './document.operations';

/** Run history is for operations, not audit: a job per entity per minute would otherwise pile up forever. */
export const RUN_TTL_SECONDS = 30 * 24 * 3600;

/**
 * Run history lives in the sync-state container, partitioned by entity, next to the checkpoints.
 * Saving a run also folds it into the entity's status and the hour's totals, so the status page
 * reads one status document and at most 24 hour documents per entity, never the runs themselves.
 * One puller per entity (the session) is the only writer of its documents: no write races.
 */
export class RunHistoryRepository implements RunHistory {
  private readonly statuses: StateDocuments<EntityStatusRecord>;
  private readonly hours: StateDocuments<HourTotals>;
  private readonly verifies: StateDocuments<VerifyResult>;

  constructor(private readonly container: Container) {
    this.statuses = new StateDocuments(container, entityStatusSchema);
    this.hours = new StateDocuments(container, hourTotalsSchema);
    this.verifies = new StateDocuments(container, verifyResultSchema);
  }

  /** The entity's last verify; one document per entity, replaced by the next verify. */
  verifyResult(entity: string): Promise<VerifyResult | undefined> {
    return this.verifies.read(verifyResultId(entity), entity, `last verify of ${entity}`);
  }

  async saveVerifyResult(result: VerifyResult): Promise<void> {
    await this.upsert(verifyResultSchema.parse(result), `verify result of ${result.entity}`);
  }

  async save(run: RunRecord): Promise<void> {
    await this.upsert(runRecordSchema.parse({ ttl: RUN_TTL_SECONDS, ...run }), `run ${run.id}`);
    const status = await this.status(run.entity);
    await this.upsert(foldRun(status, run), `status of ${run.entity}`);
    if (run.status === 'running') return;
    const hour = hourOf(run.finishedAt ?? run.startedAt);
    const id = hourTotalsId(run.entity, hour);
    const totals = await this.hours.read(id, run.entity, `totals of ${run.entity} for ${hour}`);
    await this.upsert(foldHour(totals, run), `totals of ${run.entity} for ${hour}`);
  }

  /** The entity's status as runs left it; undefined before its first run. */
  status(entity: string): Promise<EntityStatusRecord | undefined> {
    return this.statuses.read(entityStatusId(entity), entity, `status of ${entity}`);
  }

  /** Hour totals from this hour (`YYYY-MM-DDTHH`) on, oldest first. */
  totalsSince(entity: string, hour: string): Promise<HourTotals[]> {
    return queryPartition(
      this.container,
      entity,
      "SELECT * FROM c WHERE c.entity = @entity AND c.type = 'hour-totals' AND c.hour >= @hour ORDER BY c.hour",
      [
        { name: '@entity', value: entity },
        { name: '@hour', value: hour },
      ],
      hourTotalsSchema,
      `reading the hourly totals of ${entity}`,
    );
  }

  async latest(entity: string, count = 10): Promise<RunRecord[]> {
    return queryPartition(
      this.container,
      entity,
      // TOP takes a literal: `count` is an integer we control, never user text.
      `SELECT TOP ${Math.max(1, Math.floor(count))} * FROM c WHERE c.entity = @entity AND c.type = 'run' ORDER BY c.startedAt DESC`,
      [{ name: '@entity', value: entity }],
      runRecordSchema,
      `reading runs of ${entity}`,
    );
  }

  private async upsert(doc: { id: string }, what: string): Promise<void> {
    try {
      await this.container.items.upsert(doc);
    } catch (error) {
      throw CosmosStoreError.from(error, `saving the ${what}`);
    }
  }
}
