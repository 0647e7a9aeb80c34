import {
  afterKeysPage,
  afterParallelLoad,
  afterRangeFailure,
  afterRangePage,
  type Checkpoint,
} from '../domain/checkpoint.state';
import type { EntityProfile } from '../domain/entity.profile';
import {
  DEFAULT_PARTITION_SIZING,
  MAX_PARTITION_FAILURES,
  type PartitionSizing,
} from '../domain/load-partition.rules';
import { describeError } from '../errors/app.errors';
import type { Logger } from '../telemetry/logger';
import { DEFAULT_EXECUTION_BUDGET, ExecutionPacer, type ExecutionBudget } from './execution.pacer';
import type { ChangeSource, CheckpointStore, ModifiedPage, PullObserver } from './ports';

/**
 * Ranges read at once by default: the governor's default cap. The execution pacer, not this number,
 * keeps a long load to its share of the execution-time limit (about four 2-second pages sustained).
 */
export const DEFAULT_PARALLEL_LOAD_CONCURRENCY = 8;

/** How a parallel first load runs (docs/initial-load.md). */
export interface ParallelLoadSettings {
  /** Ranges read at once; the governor's concurrency cap and the execution budget still apply. */
  concurrency: number;
  sizing?: PartitionSizing;
  executionBudget?: ExecutionBudget;
}

/** What the pull that owns the load does for it. */
export interface ParallelLoadOwner {
  profile: EntityProfile;
  source: ChangeSource;
  checkpoints: CheckpointStore;
  log: Logger;
  observer: PullObserver;
  pageSize: number | undefined;
  now: () => Date;
  /** Writes a range's page (create-only or through the read path, stamped on a resync). */
  writeRows(rows: Record<string, unknown>[], checkpoint: Checkpoint): Promise<void>;
  overBudget(): boolean;
  /** Test seam: after a range's page is written, before its progress is saved (crash injection). */
  afterPageWrite?: (info: { phase: Checkpoint['phase']; page: number }) => Promise<void> | void;
}

/**
 * A first load read in parallel. 1) A tracked read of the keys only (with createdon, sampled for
 * the boundaries) takes the delta token: its pages are small and nothing is written from them.
 * 2) Every row is read in createdon ranges by ordinary queries, several at once, all after the
 * token, so each row is read as it was at the token or later. 3) The load continues from the token:
 * an edit or delete made while the ranges ran comes in the next delta. Each range's progress is
 * saved after its page is written, so a restart reads no finished range again.
 */
export class ParallelLoadRunner {
  private latest: Checkpoint;
  private saving: Promise<void> = Promise.resolve();
  private pages = 0;
  private crashed = false;
  private readonly pacer: ExecutionPacer;

  constructor(
    private readonly owner: ParallelLoadOwner,
    private readonly settings: ParallelLoadSettings,
    checkpoint: Checkpoint,
  ) {
    this.latest = checkpoint;
    this.pacer = new ExecutionPacer(settings.executionBudget ?? DEFAULT_EXECUTION_BUDGET);
  }

  /** Runs the load until it ends (a delta checkpoint), the budget is spent, or it fails. */
  async run(): Promise<{ checkpoint: Checkpoint; finished: boolean }> {
    if (this.latest.parallel?.stage === 'keys') {
      const keysDone = await this.readKeys();
      if (!keysDone) return { checkpoint: this.latest, finished: false };
    }
    const rangesDone = await this.readRanges();
    if (!rangesDone) return { checkpoint: this.latest, finished: false };
    return { checkpoint: this.latest, finished: true };
  }

  /** The checkpoint that ends the load (the owner reconciles a resync before saving it). */
  finish(checkpoint: Checkpoint): Checkpoint {
    return afterParallelLoad(checkpoint, this.owner.now());
  }

  private async readKeys(): Promise<boolean> {
    const { profile, source } = this.owner;
    const link = this.latest.nextLink;
    const pages = source.readChanges({
      entitySet: profile.entitySet,
      // The link keeps this $select: later deltas name changed rows by key, re-read by id.
      select: [profile.key, 'createdon'],
      ...(this.owner.pageSize !== undefined ? { pageSize: this.owner.pageSize } : {}),
      ...(link !== undefined ? { resumeLink: link } : {}),
    });
    for await (const page of pages) {
      // A request that reads nothing to sync: counted, with no records.
      this.owner.observer.pageRead(profile.logicalName, 0);
      const createdOn = page.rows.map((row) => (typeof row.createdon === 'string' ? row.createdon : null));
      const next = afterKeysPage(
        this.latest,
        {
          createdOn,
          ...(page.nextLink !== undefined ? { nextLink: page.nextLink } : {}),
          ...(page.deltaLink !== undefined ? { deltaLink: page.deltaLink } : {}),
        },
        this.owner.now(),
        { ...DEFAULT_PARTITION_SIZING, minPartitions: this.settings.concurrency, ...this.settings.sizing },
      );
      await this.persist(() => next);
      if (page.nextLink !== undefined && this.owner.overBudget()) return false;
    }
    if (this.latest.parallel?.stage !== 'ranges') {
      throw new Error(
        `the keys-only read of ${profile.logicalName} ended without a deltaLink; the load starts it again`,
      );
    }
    this.owner.log.info('parallel load: token taken, reading ranges', {
      entity: profile.logicalName,
      rows: this.latest.parallel.sample.seen,
      partitions: this.latest.parallel.partitions.length,
    });
    return true;
  }

  private async readRanges(): Promise<boolean> {
    const partitions = this.latest.parallel?.partitions ?? [];
    const queue = partitions.flatMap((p, i) => (p.done ? [] : [i]));
    let stopped = false;
    let budgetSpent = false;
    const errors: unknown[] = [];
    const worker = async (): Promise<void> => {
      for (;;) {
        if (stopped) return;
        const index = queue.shift();
        if (index === undefined) return;
        try {
          const outcome = await this.readRange(index, () => stopped);
          if (outcome === 'budget') {
            budgetSpent = true;
            stopped = true;
          }
        } catch (error) {
          if (stopped || this.crashed) {
            stopped = true;
            errors.push(error);
            return;
          }
          await this.persist((cp) => afterRangeFailure(cp, index, this.owner.now()));
          const failures = this.latest.parallel?.partitions[index]?.failures ?? 0;
          this.owner.log.warn('parallel load: a range failed', {
            entity: this.owner.profile.logicalName,
            partition: index,
            failures,
            error: describeError(error),
          });
          if (failures >= MAX_PARTITION_FAILURES) {
            stopped = true;
            errors.push(error);
            return;
          }
          // Tried again from its saved link, after the ranges still waiting.
          queue.push(index);
        }
      }
    };
    const workers = Math.max(1, Math.min(this.settings.concurrency, queue.length));
    await Promise.all(Array.from({ length: workers }, () => worker()));
    await this.saving;
    if (errors.length > 0) throw errors[0];
    if (budgetSpent) return false;
    return (this.latest.parallel?.partitions ?? []).every((p) => p.done);
  }

  /** Reads one range from its saved link to its end, or until the job's budget is spent. */
  private async readRange(index: number, stopped: () => boolean): Promise<'done' | 'budget' | 'stopped'> {
    const { profile, source } = this.owner;
    const partition = this.latest.parallel?.partitions[index];
    if (partition === undefined || partition.done) return 'done';
    const pages = source
      .readRange({
        entitySet: profile.entitySet,
        select: profile.select,
        range: {
          ...(partition.from !== undefined ? { from: partition.from } : {}),
          ...(partition.to !== undefined ? { to: partition.to } : {}),
          ...(partition.nulls === true ? { nulls: true } : {}),
        },
        ...(this.owner.pageSize !== undefined ? { pageSize: this.owner.pageSize } : {}),
        ...(partition.nextLink !== undefined ? { resumeLink: partition.nextLink } : {}),
      })
      [Symbol.asyncIterator]();
    try {
      for (;;) {
        const next: IteratorResult<ModifiedPage> = await this.pacer.run(() => pages.next());
        if (next.done === true) return 'done';
        const page = next.value;
        this.owner.observer.pageRead(profile.logicalName, page.rows.length);
        await this.owner.writeRows(page.rows, this.latest);
        this.pages += 1;
        try {
          await this.owner.afterPageWrite?.({ phase: 'initial', page: this.pages });
        } catch (error) {
          // The crash seam stands for the process dying: no retry of anything in this job.
          this.crashed = true;
          throw error;
        }
        await this.persist((cp) =>
          afterRangePage(
            cp,
            index,
            { rows: page.rows.length, ...(page.nextLink !== undefined ? { nextLink: page.nextLink } : {}) },
            this.owner.now(),
          ),
        );
        if (page.nextLink === undefined) return 'done';
        if (this.owner.overBudget()) return 'budget';
        if (stopped()) return 'stopped';
      }
    } finally {
      await pages.return?.();
    }
  }

  /**
   * Applies a change to the checkpoint at once and saves it after the saves before it: the ranges
   * share one document, whose _etag guard would refuse two saves at the same time.
   */
  private persist(change: (checkpoint: Checkpoint) => Checkpoint): Promise<void> {
    this.latest = change(this.latest);
    const saved = this.saving.then(async () => {
      const result = await this.owner.checkpoints.save(this.latest);
      this.latest = result._etag !== undefined ? { ...this.latest, _etag: result._etag } : this.latest;
    });
    this.saving = saved;
    return saved;
  }
}
