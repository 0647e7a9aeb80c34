/**
 * Metric names as they appear in Application Insights (customMetrics.name). The alert rules in
 * infra/alerts.tf query these names; the infra tests keep the two in step.
 */
export const METRIC_NAMES = {
  recordsPulled: 'sync.records.pulled',
  recordsPushed: 'sync.records.pushed',
  syncErrors: 'sync.errors',
  lagSeconds: 'sync.lag',
  dataverseRequests: 'dataverse.requests',
  dataverseThrottled: 'dataverse.throttled',
  runDuration: 'sync.run.duration',
  verifyDrift: 'sync.verify.drift',
} as const;

export type MetricKey = keyof typeof METRIC_NAMES;
export type MetricName = (typeof METRIC_NAMES)[MetricKey];

/** Per-entity sync figures. Every call carries the entity so dashboards and alerts split by it. */
export interface SyncMetrics {
  recordsPulled(entity: string, count: number): void;
  recordsPushed(entity: string, count: number): void;
  syncErrors(entity: string, count: number, kind?: string): void;
  /** Age in seconds of the newest change the sync has copied for the entity. */
  lag(entity: string, seconds: number): void;
  dataverseRequests(entity: string, count: number): void;
  /** Dataverse 429 (service protection) responses. */
  dataverseThrottled(entity: string, count: number): void;
  /** One finished run (a pull job or a push batch) and how long it took. */
  runDuration(entity: string, seconds: number, outcome: 'succeeded' | 'failed' | 'partial'): void;
  /** Drift a verify found for the entity (0 when Cosmos DB and Dynamics agree). */
  verifyDrift(entity: string, drift: number): void;
}

export interface RecordedMetric {
  name: MetricName;
  value: number;
  dimensions: Record<string, string>;
}

/** Keeps every measurement; for tests and for the local stack's summary. */
export class InMemorySyncMetrics implements SyncMetrics {
  readonly recorded: RecordedMetric[] = [];

  private add(key: MetricKey, value: number, dimensions: Record<string, string>): void {
    this.recorded.push({ name: METRIC_NAMES[key], value, dimensions });
  }

  recordsPulled(entity: string, count: number): void {
    this.add('recordsPulled', count, { entity });
  }
  recordsPushed(entity: string, count: number): void {
    this.add('recordsPushed', count, { entity });
  }
  syncErrors(entity: string, count: number, kind = 'unknown'): void {
    this.add('syncErrors', count, { entity, kind });
  }
  lag(entity: string, seconds: number): void {
    this.add('lagSeconds', seconds, { entity });
  }
  dataverseRequests(entity: string, count: number): void {
    this.add('dataverseRequests', count, { entity });
  }
  dataverseThrottled(entity: string, count: number): void {
    this.add('dataverseThrottled', count, { entity });
  }
  runDuration(entity: string, seconds: number, outcome: 'succeeded' | 'failed' | 'partial'): void {
    this.add('runDuration', seconds, { entity, outcome });
  }
  verifyDrift(entity: string, drift: number): void {
    this.add('verifyDrift', drift, { entity });
  }

  /** Sum of one metric, optionally for one entity. */
  total(key: MetricKey, entity?: string): number {
    return this.recorded
      .filter((m) => m.name === METRIC_NAMES[key] && (entity === undefined || m.dimensions.entity === entity))
      .reduce((sum, m) => sum + m.value, 0);
  }
}

const ignore = (): void => undefined;

/** For runs without Application Insights (local stack, CLI). */
export const noopSyncMetrics: SyncMetrics = {
  recordsPulled: ignore,
  recordsPushed: ignore,
  syncErrors: ignore,
  lag: ignore,
  dataverseRequests: ignore,
  dataverseThrottled: ignore,
  runDuration: ignore,
  verifyDrift: ignore,
};
