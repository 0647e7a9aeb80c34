// One benchmark phase in a fresh process, so its peak RSS is its own: an initial load of contacts and
// accounts through the CLI's runner (scheduler, in-process queue, job handler, pull use case), then
// 1k edits made through the simulator's control API and an incremental sync; for Cosmos also the
// stand-in's raw write rate for the same documents. Prints one line `RESULT {json}`.
// Usage: node --import tsx bench/support/pull-phase.child.ts '<json PhaseInput>'
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Container } from '@azure/cosmos';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET } from '../../local/dataverse/simulator.options';
import { createAppServices } from '../../shared/app/app.services';
import { composeSync, type SyncAdapters, type SyncSettings } from '../../shared/app/sync.composition';
import { runSyncOnce, type SyncOnceReport } from '../../shared/cli/sync-once.runner';
import { CONTAINERS, type ContainerKey, type EntityCatalog } from '../../shared/config/entity.catalog';
import { buildCatalog, DEFAULT_SYNC_CONFIG } from '../../shared/config/sync-config.schema';
import { provisionCosmos } from '../../shared/cosmos/cosmos.provisioning';
import { RecordRepository } from '../../shared/cosmos/record.repository';
import type { DataverseConnection } from '../../shared/dataverse';
import { DataversePersonRowGateway } from '../../shared/dataverse/person-row.gateway';
import { buildEntityProfile, type EntityProfile } from '../../shared/domain/entity.profile';
import type { RecordDocument } from '../../shared/domain/record.model';
import { planPage } from '../../shared/domain/page.planner';
import { InProcessJobQueue } from '../../shared/queue/in-process.job-queue';
import { QueuedPushRetries } from '../../shared/queue/push-retry.scheduler';
import { InMemoryRecordStore } from '../../shared/sync/in-memory.record-store';
import {
  InMemoryCheckpointStore,
  InMemoryErrorSink,
  InMemoryRunSink,
} from '../../shared/sync/in-memory.sync-state';
import type { ChangeSource, RecordStore, WriteOutcome } from '../../shared/sync/ports';
import { createLogger } from '../../shared/telemetry/logger';
import { runThenExit } from './run-then-exit';
import { connectToBenchSimulator } from './simulator.connection';

export interface PhaseInput {
  target: 'memory' | 'cosmos';
  sim: { url: string; tenantId: string; tokenEndpoint: string };
  cosmos?: { endpoint: string; key: string };
  changes: number;
  /** Tag that makes this phase's edits differ from an earlier phase's. */
  tag: string;
}

export interface SyncFigures {
  read: number;
  written: number;
  ms: number;
  requests: number;
  ok: boolean;
  /** Where the time went (summed over both entities, which run at once, so it can exceed `ms`). */
  split: Split;
  /** Peak RSS while this stage ran. */
  peakRss: number;
}

export interface Split {
  dataverseMs: number;
  findMs: number;
  writeMs: number;
  checkpointMs: number;
  /** Wall time from the start of the stage to its first store write (writeMs: with any write in flight). */
  firstWriteAtMs: number;
  /** Wall time with no store write in flight (the store idles unless something else reads it). */
  noWriteMs: number;
}

export interface PhaseResult {
  target: PhaseInput['target'];
  initial: SyncFigures;
  /** Absent when the phase ran without edits (changes 0). */
  incremental?: SyncFigures & { changes: number };
  raw?: { docs: number; ms: number };
  peakRss: number;
  /** The kernel's high-water mark for the whole process, raw-write baseline included. */
  peakRssKernel: number;
  rssAfterLoad: number;
  heapAfterLoad: number;
  /** Estimated JSON size of what the in-memory store holds (part of the RSS in the memory phase). */
  storeBytes?: number;
}

const ENTITIES = ['contact', 'account'] as const;

const figures = (report: SyncOnceReport, split: Split, peakRss: number): SyncFigures => ({
  read: report.entities.reduce((sum, e) => sum + e.read, 0),
  written: report.entities.reduce((sum, e) => sum + e.written, 0),
  ms: report.durationMs,
  requests: report.requests ?? 0,
  ok: report.ok,
  split: { ...split },
  peakRss,
});

/** The adapters of one phase (in memory, or the app's Cosmos repositories), without the queue. */
type PhaseAdapters = Omit<SyncAdapters, 'queue' | 'retries'>;

/** The sync's Dataverse side over one connection, in memory or against Cosmos alike. */
const dataverseAdapters =
  (connection: DataverseConnection): PhaseAdapters['dataverse'] =>
  () => ({
    source: connection.reader,
    rows: new DataversePersonRowGateway(connection.client),
    counters: () => connection.governor.counters(),
  });

/** Wraps the ports with stopwatches, to say which step limits the rate. */
function timed(adapters: PhaseAdapters, split: Split): { adapters: PhaseAdapters; end: () => void } {
  const clock = async <T>(key: keyof Split, work: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await work();
    } finally {
      split[key] += performance.now() - t0;
    }
  };
  const started = performance.now();
  let writing = 0;
  let idleSince: number | undefined = started;
  let busySince = started;
  // Write calls overlap (chunks of a page, two entities), so writeMs is the time with any in flight.
  const writeClock = async <T>(work: () => Promise<T>): Promise<T> => {
    if (writing++ === 0 && idleSince !== undefined) {
      if (split.firstWriteAtMs === 0) split.firstWriteAtMs = performance.now() - started;
      split.noWriteMs += performance.now() - idleSince;
      busySince = performance.now();
      idleSince = undefined;
    }
    try {
      return await work();
    } finally {
      if (--writing === 0) {
        idleSince = performance.now();
        split.writeMs += idleSince - busySince;
      }
    }
  };
  async function* pages<T>(iterable: AsyncIterable<T>): AsyncGenerator<T> {
    const iterator = iterable[Symbol.asyncIterator]();
    for (;;) {
      const next = await clock('dataverseMs', () => iterator.next());
      if (next.done === true) return;
      yield next.value;
    }
  }
  const stores = new Map<ContainerKey, RecordStore>();
  const end = () => {
    if (idleSince !== undefined) split.noWriteMs += performance.now() - idleSince;
  };
  const source = (inner: ChangeSource): ChangeSource => ({
    readChanges: (options) => pages(inner.readChanges(options)),
    queryModifiedSince: (options) => pages(inner.queryModifiedSince(options)),
    readRows: (options) => pages(inner.readRows(options)),
    readRange: (options) => pages(inner.readRange(options)),
  });
  const wrapped: PhaseAdapters = {
    ...adapters,
    dataverse: () => {
      const inner = adapters.dataverse();
      return { ...inner, source: source(inner.source) };
    },
    recordsFor: (key) => {
      let store = stores.get(key);
      if (store === undefined) {
        const inner = adapters.recordsFor(key);
        // Every port method is required: a wrapper that forgot one would not compile.
        store = {
          findForPage: (ids) => clock('findMs', () => inner.findForPage(ids)),
          write: (docs, etags) => writeClock(() => inner.write(docs, etags)),
          read: (id) => inner.read(id),
          recordsOf: (entity) => inner.recordsOf(entity),
          // The first-load fast path's probes are store reads too.
          hasRecordsOf: (entity) => clock('findMs', () => inner.hasRecordsOf(entity)),
          aliasesOf: (ids) => clock('findMs', () => inner.aliasesOf(ids)),
          registerAlias: (rowId, personId) => inner.registerAlias(rowId, personId),
          get preferredWriteBatch() {
            return inner.preferredWriteBatch;
          },
        };
        stores.set(key, store);
      }
      return store;
    },
    checkpoints: {
      get: (entity) => adapters.checkpoints.get(entity),
      save: (checkpoint) => clock('checkpointMs', () => adapters.checkpoints.save(checkpoint)),
    },
  };
  return { adapters: wrapped, end };
}

/**
 * BENCH_PROFILE_DIR=dir writes one CPU profile per stage (initial, incremental, raw), so the sync's
 * own work and the raw-write baseline can be compared function by function.
 */
async function profiled<T>(name: string, work: () => Promise<T>): Promise<T> {
  const dir = process.env.BENCH_PROFILE_DIR;
  if (dir === undefined || dir === '') return work();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await work();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(join(dir, `${name}-${process.pid}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}

const newSplit = (): Split => ({
  dataverseMs: 0,
  findMs: 0,
  writeMs: 0,
  checkpointMs: 0,
  firstWriteAtMs: 0,
  noWriteMs: 0,
});

async function editRows(simUrl: string, table: string, count: number, tag: string): Promise<void> {
  const res = await fetch(`${simUrl}/_sim/tables/${table}/rows?limit=${count}&offset=0`);
  const rows = (await res.json()) as Record<string, unknown>[];
  const key = `${table}id`;
  let next = 0;
  const worker = async () => {
    while (next < rows.length) {
      const row = rows[next++] as Record<string, unknown>;
      const patch = await fetch(`${simUrl}/_sim/tables/${table}/rows/${String(row[key])}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          values:
            table === 'contact' ? { jobtitle: `Bench ${tag} ${next}` } : { telephone1: `+1 ${tag} ${next}` },
        }),
      });
      if (!patch.ok) throw new Error(`control PATCH ${table} failed: ${patch.status} ${await patch.text()}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

/**
 * The stand-in's write rate for the documents the sync wrote, written the way the sync writes them:
 * the repository's write method, both entities at once, and each entity's next page written while
 * its previous one finishes. Each page is read from the simulator again and planned as the first
 * load plans it; only the time with a write in flight counts. (Reading the sync's documents back from
 * the stand-in instead would cost a scan of the container per query page: minutes at 100k.)
 */
async function rawWrites(
  reader: ChangeSource,
  profiles: { profile: EntityProfile; target: Container }[],
  mode: 'bulk' | 'parallel',
): Promise<{ docs: number; ms: number }> {
  let docs = 0;
  let ms = 0;
  let inFlight = 0;
  let busySince = 0;
  const now = new Date().toISOString();
  const timedWrite = async (repository: RecordRepository, writes: RecordDocument[]) => {
    if (inFlight++ === 0) busySince = performance.now();
    try {
      return await repository.write(writes);
    } finally {
      if (--inFlight === 0) ms += performance.now() - busySince;
    }
  };
  const load = async ({ profile, target }: { profile: EntityProfile; target: Container }) => {
    const repository = new RecordRepository(target, { kind: profile.kind, mode });
    let previous: Promise<WriteOutcome> | undefined;
    try {
      for await (const page of reader.readChanges({ entitySet: profile.entitySet, select: profile.select })) {
        const { writes } = planPage(profile, { rows: page.rows, deleted: [] }, [], { now });
        const current = timedWrite(repository, writes);
        current.catch(() => undefined);
        // Awaited first: `docs += await ...` would read docs before the other entity's load adds to it.
        if (previous !== undefined) {
          const { written } = await previous;
          docs += written;
        }
        previous = current;
      }
      if (previous !== undefined) {
        const { written } = await previous;
        docs += written;
      }
    } finally {
      await previous?.catch(() => undefined);
    }
  };
  await Promise.all(profiles.map(load));
  return { docs, ms };
}

const main = async (): Promise<void> => {
  const input = JSON.parse(process.argv[2] ?? '{}') as PhaseInput;
  let peakRss = 0;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }, 50);
  const log = createLogger(
    { debug() {}, info() {}, warn: console.error, error: console.error },
    { level: 'warn' },
  );
  const entitiesOf = (catalog: EntityCatalog) => ENTITIES.map((e) => catalog.get(e));

  // What every stage composes the sync from; each stage adds a fresh queue, as each CLI run has its
  // own (the slot's message ids would otherwise be dropped as duplicates by the second run).
  let phase: {
    adapters: PhaseAdapters;
    settings: SyncSettings;
    queueName: string;
    schedule: string;
    requestCount: () => number;
  };
  let close = async () => undefined as void;
  let storeBytes: (() => number) | undefined;
  let cosmosRaw: (() => Promise<{ docs: number; ms: number }>) | undefined;
  if (input.target === 'memory') {
    const dataverse = connectToBenchSimulator(input.sim);
    const stores = new Map<ContainerKey, InMemoryRecordStore>();
    const recordsFor = (key: ContainerKey) => {
      let store = stores.get(key);
      if (store === undefined) {
        store = new InMemoryRecordStore(key === 'people' ? 'person' : 'generic');
        stores.set(key, store);
      }
      return store;
    };
    storeBytes = () => [...stores.values()].reduce((sum, s) => sum + s.bytes, 0);
    const catalog = buildCatalog(DEFAULT_SYNC_CONFIG);
    phase = {
      adapters: {
        dataverse: dataverseAdapters(dataverse),
        recordsFor,
        people: recordsFor('people'),
        checkpoints: new InMemoryCheckpointStore(),
        errors: new InMemoryErrorSink(),
        runs: new InMemoryRunSink(),
      },
      settings: {
        catalog,
        syncConfig: DEFAULT_SYNC_CONFIG,
        enabledEntities: [...ENTITIES],
        pullQueue: 'pull-jobs',
        pushRetryQueue: 'push-retry',
        timeBudgetMs: 240_000,
        pushBatchSize: 100,
      },
      queueName: 'pull-jobs',
      schedule: '0 */1 * * * *',
      requestCount: () => dataverse.governor.counters().requests,
    };
  } else {
    const cosmos = input.cosmos as NonNullable<PhaseInput['cosmos']>;
    const env = {
      DATAVERSE_URL: input.sim.url,
      DATAVERSE_TENANT_ID: input.sim.tenantId,
      DATAVERSE_CLIENT_ID: DEFAULT_CLIENT_ID,
      DATAVERSE_CLIENT_SECRET: DEFAULT_CLIENT_SECRET,
      DATAVERSE_TOKEN_ENDPOINT: input.sim.tokenEndpoint,
      COSMOS_ENDPOINT: cosmos.endpoint,
      COSMOS_KEY: cosmos.key,
      COSMOS_DATABASE: `bench-${input.tag}`,
    };
    const queue = new InProcessJobQueue();
    // The CLI's adapters exactly: the repositories and write mode the app picks for this endpoint.
    const services = await createAppServices(env, { queue });
    await provisionCosmos(services.cosmos, env.COSMOS_DATABASE, 'create');
    const dataverse = services.dataverse();
    phase = {
      adapters: {
        dataverse: dataverseAdapters(dataverse),
        recordsFor: (key) => services.recordsFor(key),
        people: services.people,
        checkpoints: services.checkpoints,
        errors: services.syncErrors,
        runs: services.runs,
      },
      settings: {
        catalog: services.catalog,
        syncConfig: services.syncConfig,
        enabledEntities: services.env.SYNC_ENTITIES,
        pullQueue: services.env.PULL_JOBS_QUEUE,
        pushRetryQueue: services.env.PUSH_RETRY_QUEUE,
        timeBudgetMs: 240_000,
        pushBatchSize: services.env.PUSH_BATCH_SIZE,
      },
      queueName: services.env.PULL_JOBS_QUEUE,
      schedule: services.env.SYNC_SCHEDULE,
      requestCount: () => dataverse.governor.counters().requests,
    };
    cosmosRaw = async () => {
      const rawDb = `raw-${input.tag}`;
      await provisionCosmos(services.cosmos, rawDb, 'create');
      return rawWrites(
        dataverse.reader,
        (['contact', 'account'] as const).map((entity) => ({
          profile: buildEntityProfile(services.catalog.get(entity), services.syncConfig),
          target: services.cosmos
            .database(rawDb)
            .container(CONTAINERS[entity === 'contact' ? 'people' : 'accounts'].id),
        })),
        // The write method the sync used (bulk unless the store refused it).
        services.recordsFor('people').writeMode,
      );
    };
    close = async () => {
      await queue.close();
      await services.close();
    };
  }

  const stage = async (name: string): Promise<SyncFigures> => {
    const split = newSplit();
    peakRss = process.memoryUsage.rss();
    const clocked = timed(phase.adapters, split);
    const queue = new InProcessJobQueue();
    const sync = composeSync(
      { ...clocked.adapters, queue, retries: new QueuedPushRetries(queue, 'push-retry') },
      phase.settings,
    );
    const report = await profiled(`${input.tag}-${name}`, () =>
      runSyncOnce(entitiesOf(phase.settings.catalog), {
        sync,
        queue,
        queueName: phase.queueName,
        schedule: phase.schedule,
        log,
        concurrency: 2,
        requestCount: phase.requestCount,
      }),
    ).finally(() => queue.close());
    clocked.end();
    const figure = figures(report, split, Math.max(peakRss, process.memoryUsage.rss()));
    overallPeak = Math.max(overallPeak, figure.peakRss);
    return figure;
  };
  let overallPeak = 0;
  try {
    const initial = await stage('initial');
    const rssAfterLoad = process.memoryUsage().rss;
    const heapAfterLoad = process.memoryUsage().heapUsed;
    let incremental: SyncFigures | undefined;
    if (input.changes > 0) {
      const contactEdits = Math.round(input.changes * (5 / 6));
      await editRows(input.sim.url, 'contact', contactEdits, input.tag);
      await editRows(input.sim.url, 'account', input.changes - contactEdits, input.tag);
      incremental = await stage('incremental');
    }
    const raw = cosmosRaw !== undefined ? await profiled(`${input.tag}-raw`, cosmosRaw) : undefined;
    const result: PhaseResult = {
      target: input.target,
      initial,
      ...(incremental !== undefined ? { incremental: { ...incremental, changes: input.changes } } : {}),
      ...(raw !== undefined ? { raw } : {}),
      // The sync's stages only: the raw-write baseline afterwards is benchmark code.
      peakRss: overallPeak,
      peakRssKernel: process.resourceUsage().maxRSS * 1024,
      rssAfterLoad,
      heapAfterLoad,
      ...(storeBytes !== undefined ? { storeBytes: storeBytes() } : {}),
    };
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  } finally {
    clearInterval(sampler);
    await close();
  }
};

runThenExit(main);
