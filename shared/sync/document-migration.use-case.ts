import { DOCUMENT_SCHEMA_VERSION, upgradeDocument } from '../domain/document.schema';
import type { Logger } from '../telemetry/logger';
import type { DocumentMigrationStore } from './ports';

export interface MigrationProgress {
  container: string;
  /** Documents rewritten in the current shape. */
  migrated: number;
  /** Documents someone else changed between the read and the write: read again in the next pass. */
  retried: number;
}

export interface MigrationReport {
  version: number;
  containers: MigrationProgress[];
  /** Documents still of an older version (changing faster than the migration could catch them). */
  left: number;
}

/** A pass reads this many documents; each is written on its own, guarded by its _etag. */
const BATCH = 100;
/** Passes in a row that found only documents changed meanwhile before a container is given up. */
const STALLED_PASSES = 5;

/**
 * `dynamics-sync migrate`: rewrites every record document of an older schema version in the current
 * shape. Resumable and idempotent without a cursor of its own: each pass asks the store for
 * documents still older than the current version, so an interrupted run, a second run or a run
 * beside the sync only finds what is left. A write is conditional on the version read, so an edit
 * made meanwhile (a pull, a marketing tool) is never overwritten: the document is read again.
 * Reading never depends on this having run: the repositories upgrade old documents as they read them.
 */
export async function migrateDocuments(
  stores: readonly { container: string; store: DocumentMigrationStore }[],
  log: Logger,
  onProgress: (progress: MigrationProgress) => void = () => undefined,
): Promise<MigrationReport> {
  const report: MigrationReport = { version: DOCUMENT_SCHEMA_VERSION, containers: [], left: 0 };
  for (const { container, store } of stores) {
    const progress: MigrationProgress = { container, migrated: 0, retried: 0 };
    report.containers.push(progress);
    let stalled = 0;
    for (;;) {
      const batch = await store.outdated(DOCUMENT_SCHEMA_VERSION, BATCH);
      if (batch.length === 0) break;
      let written = 0;
      for (const doc of batch) {
        if (await store.replace(upgradeDocument(doc))) written += 1;
        else progress.retried += 1;
      }
      progress.migrated += written;
      onProgress({ ...progress });
      stalled = written === 0 ? stalled + 1 : 0;
      if (stalled >= STALLED_PASSES) {
        const left = batch.length;
        report.left += left;
        log.warn('migration gave up on documents that kept changing; run it again', { container, left });
        break;
      }
    }
  }
  return report;
}
