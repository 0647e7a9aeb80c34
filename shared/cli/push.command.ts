import type { AppOverrides, AppServices } from '../app/app.services';
import { CONTAINERS } from '../config/entity.catalog';
import { TsChangePoller } from '../cosmos/ts-change.poller';
import { describeError } from '../errors/app.errors';
import { InProcessJobQueue } from '../queue/in-process.job-queue';
import type { PersonOutcome, PushSummary } from '../sync/push.use-case';
import { createLogger, type Logger, type LogSink } from '../telemetry/logger';
import { EXIT, openServices, wholeNumber, type CommandIo, type OneShotCommand } from './command.support';

export interface PushCommandIo extends CommandIo {
  /** Documents read per round (tests and benchmarks); default 5000. */
  pushPageSize?: number;
  /** Retry timing for tests (the default is the deployed app's: 30 s, doubling). */
  retryPolicy?: AppOverrides['tuning'];
}

export interface PushTotals {
  documents: number;
  pushed: number;
  settled: number;
  conflicts: number;
  rejected: number;
  invalid: number;
  parked: number;
  requests: number;
  rounds: number;
  /** Retries run in this process (messages of the in-process push-retry queue). */
  retries: number;
  /** People whose last attempt failed transiently: their edits have not reached Dynamics yet. */
  pending: number;
}

interface PushCliOptions {
  once?: boolean;
  retryFor: number;
  provision?: boolean;
}

// A safety stop: a source that changes faster than it is pushed would otherwise keep --once running.
const MAX_ROUNDS = 100_000;

export const pushCommand = (io: PushCommandIo): OneShotCommand<PushCliOptions> => ({
  name: 'push',
  description: 'push marketing edits of leads and contacts to Dynamics, from the last push checkpoint',
  once: 'push every pending edit found since the last checkpoint, then exit',
  options: (command) =>
    command.option(
      '--retry-for <seconds>',
      'keep retrying transient failures in this process for this long (backoff from 30 s)',
      wholeNumber(0, 3600, 'seconds'),
      120,
    ),
  run: (options) => push(options, io),
});

async function push(options: PushCliOptions, io: PushCommandIo): Promise<number> {
  // Retries go to a push-retry queue in this process, handled here as the push-retry function
  // handles them in Azure: a one-shot command needs no broker.
  const queue = new InProcessJobQueue();
  const opened = await openServices(
    'push',
    io,
    { queue, ...(io.retryPolicy !== undefined ? { tuning: io.retryPolicy } : {}) },
    { provision: options.provision === true },
  );
  if (typeof opened === 'number') {
    await queue.close();
    return opened;
  }
  try {
    const totals = await pushOnce(opened, io, { queue, retryForMs: options.retryFor * 1000 });
    io.out(describe(totals));
    if (totals.rejected + totals.invalid + totals.parked > 0) {
      io.out('Rejected, invalid and parked edits are recorded as sync errors (operation "push").');
    }
    if (totals.pending > 0) {
      io.err(
        `${totals.pending} edit(s) still failed transiently after ${options.retryFor} s of retries; they have not reached Dynamics. ` +
          'They are kept as retrying and the next `dynamics-sync push --once` tries them again.',
      );
    }
    return totals.pending + totals.rejected + totals.invalid + totals.parked > 0 ? EXIT.failed : EXIT.ok;
  } catch (error) {
    io.err(`push failed: ${describeError(error)}`);
    return EXIT.failed;
  } finally {
    await queue.close();
    await opened.close();
  }
}

/**
 * Pushes what is pending: first the retries an earlier run left due, then the people container's
 * changes since the checkpoint, then the retries of this run's transient failures, for as long as
 * `retryForMs` allows. What is still failing then stays marked `retrying` for the next run.
 */
export async function pushOnce(
  services: AppServices,
  io: PushCommandIo,
  retries: { queue: InProcessJobQueue; retryForMs: number },
): Promise<PushTotals> {
  const log = quietLogger(io);
  const totals: PushTotals = {
    documents: 0,
    pushed: 0,
    settled: 0,
    conflicts: 0,
    rejected: 0,
    invalid: 0,
    parked: 0,
    requests: 0,
    rounds: 0,
    retries: 0,
    pending: 0,
  };
  const latest = new Map<string, PersonOutcome>();
  const add = (summary: PushSummary) => {
    addTo(totals, summary);
    // A skip says nothing new: a retrying person's own state write comes back through the feed as one.
    for (const [id, outcome] of summary.outcomes) if (outcome !== 'skipped') latest.set(id, outcome);
  };
  const consumer = retries.queue.consume(services.env.PUSH_RETRY_QUEUE, async (message) => {
    totals.retries += 1;
    const outcome = await services.sync.runPushRetry(message.body, { messageId: message.messageId }, log);
    if (outcome.status === 'done') add(outcome.summary);
  });
  try {
    // Whoever runs the command wants pending edits pushed now, not when their backoff would end.
    for (const summary of await services.sync.retryDue(new Date('9999-12-31T23:59:59Z'), log)) add(summary);

    const container = services.cosmos.database(services.env.COSMOS_DATABASE).container(CONTAINERS.people.id);
    let checkpoint = await services.pushCheckpoints.get(CONTAINERS.people.id);
    const poller = new TsChangePoller(container, checkpoint?.cursor ?? { ts: 0, seen: [] });
    const pageSize = io.pushPageSize ?? 5000;
    while (totals.rounds < MAX_ROUNDS) {
      const docs = await poller.peek(pageSize);
      if (docs.length === 0) break;
      totals.rounds += 1;
      add(await services.sync.pushDocuments(docs, {}, log));
      // Only after the page is pushed or recorded: a crash replays it, which is harmless.
      poller.advance(docs);
      checkpoint = await services.pushCheckpoints.save(CONTAINERS.people.id, poller.position, checkpoint);
    }

    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      retries.queue.idle(),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, retries.retryForMs))),
    ]).finally(() => clearTimeout(timer));
  } finally {
    await consumer.close();
  }
  totals.pending = [...latest.values()].filter((outcome) => outcome === 'retrying').length;
  return totals;
}

function quietLogger(io: CommandIo): Logger {
  const line = (...args: unknown[]) => io.err(args.map(String).join(' '));
  const sink: LogSink = { debug: () => undefined, info: () => undefined, warn: line, error: line };
  return createLogger(sink, { level: 'warn' });
}

function addTo(totals: PushTotals, summary: PushSummary): void {
  totals.documents += summary.documents;
  totals.pushed += summary.pushed;
  totals.settled += summary.settled;
  totals.conflicts += summary.conflicts;
  totals.rejected += summary.rejected;
  totals.invalid += summary.invalid;
  totals.parked += summary.parked;
  totals.requests += summary.requests;
}

export function describe(t: PushTotals): string {
  return [
    `push: ${t.documents} changed document(s) read`,
    `${t.pushed} edit(s) pushed`,
    `${t.settled} settled by conflict rules without a write (${t.conflicts} conflict(s))`,
    `${t.rejected} rejected by Dynamics`,
    `${t.invalid} invalid`,
    `${t.parked} parked`,
    `${t.retries} retried in this run`,
    `${t.pending} still pending`,
    `${t.requests} Dynamics request(s)`,
  ].join(', ');
}
