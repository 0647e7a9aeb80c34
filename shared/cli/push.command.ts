import type { Command } from 'commander';
import { createAppServices, type AppServices } from '../app/app.services';
import { CONTAINERS } from '../config/entity.catalog';
import { TsChangePoller } from '../cosmos/ts-change.poller';
import type { PushSummary } from '../sync/push.use-case';
import { createLogger, type LogSink } from '../telemetry/logger';

export interface PushCommandIo {
  env: Record<string, string | undefined>;
  out: (line: string) => void;
  err: (line: string) => void;
  /** Documents read per round (tests and benchmarks); default 5000. */
  pushPageSize?: number;
}

/** Exit codes: 0 every edit reached Dynamics or is a recorded error; 1 some are still pending; 2 usage. */
export const PUSH_EXIT = { ok: 0, pending: 1, usage: 2 } as const;

export interface PushTotals {
  documents: number;
  pushed: number;
  settled: number;
  conflicts: number;
  rejected: number;
  invalid: number;
  retrying: number;
  parked: number;
  requests: number;
  rounds: number;
}

// A safety stop: a source that changes faster than it is pushed would otherwise keep --once running.
const MAX_ROUNDS = 100_000;

export function registerPushCommand(
  program: Command,
  io: PushCommandIo,
  setExitCode: (code: number) => void,
): void {
  program
    .command('push')
    .description('push marketing edits of leads and contacts to Dynamics, from the last push checkpoint')
    .option('--once', 'push every pending edit found since the last checkpoint, then exit')
    .action(async (options: { once?: boolean }) => {
      setExitCode(await pushCommand(options, io));
    });
}

async function pushCommand(options: { once?: boolean }, io: PushCommandIo): Promise<number> {
  if (options.once !== true) {
    io.err(
      'push: only --once is supported here; the continuous push runs on Azure Functions (npm start locally)',
    );
    return PUSH_EXIT.usage;
  }
  let services: AppServices | undefined;
  try {
    services = await createAppServices(io.env);
    const totals = await pushOnce(services, io);
    io.out(describe(totals));
    if (totals.rejected + totals.invalid + totals.parked > 0) {
      io.out('Rejected, invalid and parked edits are recorded as sync errors (operation "push").');
    }
    if (totals.retrying > 0) {
      io.err(
        `${totals.retrying} edit(s) failed transiently and wait on the ${services.env.PUSH_RETRY_QUEUE} queue; they have not reached Dynamics yet.`,
      );
      return PUSH_EXIT.pending;
    }
    return PUSH_EXIT.ok;
  } catch (error) {
    io.err(`push failed: ${(error as Error).message}`);
    return PUSH_EXIT.pending;
  } finally {
    await services?.close();
  }
}

/** Reads the people container's changes from the checkpoint, pushes them, moves the checkpoint. */
export async function pushOnce(services: AppServices, io: PushCommandIo): Promise<PushTotals> {
  const sink: LogSink = {
    debug: () => undefined,
    info: () => undefined,
    warn: (...args: unknown[]) => io.err(args.map(String).join(' ')),
    error: (...args: unknown[]) => io.err(args.map(String).join(' ')),
  };
  const log = createLogger(sink, { level: 'warn' });
  const container = services.cosmos.database(services.env.COSMOS_DATABASE).container(CONTAINERS.people.id);
  let checkpoint = await services.pushCheckpoints.get(CONTAINERS.people.id);
  const poller = new TsChangePoller(container, checkpoint?.cursor ?? { ts: 0, seen: [] });
  const push = services.pushUseCase(log);
  const totals: PushTotals = {
    documents: 0,
    pushed: 0,
    settled: 0,
    conflicts: 0,
    rejected: 0,
    invalid: 0,
    retrying: 0,
    parked: 0,
    requests: 0,
    rounds: 0,
  };
  const pageSize = io.pushPageSize ?? 5000;
  while (totals.rounds < MAX_ROUNDS) {
    const docs = await poller.peek(pageSize);
    if (docs.length === 0) break;
    totals.rounds += 1;
    add(totals, await push.pushDocuments(docs));
    // Only after the page is pushed or recorded: a crash replays it, which is harmless.
    poller.advance(docs);
    checkpoint = await services.pushCheckpoints.save(CONTAINERS.people.id, poller.position, checkpoint);
  }
  return totals;
}

function add(totals: PushTotals, summary: PushSummary): void {
  totals.documents += summary.documents;
  totals.pushed += summary.pushed;
  totals.settled += summary.settled;
  totals.conflicts += summary.conflicts;
  totals.rejected += summary.rejected;
  totals.invalid += summary.invalid;
  totals.retrying += summary.retrying;
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
    `${t.retrying} queued for retry`,
    `${t.requests} Dynamics request(s)`,
  ].join(', ');
}
