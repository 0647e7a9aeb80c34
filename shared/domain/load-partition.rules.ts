import { z } from 'zod';

/*
 * Partitions of a parallel first load. The keys-only tracked read that takes the delta token also
 * sees every row's createdon; a bounded, evenly spaced sample of those values gives boundaries that
 * split the table into ranges of about equal size, whatever its dates look like. Dataverse cannot
 * count for us ($count stops at 5,000 and aggregates at 50,000 rows), so the sample is the count.
 */

/** Sampled values kept at most; enough for 64 partitions within a few percent of their share. */
export const SAMPLE_CAPACITY = 512;

export const createdOnSampleSchema = z.object({
  /** Every `stride`-th row seen is kept; the stride doubles whenever the sample fills. */
  stride: z.number().int().positive(),
  /** Rows seen by the keys read so far (its total when it ends). */
  seen: z.number().int().min(0),
  /** Rows seen without a createdon: only then is a range of them read. */
  nulls: z.number().int().min(0).default(0),
  values: z.array(z.string()),
});
export type CreatedOnSample = z.output<typeof createdOnSampleSchema>;

export const emptySample = (): CreatedOnSample => ({ stride: 1, seen: 0, nulls: 0, values: [] });

/** Adds a page's createdon values (null: none) to a systematic sample that never exceeds its capacity. */
export function addToSample(
  sample: CreatedOnSample,
  values: readonly (string | null)[],
  capacity = SAMPLE_CAPACITY,
): CreatedOnSample {
  let { stride, seen, nulls } = sample;
  let kept = [...sample.values];
  for (const value of values) {
    if (value === null) nulls += 1;
    else if (seen % stride === 0) kept.push(value);
    seen += 1;
    if (kept.length > capacity) {
      // Keep the rows whose position is a multiple of the doubled stride: still evenly spaced.
      kept = kept.filter((_, i) => i % 2 === 0);
      stride *= 2;
    }
  }
  return { stride, seen, nulls, values: kept };
}

export const loadPartitionSchema = z.object({
  /** createdon ge `from` (absent: no lower bound). */
  from: z.string().optional(),
  /** createdon lt `to` (absent: no upper bound). */
  to: z.string().optional(),
  /** The rows without a createdon, which no range holds. */
  nulls: z.boolean().optional(),
  /** The next page of this range (absent: start at its first page). */
  nextLink: z.string().optional(),
  done: z.boolean(),
  /** Rows read so far. */
  rows: z.number().int().min(0),
  /** Attempts that failed; the load gives up on the partition past MAX_PARTITION_FAILURES. */
  failures: z.number().int().min(0),
});
export type LoadPartition = z.output<typeof loadPartitionSchema>;

/** A partition's attempts before the job fails (and its redelivery resumes the load). */
export const MAX_PARTITION_FAILURES = 3;

export interface PartitionSizing {
  /** Rows a partition should hold: small enough to balance the workers and to lose little on a crash. */
  rowsPerPartition: number;
  maxPartitions: number;
  /** Ranges wanted at least (one per reader), as long as each still holds a full page. */
  minPartitions?: number;
}

/** Rows of a full page (Dataverse's largest). */
const FULL_PAGE_ROWS = 5000;

/**
 * Two and a half full pages a range: three requests each however the sample's error falls, so with
 * the keys read a load stays under 0.5 requests per 1,000 rows; from 100k rows on there is a range per
 * reader, and at 1M, 64 ranges of four pages keep eight readers evenly busy.
 */
export const DEFAULT_PARTITION_SIZING: PartitionSizing = { rowsPerPartition: 12_500, maxPartitions: 64 };

const fresh = (range: Pick<LoadPartition, 'from' | 'to' | 'nulls'>): LoadPartition => ({
  ...range,
  done: false,
  rows: 0,
  failures: 0,
});

/**
 * Ranges of createdon that hold about equal shares of the sampled rows, then one for rows with no
 * createdon if there were any. Boundaries are sample values, deduplicated: many rows sharing one timestamp make a
 * larger partition, never a missing or doubled row. One partition reads the whole table unfiltered.
 */
export function planPartitions(
  sample: CreatedOnSample,
  sizing: PartitionSizing = DEFAULT_PARTITION_SIZING,
): LoadPartition[] {
  const sorted = [...sample.values].sort();
  const byRows = Math.ceil(sample.seen / sizing.rowsPerPartition);
  const perReader = Math.min(sizing.minPartitions ?? 1, Math.floor(sample.seen / FULL_PAGE_ROWS));
  const wanted = Math.min(sizing.maxPartitions, Math.max(1, byRows, perReader));
  const boundaries: string[] = [];
  for (let i = 1; i < wanted; i += 1) {
    const value = sorted[Math.floor((i * sorted.length) / wanted)];
    const last = boundaries.at(-1) ?? sorted[0];
    if (value !== undefined && last !== undefined && value > last) boundaries.push(value);
  }
  if (boundaries.length === 0) return [fresh({})];
  const ranges: LoadPartition[] = [fresh({ to: boundaries[0] as string })];
  for (let i = 1; i < boundaries.length; i += 1) {
    ranges.push(fresh({ from: boundaries[i - 1] as string, to: boundaries[i] as string }));
  }
  ranges.push(fresh({ from: boundaries.at(-1) as string }));
  // createdon is set on every row Dataverse creates: this range is only read if the keys read saw one.
  if (sample.nulls > 0) ranges.push(fresh({ nulls: true }));
  return ranges;
}
