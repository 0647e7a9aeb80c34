import { z } from 'zod';
import {
  addToSample,
  createdOnSampleSchema,
  emptySample,
  loadPartitionSchema,
  planPartitions,
  type LoadPartition,
  type PartitionSizing,
} from './load-partition.rules';

/**
 * A parallel first load (docs/initial-load.md). `keys`: the keys-only tracked read that takes the
 * delta token runs (nextLink is its next page) and samples createdon; `ranges`: the full rows are
 * read in createdon ranges at once, each range's progress kept here so a restart skips finished ones.
 */
export const parallelLoadSchema = z.object({
  stage: z.enum(['keys', 'ranges']),
  sample: createdOnSampleSchema,
  partitions: z.array(loadPartitionSchema).default([]),
});
export type ParallelLoad = z.output<typeof parallelLoadSchema>;

/**
 * Where the pull of one entity stands. `initial`: a change-tracking load is running (nextLink is the
 * next page to read); `catchup`: the load ended and rows modified since it started are re-read,
 * because Dynamics issues the deltaLink only at its end; `delta`: incremental from the deltaLink.
 */
export const checkpointSchema = z.object({
  id: z.string(),
  entity: z.string(),
  type: z.literal('checkpoint'),
  phase: z.enum(['initial', 'catchup', 'delta']),
  nextLink: z.string().optional(),
  deltaLink: z.string().optional(),
  loadId: z.string().optional(),
  loadStartedAt: z.string().optional(),
  /** The running load replaces an expired token: at its end, rows it did not see are marked deleted. */
  resync: z.boolean().default(false),
  /** The $select the links were made with: links carry it, so a changed column list needs a new load. */
  select: z.string().optional(),
  /**
   * The first load of an entity into a store holding none of its records: pages are written
   * create-only without reading first, and a create that finds the document falls back to the read.
   */
  createOnly: z.boolean().optional(),
  /**
   * What the links read: `rows` (absent) the synced columns; `keys` only the key and createdon, as
   * after a parallel load, so each delta re-reads its changed rows by id.
   */
  tracking: z.enum(['rows', 'keys']).optional(),
  parallel: parallelLoadSchema.optional(),
  paused: z
    .object({ code: z.string(), reason: z.string(), at: z.string(), column: z.string().optional() })
    .optional(),
  /**
   * The Dynamics organisation (WhoAmI) the links and the stored rows came from. A sandbox refresh or
   * an instance copy gives the environment a new id: links and versions of the old one mean nothing
   * there. Absent on checkpoints written before it was kept; the next pull records it.
   */
  organizationId: z.string().optional(),
  /**
   * The running load re-reads everything after the organisation changed: rows are matched to
   * people by id, then by email, so nobody is duplicated (`dynamics-sync rebaseline`).
   */
  rebaseline: z.boolean().optional(),
  updatedAt: z.string(),
  _etag: z.string().optional(),
});

export type Checkpoint = z.output<typeof checkpointSchema>;

export const checkpointId = (entity: string): string => `checkpoint:${entity}`;

export function startFullLoad(
  entity: string,
  loadId: string,
  now: Date,
  resync: boolean,
  select?: readonly string[],
  createOnly = false,
): Checkpoint {
  return {
    id: checkpointId(entity),
    entity,
    type: 'checkpoint',
    phase: 'initial',
    loadId,
    loadStartedAt: now.toISOString(),
    resync,
    ...(select !== undefined ? { select: selectKey(select) } : {}),
    ...(createOnly ? { createOnly: true } : {}),
    updatedAt: now.toISOString(),
  };
}

export const selectKey = (select: readonly string[]): string => [...select].sort().join(',');

/** Whether the saved links were made with another column list (the sync config changed). */
export function selectChanged(checkpoint: Checkpoint, select: readonly string[]): boolean {
  return checkpoint.select !== undefined && checkpoint.select !== selectKey(select);
}

/** After a durable page write: the link that follows that page. */
export function afterPage(
  checkpoint: Checkpoint,
  page: { nextLink?: string; deltaLink?: string },
  now: Date,
): Checkpoint {
  const { nextLink: _next, ...rest } = checkpoint;
  const base = { ...rest, updatedAt: now.toISOString() };
  if (page.nextLink !== undefined) return { ...base, nextLink: page.nextLink };
  if (page.deltaLink !== undefined) {
    return checkpoint.phase === 'initial'
      ? { ...base, phase: 'catchup', deltaLink: page.deltaLink }
      : { ...base, deltaLink: page.deltaLink };
  }
  return base;
}

/** A new full load read in parallel ranges, starting with the keys-only tracked read. */
export function withParallelLoad(checkpoint: Checkpoint): Checkpoint {
  return { ...checkpoint, parallel: { stage: 'keys', sample: emptySample(), partitions: [] } };
}

/**
 * After a keys-only tracked page (nothing is written from it): its createdon values join the sample,
 * and the last page's deltaLink ends the stage: the ranges are planned from the sample and the
 * links become keys-only.
 */
export function afterKeysPage(
  checkpoint: Checkpoint,
  page: { nextLink?: string; deltaLink?: string; createdOn: readonly (string | null)[] },
  now: Date,
  sizing?: PartitionSizing,
): Checkpoint {
  const parallel = checkpoint.parallel;
  if (parallel === undefined || parallel.stage !== 'keys') return checkpoint;
  const sample = addToSample(parallel.sample, page.createdOn);
  const { nextLink: _next, ...rest } = checkpoint;
  const base = { ...rest, updatedAt: now.toISOString() };
  if (page.nextLink !== undefined) {
    return { ...base, nextLink: page.nextLink, parallel: { ...parallel, sample } };
  }
  if (page.deltaLink === undefined) return { ...base, parallel: { ...parallel, sample } };
  return {
    ...base,
    deltaLink: page.deltaLink,
    tracking: 'keys',
    parallel: { stage: 'ranges', sample, partitions: planPartitions(sample, sizing) },
  };
}

/** After a range's page is written: where the range goes on, or that it is done. */
export function afterRangePage(
  checkpoint: Checkpoint,
  index: number,
  page: { nextLink?: string; rows: number },
  now: Date,
): Checkpoint {
  return updatePartition(checkpoint, index, now, (partition) => {
    const { nextLink: _next, ...rest } = partition;
    const rows = partition.rows + page.rows;
    return page.nextLink !== undefined
      ? { ...rest, rows, nextLink: page.nextLink }
      : { ...rest, rows, done: true };
  });
}

/** A failed attempt at a range: it is tried again from its saved link. */
export function afterRangeFailure(checkpoint: Checkpoint, index: number, now: Date): Checkpoint {
  return updatePartition(checkpoint, index, now, (p) => ({ ...p, failures: p.failures + 1 }));
}

function updatePartition(
  checkpoint: Checkpoint,
  index: number,
  now: Date,
  change: (partition: LoadPartition) => LoadPartition,
): Checkpoint {
  const parallel = checkpoint.parallel;
  const partition = parallel?.partitions[index];
  if (parallel === undefined || partition === undefined) return checkpoint;
  const partitions = parallel.partitions.map((p, i) => (i === index ? change(partition) : p));
  return { ...checkpoint, parallel: { ...parallel, partitions }, updatedAt: now.toISOString() };
}

/** Every range is read: the load continues from the keys read's deltaLink, with no catch-up pass. */
export function afterParallelLoad(checkpoint: Checkpoint, now: Date): Checkpoint {
  const { parallel: _parallel, ...rest } = checkpoint;
  return afterCatchup({ ...rest, phase: 'catchup' }, now);
}

export function afterCatchup(checkpoint: Checkpoint, now: Date): Checkpoint {
  const {
    loadId: _loadId,
    loadStartedAt: _started,
    createOnly: _createOnly,
    rebaseline: _rebaseline,
    ...rest
  } = checkpoint;
  return { ...rest, phase: 'delta', resync: false, updatedAt: now.toISOString() };
}

/** Clock skew between us and Dynamics: the catch-up re-reads from a little before the load began. */
export const CATCHUP_SKEW_MS = 5 * 60 * 1000;

export function catchupSince(checkpoint: Checkpoint, skewMs = CATCHUP_SKEW_MS): Date {
  const started = checkpoint.loadStartedAt ? Date.parse(checkpoint.loadStartedAt) : 0;
  return new Date(Math.max(0, started - skewMs));
}

export function paused(
  checkpoint: Checkpoint,
  reason: { code: string; reason: string; column?: string },
  now: Date,
): Checkpoint {
  return { ...checkpoint, paused: { ...reason, at: now.toISOString() }, updatedAt: now.toISOString() };
}

/** Pause code of an entity whose Dynamics organisation changed (a sandbox refresh or copy). */
export const ORGANIZATION_CHANGED = 'organization_changed';

/**
 * Whether the checkpoint was made in another organisation than the one answering now. A checkpoint
 * that never recorded one (written before organisations were kept) is taken as this one's.
 */
export const organizationChanged = (checkpoint: Checkpoint, current: string): boolean =>
  checkpoint.organizationId !== undefined &&
  checkpoint.organizationId.toLowerCase() !== current.toLowerCase();

/** The pause that says what happened and what to do. */
export function organizationChangedPause(stored: string, current: string): { code: string; reason: string } {
  return {
    code: ORGANIZATION_CHANGED,
    reason:
      `Dynamics now answers as organisation ${current}, but this entity was synced from organisation ${stored}: ` +
      'the environment was refreshed from or copied to another one (a sandbox refresh or instance copy), so the ' +
      'saved delta links and row versions no longer apply. Check DATAVERSE_URL points at the intended ' +
      'environment, then run `dynamics-sync rebaseline` to re-read everything, matching rows to people by id and email.',
  };
}

/**
 * A rebaseline: a full load in the organisation answering now, which every row is stamped by and at
 * whose end rows it did not see are flagged deleted (never removed). Clears any pause.
 */
export function startRebaseline(entity: string, loadId: string, now: Date): Checkpoint {
  return { ...startFullLoad(entity, loadId, now, true), rebaseline: true };
}
