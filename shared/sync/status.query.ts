import type { EntityDefinition } from '../config/entity.catalog';
import type { Checkpoint } from '../domain/checkpoint.state';
import {
  entityStateOf,
  hourOf,
  runStateOf,
  type EntityState,
  type EntityStatusRecord,
  type HourTotals,
  type RunState,
} from '../domain/entity-status.model';
import type { PushBacklog } from '../domain/push.planner';
import type { VerifyResult } from '../domain/verify-result.model';
import type { Finding, VerifyCode } from '../domain/verify.rules';

export interface StatusSources {
  status(entity: string): Promise<EntityStatusRecord | undefined>;
  totalsSince(entity: string, hour: string): Promise<HourTotals[]>;
  checkpoint(entity: string): Promise<Checkpoint | undefined>;
  openErrors(entity: string): Promise<number>;
  pushBacklog(): Promise<PushBacklog>;
  verify(entity: string): Promise<VerifyResult | undefined>;
}

export interface Throughput {
  read: number;
  written: number;
}

export interface EntityStatusView {
  entity: string;
  direction: 'both' | 'pull';
  state: EntityState;
  /** Why an entity is paused, when it is. */
  paused: { code: string; reason: string; at: string } | null;
  lastRun: {
    id: string;
    status: RunState;
    /** What the run left: the feed caught up, a load continuing in the next job, or a pause. */
    outcome: 'caught-up' | 'continued' | 'paused' | 'none';
    startedAt: string;
    finishedAt: string | null;
    read: number;
    written: number;
    requests: number;
    error: { code: string; message: string } | null;
  } | null;
  lastSuccessAt: string | null;
  /** Now minus the start of the last run that reached the end of the feed; null before the first. */
  lagSeconds: number | null;
  throughput: { lastHour: Throughput; last24Hours: Throughput; hourly: (Throughput & { hour: string })[] };
  openErrors: number;
  /** The last verify (drift audit): findings per code and a bounded sample; null before the first. */
  verify: {
    at: string;
    finishedAt: string;
    drift: number;
    findings: Record<VerifyCode, number>;
    sample: Finding[];
    error: { code: string; message: string } | null;
  } | null;
}

export interface SyncStatusView {
  at: string;
  entities: EntityStatusView[];
  push: PushBacklog;
}

/**
 * The sync at a glance, per enabled entity: a point read of its status and its checkpoint, at most
 * 24 hour totals, and a count of its open errors; plus the push backlog. Never a scan of the runs.
 */
export async function readSyncStatus(
  entities: readonly EntityDefinition[],
  sources: StatusSources,
  now: Date = new Date(),
): Promise<SyncStatusView> {
  const since = hourOf(new Date(now.getTime() - 23 * 3600_000).toISOString());
  const thisHour = hourOf(now.toISOString());
  const [views, push] = await Promise.all([
    Promise.all(
      entities.map(async (entity): Promise<EntityStatusView> => {
        const name = entity.logicalName;
        const [status, totals, checkpoint, openErrors, verify] = await Promise.all([
          sources.status(name),
          sources.totalsSince(name, since),
          sources.checkpoint(name),
          sources.openErrors(name),
          sources.verify(name),
        ]);
        const sum = (hours: readonly HourTotals[]): Throughput => ({
          read: hours.reduce((n, h) => n + h.read, 0),
          written: hours.reduce((n, h) => n + h.written, 0),
        });
        const run = status?.lastRun;
        return {
          entity: name,
          direction: entity.direction,
          state: entityStateOf(status, checkpoint?.paused !== undefined, now),
          paused: checkpoint?.paused ?? null,
          lastRun:
            run === undefined
              ? null
              : {
                  id: run.id,
                  status: runStateOf(run, now),
                  outcome:
                    run.caughtUp === true
                      ? 'caught-up'
                      : run.status === 'continued'
                        ? 'continued'
                        : run.status === 'paused'
                          ? 'paused'
                          : 'none',
                  startedAt: run.startedAt,
                  finishedAt: run.finishedAt ?? null,
                  read: run.read ?? 0,
                  written: run.records,
                  requests: run.requests,
                  error: run.error ?? null,
                },
          lastSuccessAt: status?.lastSuccessAt ?? null,
          lagSeconds:
            status?.caughtUpFrom === undefined
              ? null
              : Math.max(0, Math.round((now.getTime() - Date.parse(status.caughtUpFrom)) / 1000)),
          throughput: {
            lastHour: sum(totals.filter((t) => t.hour === thisHour)),
            last24Hours: sum(totals),
            hourly: totals.map((t) => ({ hour: t.hour, read: t.read, written: t.written })),
          },
          openErrors,
          verify:
            verify === undefined
              ? null
              : {
                  at: verify.at,
                  finishedAt: verify.finishedAt,
                  drift: verify.drift,
                  findings: verify.findings,
                  sample: verify.sample,
                  error: verify.error ?? null,
                },
        };
      }),
    ),
    sources.pushBacklog(),
  ]);
  return { at: now.toISOString(), entities: views, push };
}
