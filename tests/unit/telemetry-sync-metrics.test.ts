import { createTelemetry } from '../../shared/telemetry/app-insights.telemetry';
import { InMemorySyncMetrics, METRIC_NAMES, noopSyncMetrics } from '../../shared/telemetry/sync-metrics';
import { recordPull } from '../../shared/telemetry/pull-metrics.recorder';
import { TelemetryError } from '../../shared/telemetry/telemetry.errors';
import { parseAuthenticationString } from '../../shared/telemetry/telemetry.settings';

describe('InMemorySyncMetrics', () => {
  it('keeps every measurement with its entity and sums per entity', () => {
    const metrics = new InMemorySyncMetrics();
    metrics.recordsPulled('lead', 10);
    metrics.recordsPulled('lead', 5);
    metrics.recordsPulled('contact', 2);
    metrics.syncErrors('lead', 1, 'validation');
    metrics.runDuration('lead', 3.5, 'partial');
    expect(metrics.total('recordsPulled', 'lead')).toBe(15);
    expect(metrics.total('recordsPulled')).toBe(17);
    expect(metrics.recorded).toContainEqual({
      name: METRIC_NAMES.syncErrors,
      value: 1,
      dimensions: { entity: 'lead', kind: 'validation' },
    });
    expect(metrics.recorded).toContainEqual({
      name: METRIC_NAMES.runDuration,
      value: 3.5,
      dimensions: { entity: 'lead', outcome: 'partial' },
    });
  });

  it('metric names are unique, so no alert can read the wrong metric', () => {
    const names = Object.values(METRIC_NAMES);
    expect(new Set(names).size).toBe(names.length);
  });

  it('the no-op accepts every call', () => {
    expect(() => {
      noopSyncMetrics.lag('lead', 1);
      noopSyncMetrics.dataverseThrottled('lead', 1);
    }).not.toThrow();
  });
});

describe('parseAuthenticationString', () => {
  it('reads the client id of Entra ingestion, case-insensitively', () => {
    expect(parseAuthenticationString('ClientId=abc;Authorization=AAD')).toEqual({
      authorization: 'AAD',
      clientId: 'abc',
    });
    expect(parseAuthenticationString('authorization=aad')).toEqual({ authorization: 'AAD' });
  });

  it('is undefined when ingestion is not Entra-authenticated', () => {
    expect(parseAuthenticationString(undefined)).toBeUndefined();
    expect(parseAuthenticationString('ClientId=abc')).toBeUndefined();
  });
});

describe('createTelemetry without a connection string', () => {
  it('is disabled and still runs the work of an operation', async () => {
    const telemetry = createTelemetry({ APPLICATIONINSIGHTS_CONNECTION_STRING: '' });
    expect(telemetry.enabled).toBe(false);
    await expect(
      telemetry.operation({ name: 'pull lead', correlationId: 'c' }, async () => 42),
    ).resolves.toBe(42);
    await expect(telemetry.flush()).resolves.toBeUndefined();
    await telemetry.shutdown();
  });

  it('rejects a connection string whose ingestion endpoint is not a URL', () => {
    expect(() =>
      createTelemetry({
        APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=x;IngestionEndpoint=not a url',
      }),
    ).toThrow(TelemetryError);
  });
});

describe('recordPull', () => {
  const base = {
    entity: 'contact',
    slot: '2025-01-01T10:00:00.000Z',
    startedAt: new Date('2025-01-01T10:00:05.000Z'),
    finishedAt: new Date('2025-01-01T10:00:35.000Z'),
  };

  it('records rows, requests, 429s, lag from the slot and duration for a finished run', () => {
    const metrics = new InMemorySyncMetrics();
    recordPull(metrics, {
      ...base,
      status: 'succeeded',
      written: 40,
      invalid: 2,
      requests: 12,
      throttled: 3,
    });
    expect(metrics.total('recordsPulled', 'contact')).toBe(40);
    expect(metrics.total('syncErrors', 'contact')).toBe(2);
    expect(metrics.total('dataverseRequests', 'contact')).toBe(12);
    expect(metrics.total('dataverseThrottled', 'contact')).toBe(3);
    expect(metrics.total('lagSeconds', 'contact')).toBe(35);
    expect(metrics.recorded).toContainEqual({
      name: METRIC_NAMES.runDuration,
      value: 30,
      dimensions: { entity: 'contact', outcome: 'succeeded' },
    });
  });

  it('a failed run counts as an error, reports no lag and a failed duration', () => {
    const metrics = new InMemorySyncMetrics();
    recordPull(metrics, { ...base, status: 'failed' });
    expect(metrics.total('syncErrors', 'contact')).toBe(1);
    expect(metrics.recorded.some((m) => m.name === METRIC_NAMES.lagSeconds)).toBe(false);
    expect(metrics.recorded.find((m) => m.name === METRIC_NAMES.runDuration)?.dimensions.outcome).toBe(
      'failed',
    );
  });
});
