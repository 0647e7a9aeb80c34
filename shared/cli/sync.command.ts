import type { AppServices } from '../app/app.services';
import type { EntityDefinition } from '../config/entity.catalog';
import { InProcessJobQueue } from '../queue/in-process.job-queue';
import { createLogger, type LogLevel, type LogSink } from '../telemetry/logger';
import { ProgressDisplay, type ProgressStream } from './progress.display';
import { EXIT, openServices, wholeNumber, type CommandIo, type OneShotCommand } from './command.support';
import { runSyncOnce, SYNC_QUEUE_OPTIONS } from './sync-once.runner';
import { renderSummary } from './sync-summary.table';

/** Knobs tests and benchmarks turn; the command line does not expose them. */
export interface SyncTuning {
  timeBudgetMs?: number;
  pageSize?: number;
  maxDeliveryCount?: number;
  redeliveryDelayMs?: number;
  /** Period of the plain progress lines when stderr is not a terminal. */
  reportMs?: number;
}

export interface SyncCommandIo extends CommandIo {
  /** Raw stderr for the live display; without it (or when not a TTY) progress is plain lines via `err`. */
  stderr?: ProgressStream;
  tuning?: SyncTuning;
}

interface SyncCliOptions {
  once?: boolean;
  entity?: string[];
  concurrency: number;
  provision?: boolean;
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

export const syncCommand = (io: SyncCommandIo): OneShotCommand<SyncCliOptions> => ({
  name: 'sync',
  description: 'pull Dynamics into Cosmos in this process (scheduler and pullers on an in-process queue)',
  once: 'run until every entity is caught up, then exit',
  options: (command) =>
    command
      .option('--entity <name>', 'sync only this entity (repeatable; default SYNC_ENTITIES)', collect)
      .option('--concurrency <n>', 'entities pulled at once (1-16)', wholeNumber(1, 16), 4),
  run: (options) => sync(options, io),
});

async function sync(options: SyncCliOptions, io: SyncCommandIo): Promise<number> {
  const tuning = io.tuning ?? {};
  const queue = new InProcessJobQueue({
    ...SYNC_QUEUE_OPTIONS,
    ...(tuning.maxDeliveryCount !== undefined ? { maxDeliveryCount: tuning.maxDeliveryCount } : {}),
    ...(tuning.redeliveryDelayMs !== undefined ? { redeliveryDelayMs: tuning.redeliveryDelayMs } : {}),
  });
  const opened = await openServices(
    'sync',
    io,
    {
      queue,
      tuning: {
        ...(tuning.timeBudgetMs !== undefined ? { timeBudgetMs: tuning.timeBudgetMs } : {}),
        ...(tuning.pageSize !== undefined ? { pageSize: tuning.pageSize } : {}),
      },
    },
    { provision: options.provision === true },
  );
  if (typeof opened === 'number') {
    await queue.close();
    return opened;
  }
  const services = opened;
  try {
    const entities = resolveEntities(options.entity ?? [], services, io);
    if (entities === undefined) return EXIT.usage;
    const dataverse = services.dataverse();

    const display = new ProgressDisplay({
      line: io.err,
      ...(io.stderr !== undefined ? { stream: io.stderr } : {}),
      ...(tuning.reportMs !== undefined ? { reportMs: tuning.reportMs } : {}),
    });
    const explicitLevel = io.env.LOG_LEVEL?.trim();
    // Info lines per job would drown the progress; LOG_LEVEL set explicitly still wins.
    const level: LogLevel = explicitLevel ? services.env.LOG_LEVEL : 'warn';
    const toDisplay =
      (lvl: string) =>
      (...args: unknown[]) =>
        display.log(`${lvl}: ${args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}`);
    const sink: LogSink = {
      debug: toDisplay('debug'),
      info: toDisplay('info'),
      warn: toDisplay('warn'),
      error: toDisplay('error'),
    };
    const log = createLogger(sink, { level });
    const names = entities.map((e) => e.logicalName);
    io.err(
      `Syncing ${names.join(', ')} from Dataverse into Cosmos DB database ${services.env.COSMOS_DATABASE}`,
    );

    const report = await runSyncOnce(entities, {
      sync: services.sync,
      queue,
      queueName: services.env.PULL_JOBS_QUEUE,
      schedule: services.env.SYNC_SCHEDULE,
      concurrency: options.concurrency,
      requestCount: () => dataverse.governor.counters().requests,
      log,
      onStart: (progress) => display.start(progress),
      onProgress: (p) => display.update(p),
    }).finally(() => display.stop());
    io.out(renderSummary(report));
    const errors = report.entities.reduce((sum, p) => sum + p.errors, 0);
    return report.ok && errors === 0 ? EXIT.ok : EXIT.failed;
  } finally {
    await queue.close();
    await services.close();
  }
}

function resolveEntities(
  requested: readonly string[],
  services: AppServices,
  io: SyncCommandIo,
): EntityDefinition[] | undefined {
  const names =
    requested.length > 0 ? requested.map((n) => n.trim().toLowerCase()) : services.env.SYNC_ENTITIES;
  const known = services.catalog.names;
  const unknown = names.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    io.err(
      `sync: unknown entit${unknown.length === 1 ? 'y' : 'ies'} ${unknown.map((n) => `"${n}"`).join(', ')}; known entities: ${known.join(', ')} (custom ones are declared in SYNC_CONFIG)`,
    );
    return undefined;
  }
  return [...new Set(names)].map((name) => services.catalog.get(name));
}
