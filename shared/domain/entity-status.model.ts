import { z } from 'zod';
import { runRecordSchema, type RunRecord } from './run-record.model';

/**
 * What the status page shows of one entity, kept up to date as runs finish so that reading it is
 * one point read per entity, never a scan of the run history.
 */
export const entityStatusSchema = z.object({
  id: z.string(),
  entity: z.string(),
  type: z.literal('entity-status'),
  lastRun: runRecordSchema,
  /** When the last run that did its work without failing ended (a continued run counts). */
  lastSuccessAt: z.string().optional(),
  /** Start of the last run that reached the end of the change feed: the data is at least that fresh. */
  caughtUpFrom: z.string().optional(),
});
export type EntityStatusRecord = z.output<typeof entityStatusSchema>;

/** Rows read and written in one hour: the throughput chart and the last-hour/24-hour figures. */
export const hourTotalsSchema = z.object({
  id: z.string(),
  entity: z.string(),
  type: z.literal('hour-totals'),
  /** The hour, as `YYYY-MM-DDTHH` in UTC. */
  hour: z.string(),
  runs: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  read: z.number().int().nonnegative(),
  written: z.number().int().nonnegative(),
  ttl: z.number().int().positive().optional(),
});
export type HourTotals = z.output<typeof hourTotalsSchema>;

/** Hour totals are kept two days: enough for the 24-hour view, small to read. */
export const HOUR_TOTALS_TTL_SECONDS = 2 * 24 * 3600;

/**
 * A run still `running` this long after it started cannot be alive: a Functions invocation ends at
 * the host's timeout (10 minutes on Flex Consumption) and a CLI job at its time budget, well before.
 */
export const ABANDONED_AFTER_MS = 15 * 60_000;

export const entityStatusId = (entity: string) => `status:${entity}`;
export const hourOf = (iso: string) => iso.slice(0, 13);
export const hourTotalsId = (entity: string, hour: string) => `hour:${entity}:${hour}`;

/** The entity's status once this run has been saved (started or finished). */
export function foldRun(previous: EntityStatusRecord | undefined, run: RunRecord): EntityStatusRecord {
  const succeeded = run.status === 'succeeded' || run.status === 'continued';
  return {
    id: entityStatusId(run.entity),
    entity: run.entity,
    type: 'entity-status',
    lastRun: run,
    ...(succeeded && run.finishedAt !== undefined
      ? { lastSuccessAt: run.finishedAt }
      : previous?.lastSuccessAt !== undefined
        ? { lastSuccessAt: previous.lastSuccessAt }
        : {}),
    ...(run.caughtUp === true
      ? { caughtUpFrom: run.startedAt }
      : previous?.caughtUpFrom !== undefined
        ? { caughtUpFrom: previous.caughtUpFrom }
        : {}),
  };
}

/** The hour's totals once this finished run is counted in the hour it finished. */
export function foldHour(previous: HourTotals | undefined, run: RunRecord): HourTotals {
  const hour = hourOf(run.finishedAt ?? run.startedAt);
  const base: HourTotals = previous ?? {
    id: hourTotalsId(run.entity, hour),
    entity: run.entity,
    type: 'hour-totals',
    hour,
    runs: 0,
    failed: 0,
    read: 0,
    written: 0,
    ttl: HOUR_TOTALS_TTL_SECONDS,
  };
  return {
    ...base,
    runs: base.runs + 1,
    failed: base.failed + (run.status === 'failed' ? 1 : 0),
    read: base.read + (run.read ?? 0),
    written: base.written + run.records,
  };
}

export type RunState = 'running' | 'succeeded' | 'failed' | 'abandoned';

/** A run's status as an operator sees it: one left `running` past any possible end was abandoned. */
export function runStateOf(run: RunRecord, now: Date): RunState {
  if (run.status === 'running') {
    return now.getTime() - Date.parse(run.startedAt) > ABANDONED_AFTER_MS ? 'abandoned' : 'running';
  }
  return run.status === 'failed' ? 'failed' : 'succeeded';
}

export type EntityState = 'synced' | 'syncing' | 'paused' | 'failing' | 'never';

/**
 * The entity at a glance. Paused wins (an admin must act); a failed or abandoned last run is
 * failing; a run in progress, or a load that continues in the next job, is syncing.
 */
export function entityStateOf(
  status: EntityStatusRecord | undefined,
  paused: boolean,
  now: Date,
): EntityState {
  if (paused) return 'paused';
  if (status === undefined) return 'never';
  const state = runStateOf(status.lastRun, now);
  if (state === 'failed' || state === 'abandoned') return 'failing';
  if (state === 'running' || status.lastRun.status === 'continued') return 'syncing';
  if (status.lastRun.status === 'paused') return 'paused';
  return 'synced';
}
