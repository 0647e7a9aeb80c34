// One initial load of the contacts in a fresh process, so its peak RSS is its own: sequential (one
// tracked chain of full pages) or parallel (keys-only tracked read, then createdon ranges at once),
// through composeSync into a store that counts documents and keeps none. Prints `RESULT {json}`.
// Usage: node bench/support/initial-load.child.ts '<json LoadInput>'
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { composeSync } from '../../shared/app/sync.composition';
import { buildCatalog, DEFAULT_SYNC_CONFIG } from '../../shared/config/sync-config.schema';
import { DataversePersonRowGateway } from '../../shared/dataverse/person-row.gateway';
import type { RecordDocument } from '../../shared/domain/record.model';
import { InProcessJobQueue } from '../../shared/queue/in-process.job-queue';
import { QueuedPushRetries } from '../../shared/queue/push-retry.scheduler';
import { InMemoryRecordStore } from '../../shared/sync/in-memory.record-store';
import {
  InMemoryCheckpointStore,
  InMemoryErrorSink,
  InMemoryRunSink,
} from '../../shared/sync/in-memory.sync-state';
import { IGNORE_PROGRESS, type RecordStore, type WriteOutcome } from '../../shared/sync/ports';
import { createLogger } from '../../shared/telemetry/logger';
import { runThenExit } from './run-then-exit';
import { connectToBenchSimulator } from './simulator.connection';

export interface LoadInput {
  mode: 'sequential' | 'parallel';
  sim: { url: string; tenantId: string; tokenEndpoint: string };
  concurrency: number;
}

export interface LoadResult {
  mode: LoadInput['mode'];
  rows: number;
  written: number;
  ms: number;
  requests: number;
  throttled: number;
  /** Peak RSS of this process from the kernel (VmHWM), as seen from outside. */
  peakRss: number;
  heapUsedAtEnd: number;
  phase: string;
}

/** Counts what the sync writes and keeps none of it: the documents leave the sync's heap at once. */
class CountingSink implements RecordStore {
  written = 0;
  readonly preferredWriteBatch = undefined;
  findForPage() {
    return Promise.resolve({ docs: [], invalid: [] });
  }
  write(docs: readonly RecordDocument[]): Promise<WriteOutcome> {
    this.written += docs.length;
    return Promise.resolve({ written: docs.length, conflicts: [] });
  }
  read() {
    return Promise.resolve(undefined);
  }
  // eslint-disable-next-line require-yield
  async *recordsOf() {
    return;
  }
  hasRecordsOf() {
    return Promise.resolve(false);
  }
  aliasesOf() {
    return Promise.resolve(new Map<string, string>());
  }
  registerAlias() {
    return Promise.resolve();
  }
}

const peakRssKernel = (): number => {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = /VmHWM:\s+(\d+)/.exec(status)?.[1];
  return kb !== undefined ? Number(kb) * 1024 : process.memoryUsage.rss();
};

const main = async (): Promise<void> => {
  const input = JSON.parse(process.argv[2] ?? '{}') as LoadInput;
  const dataverse = connectToBenchSimulator(input.sim);
  const sink = new CountingSink();
  const queue = new InProcessJobQueue();
  const catalog = buildCatalog(DEFAULT_SYNC_CONFIG);
  const sync = composeSync(
    {
      dataverse: () => ({
        source: dataverse.reader,
        rows: new DataversePersonRowGateway(dataverse.client),
        counters: () => dataverse.governor.counters(),
      }),
      recordsFor: () => sink,
      people: new InMemoryRecordStore('person'),
      checkpoints: new InMemoryCheckpointStore(),
      errors: new InMemoryErrorSink(),
      runs: new InMemoryRunSink(),
      queue,
      retries: new QueuedPushRetries(queue, 'push-retry'),
    },
    {
      catalog,
      syncConfig: DEFAULT_SYNC_CONFIG,
      enabledEntities: ['contact'],
      pullQueue: 'pull-jobs',
      pushRetryQueue: 'push-retry',
      timeBudgetMs: 3_600_000,
      pushBatchSize: 100,
      ...(input.mode === 'parallel'
        ? { parallelLoad: { entities: ['contact'], concurrency: input.concurrency } }
        : {}),
    },
  );
  const log = createLogger(
    { debug() {}, info() {}, warn: console.error, error: console.error },
    { level: 'warn' },
  );
  let rows = 0;
  const started = performance.now();
  let phase = 'initial';
  for (let job = 0; job < 100; job += 1) {
    const result = await sync.pullEntity(
      'contact',
      {},
      {
        log,
        observer: {
          ...IGNORE_PROGRESS,
          pageRead: (_entity, records) => {
            rows += records;
          },
        },
      },
    );
    phase = result.phase;
    if (result.outcome !== 'continue') break;
  }
  const ms = performance.now() - started;
  const counters = dataverse.governor.counters();
  const out: LoadResult = {
    mode: input.mode,
    rows,
    written: sink.written,
    ms,
    requests: counters.requests,
    throttled: counters.throttled,
    peakRss: peakRssKernel(),
    heapUsedAtEnd: process.memoryUsage().heapUsed,
    phase,
  };
  process.stdout.write(`RESULT ${JSON.stringify(out)}\n`);
  await queue.close();
};

runThenExit(main);
