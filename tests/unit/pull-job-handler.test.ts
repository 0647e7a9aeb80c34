import { EntityCatalog } from '../../shared/config/entity.catalog';
import { DEFAULT_SYNC_CONFIG } from '../../shared/config/sync-config.schema';
import type { RunRecord } from '../../shared/domain/run-record.model';
import type { SyncErrorInput } from '../../shared/domain/sync-error.model';
import { CosmosStoreError } from '../../shared/cosmos/cosmos.errors';
import type { OutgoingMessage } from '../../shared/queue/job-queue.port';
import { runPullJob, type PullJobDeps } from '../../shared/sync/pull-job.handler';
import type { PullResult } from '../../shared/sync/pull.use-case';
import { createLogger } from '../../shared/telemetry/logger';
import { InMemorySyncMetrics } from '../../shared/telemetry/sync-metrics';
import { IGNORE_PROGRESS } from '../../shared/sync/ports';

const stats = {
  pages: 1,
  rows: 5,
  deleted: 0,
  written: 4,
  unchanged: 1,
  excluded: 0,
  invalid: 0,
  conflicts: 0,
  retries: 0,
  markedDeleted: 0,
};

const job = {
  kind: 'pull',
  entity: 'contact',
  reason: 'schedule',
  correlationId: 'corr-1',
  slot: '2026-01-01T00:00:00.000Z',
  requestedAt: '2026-01-01T00:00:01.000Z',
  sequence: 0,
};

function harness(pull: PullJobDeps['pull']) {
  const runs: RunRecord[] = [];
  const errors: SyncErrorInput[] = [];
  const sent: OutgoingMessage[] = [];
  let requests = 10;
  const counters = { throttled: 0 };
  const deps: PullJobDeps = {
    runs: { save: async (run) => void runs.push(run) },
    catalog: new EntityCatalog(),
    enabledEntities: ['lead', 'contact', 'account', 'opportunity', 'systemuser', 'team'],
    syncConfig: DEFAULT_SYNC_CONFIG,
    errors: { record: async (error) => void errors.push(error), resolve: async () => 0 },
    queue: { send: async (_queue, messages) => void sent.push(...messages), close: async () => undefined },
    queueName: 'pull-jobs',
    log: createLogger({ debug() {}, info() {}, warn() {}, error() {} }),
    pull: async (...args) => {
      requests += 7;
      return pull(...args);
    },
    observer: IGNORE_PROGRESS,
    dataverseCounters: () => ({ requests, throttled: counters.throttled }),
    now: () => new Date('2026-01-01T00:00:02.000Z'),
  };
  return { deps, runs, errors, sent, counters };
}

const result = (outcome: PullResult['outcome'], extra: Partial<PullResult> = {}): PullResult => ({
  outcome,
  phase: 'delta',
  stats,
  resynced: false,
  ...extra,
});

describe('pull job handler', () => {
  it('records a malformed message as a queue error and completes without throwing', async () => {
    const h = harness(async () => result('done'));
    const outcome = await runPullJob({ kind: 'pull', entity: 'contact' }, { messageId: 'm-bad' }, h.deps);
    expect(outcome.status).toBe('rejected');
    expect(h.errors).toEqual([
      expect.objectContaining({
        entity: 'contact',
        recordId: 'm-bad',
        operation: 'queue',
        code: 'invalid_message',
      }),
    ]);
    expect(h.errors[0]?.message).toMatch(/reason/);
    expect(h.runs).toHaveLength(0);
  });

  it('rejects an unknown entity the same way, under the queue partition that the error listing reads', async () => {
    const h = harness(async () => result('done'));
    await expect(
      runPullJob({ ...job, entity: 'nosuch' }, { messageId: 'm1' }, h.deps),
    ).resolves.toMatchObject({
      status: 'rejected',
    });
    expect(h.errors[0]).toMatchObject({ entity: 'queue', code: 'invalid_message' });
    expect(h.errors[0]?.message).toMatch(/unknown entity "nosuch"/);
    await runPullJob('not json at all', { messageId: 'm2' }, h.deps);
    expect(h.errors[1]).toMatchObject({ entity: 'queue', excerpt: 'not json at all' });
  });

  it('files a malformed job under its entity only when that entity is synced here', async () => {
    const h = harness(async () => result('done'));
    const deps = { ...h.deps, enabledEntities: ['lead', 'contact'] };
    await runPullJob({ kind: 'pull', entity: 'contact' }, { messageId: 'm-enabled' }, deps);
    // Known to the catalog but not in SYNC_ENTITIES: a partition the error listing does not read.
    await runPullJob({ kind: 'pull', entity: 'opportunity' }, { messageId: 'm-disabled' }, deps);
    expect(h.errors.map((e) => [e.recordId, e.entity])).toEqual([
      ['m-enabled', 'contact'],
      ['m-disabled', 'queue'],
    ]);
  });

  it('reads a job given as JSON text or bytes (the SDK binding without a JSON content type)', async () => {
    const h = harness(async () => result('done'));
    expect((await runPullJob(JSON.stringify(job), { messageId: 'm-text' }, h.deps)).status).toBe('succeeded');
    const bytes = Buffer.from(JSON.stringify(job));
    expect((await runPullJob(bytes, { messageId: 'm-bytes' }, h.deps)).status).toBe('succeeded');
    expect(h.errors).toEqual([]);
  });

  it('names a body that is not JSON, without echoing it in the reason, and redacts the excerpt', async () => {
    const h = harness(async () => result('done'));
    const body = Buffer.from('{"kind":"pull", SharedAccessKey=abc123 truncated');
    const outcome = await runPullJob(body, { messageId: 'm-junk' }, h.deps);
    expect(outcome).toEqual({ status: 'rejected', reason: `(body): not JSON (${body.length} bytes)` });
    expect(h.errors[0]).toMatchObject({ entity: 'queue', recordId: 'm-junk', code: 'invalid_message' });
    expect(h.errors[0]?.excerpt).toContain('SharedAccessKey=[redacted]');
    expect(h.errors[0]?.excerpt).not.toContain('abc123');
  });

  it('records a run with counts and Dataverse requests', async () => {
    const h = harness(async () => result('done'));
    expect((await runPullJob(job, { messageId: 'pull:contact:x' }, h.deps)).status).toBe('succeeded');
    expect(h.runs.map((r) => r.status)).toEqual(['running', 'succeeded']);
    expect(h.runs[1]).toMatchObject({ id: 'run:pull:contact:x', records: 4, requests: 7, entity: 'contact' });
    expect(h.sent).toHaveLength(0);
  });

  it('enqueues a continuation in the same session when the budget ran out', async () => {
    const h = harness(async () => result('continue', { phase: 'initial' }));
    expect((await runPullJob({ ...job, sequence: 2 }, { messageId: 'm' }, h.deps)).status).toBe('continued');
    expect(h.sent).toEqual([
      expect.objectContaining({
        messageId: 'pull:contact:2026-01-01T00:00:00.000Z:continuation:3',
        sessionId: 'contact',
        correlationId: 'corr-1',
        body: expect.objectContaining({ reason: 'continuation', sequence: 3, entity: 'contact' }),
      }),
    ]);
    expect(h.runs[1]?.status).toBe('continued');
  });

  it('passes resync and manual intents to the pull', async () => {
    const seen: unknown[] = [];
    const h = harness(async (_profile, options) => {
      seen.push(options);
      return result('done');
    });
    await runPullJob({ ...job, reason: 'resync' }, { messageId: 'r1' }, h.deps);
    await runPullJob({ ...job, reason: 'manual' }, { messageId: 'm1' }, h.deps);
    await runPullJob(job, { messageId: 's1' }, h.deps);
    expect(seen).toEqual([
      { correlationId: 'corr-1', resyncLoadId: 'resync:r1', resume: true },
      { correlationId: 'corr-1', resume: true },
      { correlationId: 'corr-1' },
    ]);
  });

  it('rethrows retryable failures so Service Bus redelivers, after recording the failed run', async () => {
    const h = harness(async () => {
      throw new CosmosStoreError('throttled', 'busy');
    });
    await expect(runPullJob(job, { messageId: 'm' }, h.deps)).rejects.toThrow('busy');
    expect(h.runs[1]).toMatchObject({ status: 'failed', error: { code: 'throttled' } });
    expect(h.errors).toHaveLength(0);
  });

  it('completes non-retryable failures with an error record, so the session is not blocked', async () => {
    const h = harness(async () => {
      throw new CosmosStoreError('failed', 'bad request');
    });
    await expect(runPullJob(job, { messageId: 'm' }, h.deps)).resolves.toEqual({
      status: 'failed',
      reason: 'bad request',
    });
    expect(h.errors[0]).toMatchObject({ entity: 'contact', code: 'failed', operation: 'pull' });
  });

  it('reports a paused entity as a paused run carrying the reason', async () => {
    const h = harness(async () =>
      result('paused', { paused: { code: 'unknown_column', reason: 'column x is gone', at: 'now' } }),
    );
    expect((await runPullJob(job, { messageId: 'm' }, h.deps)).status).toBe('paused');
    expect(h.runs[1]).toMatchObject({ status: 'paused', error: { code: 'unknown_column' } });
    expect(h.runs[1]?.error?.message).toMatch(/column x is gone/);
  });

  it('records the run in per-entity metrics: records, requests, 429s and lag from the slot', async () => {
    const h = harness(async () => result('done'));
    const metrics = new InMemorySyncMetrics();
    h.counters.throttled = 3;
    h.deps.metrics = metrics;
    const pull = h.deps.pull;
    // Two 429s answered while the job ran.
    h.deps.pull = async (...args) => {
      h.counters.throttled += 2;
      return pull(...args);
    };
    await runPullJob(job, { messageId: 'm' }, h.deps);
    const value = (name: string) =>
      metrics.recorded
        .filter((m) => m.name === name && m.dimensions.entity === 'contact')
        .map((m) => m.value);
    expect(value('sync.records.pulled')).toEqual([4]);
    expect(value('dataverse.requests')).toEqual([7]);
    expect(value('dataverse.throttled')).toEqual([2]);
    // The job ran at 00:00:02 for the 00:00:00 slot.
    expect(value('sync.lag')).toEqual([2]);
  });
});
