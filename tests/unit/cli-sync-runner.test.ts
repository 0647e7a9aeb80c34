import { composeSync } from '../../shared/app/sync.composition';
import { runSyncOnce, type EntityProgress, type SyncOnceReport } from '../../shared/cli/sync-once.runner';
import { renderSummary } from '../../shared/cli/sync-summary.table';
import { EntityCatalog } from '../../shared/config/entity.catalog';
import { InProcessJobQueue } from '../../shared/queue/in-process.job-queue';
import { QueuedPushRetries } from '../../shared/queue/push-retry.scheduler';
import { DEFAULT_SYNC_CONFIG } from '../../shared/config/sync-config.schema';
import { InMemoryRecordStore } from '../../shared/sync/in-memory.record-store';
import {
  InMemoryCheckpointStore,
  InMemoryErrorSink,
  InMemoryRunSink,
} from '../../shared/sync/in-memory.sync-state';
import type { ChangePage, ChangeSource, PersonRowGateway, ReadChangesOptions } from '../../shared/sync/ports';
import { createLogger } from '../../shared/telemetry/logger';
import { accountRow, noModifiedPages } from './domain-fixtures';

const quiet = createLogger({ debug() {}, info() {}, warn() {}, error() {} });
const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

/** A delta feed of accounts paged by a cursor in the link; can fail the first reads. */
class FakeFeed implements ChangeSource {
  failures = 0;
  reads = 0;
  constructor(
    private readonly rows: Record<string, unknown>[],
    private readonly pageSize = 3,
  ) {}

  async *readChanges(options: ReadChangesOptions): AsyncGenerator<ChangePage> {
    this.reads += 1;
    if (this.failures > 0) {
      this.failures -= 1;
      throw Object.assign(new Error('Dataverse answered 503'), { code: 'unavailable', retryable: true });
    }
    if (options.resumeLink?.startsWith('delta:')) {
      yield { rows: [], deleted: [], isDelta: true, deltaLink: 'delta:1' };
      return;
    }
    let start = options.resumeLink !== undefined ? Number(options.resumeLink.slice('page:'.length)) : 0;
    for (;;) {
      const rows = this.rows.slice(start, start + this.pageSize);
      start += this.pageSize;
      const more = start < this.rows.length;
      yield {
        rows,
        deleted: [],
        isDelta: false,
        ...(more ? { nextLink: `page:${start}` } : { deltaLink: 'delta:0' }),
      };
      if (!more) return;
    }
  }

  queryModifiedSince = noModifiedPages;
  readRows = noModifiedPages;
  readRange = noModifiedPages;
}

/** The sync never pushes here: a gateway that says so if it is ever called. */
const noRows: PersonRowGateway = {
  update: () => Promise.reject(new Error('no push in this test')),
  read: () => Promise.reject(new Error('no push in this test')),
  create: () => Promise.reject(new Error('no push in this test')),
  findActiveByEmail: () => Promise.reject(new Error('no push in this test')),
  readOwner: () => Promise.reject(new Error('no push in this test')),
  assign: () => Promise.reject(new Error('no push in this test')),
  createTask: () => Promise.reject(new Error('no push in this test')),
};

function harness(rows: number, options: { timeBudgetMs?: number; queue?: InProcessJobQueue } = {}) {
  const feed = new FakeFeed(
    Array.from({ length: rows }, (_, i) => accountRow({ accountid: id(i) }, 100 + i)),
  );
  const accounts = new InMemoryRecordStore('generic');
  const checkpoints = new InMemoryCheckpointStore();
  const errors = new InMemoryErrorSink();
  const runs = new InMemoryRunSink();
  const updates: EntityProgress[] = [];
  const catalog = new EntityCatalog();
  const entities = [catalog.get('account')];
  /** One run, as one CLI invocation makes it: the composition on a queue of its own. */
  const run = async (): Promise<SyncOnceReport> => {
    const queue = options.queue ?? new InProcessJobQueue({ maxDeliveryCount: 3, redeliveryDelayMs: 1 });
    const sync = composeSync(
      {
        dataverse: () => ({ source: feed, rows: noRows, counters: () => ({ requests: 0, throttled: 0 }) }),
        recordsFor: () => accounts,
        people: new InMemoryRecordStore('person'),
        checkpoints,
        errors,
        runs,
        queue,
        retries: new QueuedPushRetries(queue, 'push-retry'),
      },
      {
        catalog,
        syncConfig: DEFAULT_SYNC_CONFIG,
        enabledEntities: ['account'],
        pullQueue: 'pull-jobs',
        pushRetryQueue: 'push-retry',
        timeBudgetMs: options.timeBudgetMs ?? 60_000,
        pushBatchSize: 100,
      },
    );
    try {
      return await runSyncOnce(entities, {
        sync,
        queue,
        queueName: 'pull-jobs',
        schedule: '0 */1 * * * *',
        log: quiet,
        onProgress: (p) => updates.push({ ...p }),
      });
    } finally {
      if (options.queue === undefined) await queue.close();
    }
  };
  return { feed, accounts, checkpoints, errors, runs, updates, run };
}

describe('runSyncOnce (scheduler and pullers on the in-process queue)', () => {
  it('follows the continuation chain to the end of the feed and reports per entity', async () => {
    // A zero budget ends every job after one page: only the chain of continuations loads everything.
    const h = harness(10, { timeBudgetMs: 0 });
    const report = await h.run();
    expect(report.ok).toBe(true);
    expect(h.accounts.size).toBe(10);
    const account = report.entities[0] as EntityProgress;
    // Four load pages, then the first delta read that proves the entity caught up.
    expect(account).toMatchObject({ entity: 'account', status: 'synced', read: 10, written: 10, pages: 5 });
    expect(account.jobs).toBeGreaterThanOrEqual(4);
    const statuses = [...h.runs.runs.values()].map((r) => r.status);
    expect(statuses.filter((s) => s === 'continued').length).toBe(account.jobs - 1);
    expect(statuses.at(-1)).toBe('succeeded');
    expect((await h.checkpoints.get('account'))?.phase).toBe('delta');
    // Progress was reported while it ran, not only at the end.
    expect(
      h.updates.filter((u) => u.status === 'running' && u.read > 0 && u.read < 10).length,
    ).toBeGreaterThan(0);

    // A second run reads the (empty) delta and writes nothing.
    const again = await h.run();
    expect(again.entities[0]).toMatchObject({ status: 'synced', written: 0, jobs: 1 });
    expect(h.accounts.writes).toBe(10);
  });

  it('redelivers a job whose failure is retryable, and succeeds', async () => {
    const h = harness(4);
    h.feed.failures = 2;
    const report = await h.run();
    expect(report.ok).toBe(true);
    expect(report.entities[0]).toMatchObject({ status: 'synced', jobs: 3, written: 4 });
    expect(report.deadLetters).toHaveLength(0);
  });

  it('fails the run when retries are exhausted, naming the cause', async () => {
    const h = harness(4);
    h.feed.failures = 99;
    const report = await h.run();
    expect(report.ok).toBe(false);
    expect(h.feed.reads).toBe(3);
    expect(report.entities[0]?.status).toBe('failed');
    expect(report.entities[0]?.detail).toMatch(
      /retries exhausted after 3 deliveries: Dataverse answered 503/,
    );
    expect(report.deadLetters[0]).toMatchObject({ reason: 'MaxDeliveryCountExceeded' });
    const summary = renderSummary(report);
    expect(summary).toMatch(/account: failed: retries exhausted/);
    expect(summary).toMatch(/dead-lettered pull:account:/);
    expect(summary).toMatch(/NOT OK/);
  });

  it('dead-letters a malformed job with its reason, like the Functions puller, and goes on', async () => {
    const queue = new InProcessJobQueue({ maxDeliveryCount: 3, redeliveryDelayMs: 1 });
    const h = harness(4, { queue });
    // Sent before the run starts, so it is the first job of the account session.
    await queue.send('pull-jobs', [
      {
        body: { kind: 'pull', entity: 'account', reason: 'whenever' },
        messageId: 'bad-1',
        sessionId: 'account',
      },
    ]);
    const report = await h.run();
    await queue.close();
    expect(report.deadLetters).toHaveLength(1);
    expect(report.deadLetters[0]).toMatchObject({
      reason: 'InvalidPullJob',
      message: { messageId: 'bad-1' },
    });
    expect(report.deadLetters[0]?.description).toMatch(/^reason: .*; correlationId: .*slot: /);
    // The entity's own job still ran after it: the run is fine, and the bad message is a recorded error.
    expect(report.entities[0]).toMatchObject({ status: 'synced', written: 4, errors: 1 });
    expect(report.ok).toBe(true);
    expect(h.errors.list('account')[0]).toMatchObject({ code: 'invalid_message', recordId: 'bad-1' });
    const summary = renderSummary(report);
    expect(summary).toMatch(/dead-lettered bad-1: InvalidPullJob \(reason: /);
    // Synced, but not clean: the total says so, and so does the exit code of the command.
    expect(summary).toMatch(/│ total .*│ errors +│/);
    expect(summary).toMatch(/1 sync error\(s\) recorded in this run/);
  });

  it('a non-retryable failure completes the job as failed, recorded as a sync error', async () => {
    const h = harness(4);
    h.feed.readChanges = async function* () {
      yield* [];
      throw Object.assign(new Error('bad response from Dataverse'), {
        code: 'bad_response',
        retryable: false,
      });
    };
    const report = await h.run();
    expect(report.ok).toBe(false);
    expect(report.entities[0]).toMatchObject({ status: 'failed', jobs: 1, errors: 1 });
    expect(report.entities[0]?.detail).toMatch(/bad response from Dataverse/);
    expect(h.errors.list('account')[0]).toMatchObject({ code: 'bad_response', operation: 'pull' });
    expect(report.deadLetters).toHaveLength(0);
  });
});
