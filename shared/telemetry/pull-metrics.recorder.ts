import type { SyncMetrics } from './sync-metrics';

/** What one pull job did, in the terms the metrics need; built by the puller function from its run. */
export interface PullMeasurement {
  entity: string;
  status: 'succeeded' | 'continued' | 'paused' | 'failed';
  /** Start of the scheduler slot the job (or its continuation chain) belongs to. */
  slot: string;
  startedAt: Date;
  finishedAt: Date;
  written?: number;
  invalid?: number;
  /** Growth of the throttle governor's counters during the job. */
  requests?: number;
  throttled?: number;
}

/**
 * Lag is measured from the slot: a job asks for "every change up to now" at its tick, so the time
 * from the tick until the run that finishes catching up is how stale Cosmos was for that entity.
 * A continuation keeps its slot, so a long catch-up shows as growing lag.
 */
export function recordPull(metrics: SyncMetrics, m: PullMeasurement): void {
  metrics.recordsPulled(m.entity, m.written ?? 0);
  metrics.syncErrors(m.entity, m.invalid ?? 0, 'invalid_row');
  if (m.status === 'failed') metrics.syncErrors(m.entity, 1, 'run_failed');
  metrics.dataverseRequests(m.entity, m.requests ?? 0);
  metrics.dataverseThrottled(m.entity, m.throttled ?? 0);
  const slot = Date.parse(m.slot);
  if (m.status !== 'failed' && Number.isFinite(slot)) {
    metrics.lag(m.entity, (m.finishedAt.getTime() - slot) / 1000);
  }
  const outcome = m.status === 'failed' ? 'failed' : m.status === 'succeeded' ? 'succeeded' : 'partial';
  metrics.runDuration(m.entity, (m.finishedAt.getTime() - m.startedAt.getTime()) / 1000, outcome);
}
