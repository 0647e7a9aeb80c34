import { userInfo } from 'node:os';
import Table from 'cli-table3';
import type { Command } from 'commander';
import type { AppServices } from '../app/app.services';
import { errorsAsCsv, type SyncErrorRecord } from '../domain/sync-error.model';
import { AppError, describeError } from '../errors/app.errors';
import { InProcessJobQueue } from '../queue/in-process.job-queue';
import { ManualActionError, type PullMode } from '../sync/manual-actions.use-case';
import { PersonActionError, taskRequestSchema, type PersonView } from '../sync/person.use-case';
import type { SyncStatusView } from '../sync/status.query';
import type { ValidationReport } from '../sync/validate.use-case';
import { createLogger } from '../telemetry/logger';
import { EXIT, openServices, wholeNumber, type CommandIo } from './command.support';
import { formatDuration } from './progress.display';

/** The operator commands: the same results as the HTTP API, from the command line. */
interface Needs {
  /** Sends jobs to the deployed app's queues (resync, pause, resume, retry). */
  serviceBus: boolean;
  dataverse: boolean;
  /** Validate Sync reports a missing database as one of its checks instead of refusing to start. */
  database?: 'required' | 'checked';
}

const plain = { style: { head: [], border: [] } };
const quiet = createLogger({ debug() {}, info() {}, warn() {}, error() {} });

/** Who the audit trail names for a command line action. */
function who(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli';
  }
}

async function withServices(
  name: string,
  io: CommandIo,
  needs: Needs,
  run: (services: AppServices) => Promise<number>,
): Promise<number> {
  // Read-only commands and person actions need no broker; those that send jobs use the app's queues.
  const queue = needs.serviceBus ? undefined : new InProcessJobQueue();
  const opened = await openServices(name, io, queue !== undefined ? { queue } : {}, {
    provision: false,
    dataverse: needs.dataverse,
    assertProvisioned: needs.database !== 'checked',
  });
  if (typeof opened === 'number') {
    await queue?.close();
    return opened;
  }
  try {
    return await run(opened);
  } catch (error) {
    if (error instanceof ManualActionError) {
      io.err(`${name}: ${error.message}`);
      return EXIT.usage;
    }
    if (error instanceof PersonActionError || error instanceof AppError) {
      io.err(`${name}: ${error.message}`);
      return EXIT.failed;
    }
    io.err(`${name}: ${describeError(error)}`);
    return EXIT.failed;
  } finally {
    await queue?.close();
    await opened.close();
  }
}

/** Runs an action and writes it to the audit trail, as the HTTP API does for its callers. */
async function audited<T>(
  services: AppServices,
  action: string,
  target: string,
  work: () => Promise<T>,
): Promise<T> {
  let outcome = 'failed';
  try {
    const result = await work();
    outcome = 'ok';
    return result;
  } finally {
    await services.audit
      .record({ at: new Date().toISOString(), who: who(), action, target, outcome })
      .catch(() => undefined);
  }
}

const json = (io: CommandIo, value: unknown) => io.out(JSON.stringify(value, null, 2));

const ago = (iso: string | null, now: Date) =>
  iso === null ? '-' : `${formatDuration(Math.max(0, now.getTime() - Date.parse(iso)))} ago`;

export function statusTable(status: SyncStatusView): string {
  const now = new Date(status.at);
  const table = new Table({
    head: [
      'entity',
      'state',
      'last run',
      'last success',
      'lag',
      'read 1h',
      'written 1h',
      'read 24h',
      'open errors',
    ],
    colAligns: ['left', 'left', 'left', 'left', 'right', 'right', 'right', 'right', 'right'],
    ...plain,
  });
  for (const e of status.entities) {
    table.push([
      e.entity,
      e.paused !== null ? `paused (${e.paused.code})` : e.state,
      e.lastRun === null
        ? 'never'
        : `${e.lastRun.status}, ${ago(e.lastRun.finishedAt ?? e.lastRun.startedAt, now)}`,
      ago(e.lastSuccessAt, now),
      e.lagSeconds === null ? '-' : formatDuration(e.lagSeconds * 1000),
      e.throughput.lastHour.read.toLocaleString('en-US'),
      e.throughput.lastHour.written.toLocaleString('en-US'),
      e.throughput.last24Hours.read.toLocaleString('en-US'),
      e.openErrors.toLocaleString('en-US'),
    ]);
  }
  const p = status.push;
  return `${table.toString()}\npush: ${p.pending} pending (${p.retrying} retrying), ${p.parked} parked, ${p.failed} failed${p.oldestPendingAt !== null ? `, oldest since ${p.oldestPendingAt}` : ''}`;
}

function errorsTable(errors: readonly SyncErrorRecord[]): string {
  const table = new Table({ head: ['at', 'entity', 'operation', 'code', 'record', 'message'], ...plain });
  for (const e of errors)
    table.push([e.at, e.entity, e.operation, e.code, e.recordId ?? '-', e.message.slice(0, 80)]);
  return table.toString();
}

function personTable(view: PersonView): string {
  const fields = [...new Set([...Object.keys(view.marketing), ...Object.keys(view.dynamics?.values ?? {})])];
  const show = (value: unknown) =>
    value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  const table = new Table({ head: ['field', 'marketing', 'Dynamics', 'agreed', ''], ...plain });
  for (const field of fields) {
    const marketing = view.marketing[field];
    const dynamics = view.dynamics?.values[field];
    table.push([
      field,
      show(marketing),
      show(dynamics),
      show(view.agreed[field]),
      show(marketing) === show(dynamics) ? '' : 'differs',
    ]);
  }
  const flags = Object.entries(view.flags)
    .filter(([, value]) => value !== false && value !== null)
    .map(([key, value]) => (value === true ? key : `${key} ${String(value)}`));
  return [
    `person ${view.id} (${view.type ?? 'marketing only'})${view.dynamics !== null ? `: ${view.dynamics.table} ${view.dynamics.rowId}${view.dynamics.live ? '' : ` (stored copy: ${view.dynamics.error ?? ''})`}` : ''}`,
    table.toString(),
    `pending edits: ${Object.keys(view.pendingEdits).join(', ') || 'none'}; push: ${view.push?.status ?? 'ok'}; open errors: ${view.openErrors.length}${flags.length > 0 ? `; ${flags.join(', ')}` : ''}`,
  ].join('\n');
}

export function validationTable(report: ValidationReport): string {
  const table = new Table({
    head: ['check', 'result', 'detail', 'fix'],
    colWidths: [22, 8, 60, 50],
    wordWrap: true,
    ...plain,
  });
  for (const check of report.checks) table.push([check.id, check.status, check.detail, check.fix ?? '']);
  return `${table.toString()}\n${report.ok ? 'Validate Sync: nothing failed.' : 'Validate Sync: some checks failed; each says what to do.'}`;
}

export function registerOperationCommands(
  program: Command,
  io: CommandIo,
  setExitCode: (code: number) => void,
): void {
  const done = (work: Promise<number>) => work.then(setExitCode);

  program
    .command('status')
    .description('per entity: state, last run, lag, throughput and open errors; the push backlog')
    .option('--json', 'print JSON for scripts')
    .action((options: { json?: boolean }) =>
      done(
        withServices('status', io, { serviceBus: false, dataverse: false }, async (s) => {
          const status = await s.sync.status();
          if (options.json === true) json(io, status);
          else io.out(statusTable(status));
          return status.entities.some((e) => e.state === 'failing' || e.state === 'paused')
            ? EXIT.failed
            : EXIT.ok;
        }),
      ),
    );

  program
    .command('errors')
    .description('sync errors, newest first')
    .option('--entity <name>', 'one entity')
    .option('--status <status>', 'open, resolved or all', 'open')
    .option('--q <text>', 'search the record id, email, code and message')
    .option('--code <code>', 'one error code')
    .option('--limit <n>', 'at most this many (1-1000)', wholeNumber(1, 1000), 100)
    .option('--csv', 'CSV with a header row (every match, up to 50,000)')
    .option('--json', 'print JSON for scripts')
    .action(
      (options: {
        entity?: string;
        status: string;
        q?: string;
        code?: string;
        limit: number;
        csv?: boolean;
        json?: boolean;
      }) =>
        done(
          withServices('errors', io, { serviceBus: false, dataverse: false }, async (s) => {
            if (!['open', 'resolved', 'all'].includes(options.status)) {
              io.err('errors: --status must be open, resolved or all');
              return EXIT.usage;
            }
            const search = {
              status: options.status as 'open' | 'resolved' | 'all',
              limit: options.csv === true ? 1000 : options.limit,
              ...(options.entity !== undefined ? { entity: options.entity } : {}),
              ...(options.q !== undefined ? { q: options.q } : {}),
              ...(options.code !== undefined ? { code: options.code } : {}),
            };
            const rows: SyncErrorRecord[] = [];
            let continuation: string | undefined;
            do {
              const page = await s.sync.searchErrors({
                ...search,
                ...(continuation !== undefined ? { continuation } : {}),
              });
              rows.push(...page.errors);
              continuation = options.csv === true ? page.continuation : undefined;
            } while (continuation !== undefined && rows.length < 50_000);
            if (options.csv === true) io.out(errorsAsCsv(rows).trimEnd());
            else if (options.json === true) json(io, { errors: rows });
            else io.out(rows.length === 0 ? 'No errors match.' : errorsTable(rows));
            return EXIT.ok;
          }),
        ),
    );

  program
    .command('retry')
    .description(
      'retry errors: rows are read again from Dynamics, people get a fresh series of push attempts',
    )
    .argument('[errorIds...]', 'ids of sync errors')
    .option('--entity <name>', 'with --all: the entity')
    .option('--all', 'every open error of --entity')
    .action((errorIds: string[], options: { entity?: string; all?: boolean }) =>
      done(
        withServices('retry', io, { serviceBus: true, dataverse: false }, async (s) => {
          const request =
            options.all === true
              ? options.entity !== undefined
                ? { all: true as const, entity: options.entity }
                : undefined
              : errorIds.length > 0
                ? { errorIds }
                : undefined;
          if (request === undefined) {
            io.err('retry: name error ids, or --all with --entity');
            return EXIT.usage;
          }
          const answer = await audited(
            s,
            'retry',
            'all' in request ? `all open errors of ${request.entity}` : `${errorIds.length} error(s)`,
            () => s.sync.actions.retryErrors(request),
          );
          io.out(
            `queued ${answer.queued.length}; unknown ${answer.unknown.length}; skipped ${answer.skipped.length}`,
          );
          for (const id of answer.unknown) io.err(`retry: no error with id ${id}`);
          for (const skip of answer.skipped) io.err(`retry: ${skip.id}: ${skip.reason}`);
          return answer.unknown.length + answer.skipped.length > 0 ? EXIT.failed : EXIT.ok;
        }),
      ),
    );

  for (const [command, mode, description] of [
    ['resync', 'resync', 'reload an entity from Dynamics and mark rows gone from it as deleted'],
    ['pause', 'pause', 'stop syncing an entity until it is resumed'],
    ['resume', 'resume', 'resume a paused entity and pull it now'],
  ] as const) {
    program
      .command(command)
      .description(description)
      .argument('<entity>', 'the entity (logical name)')
      .action((entity: string) =>
        done(
          withServices(command, io, { serviceBus: true, dataverse: false }, async (s) => {
            await audited(s, command, entity, () => s.sync.actions.requestPull(entity, mode as PullMode));
            io.out(`${command}: ${entity} ${mode === 'pause' ? 'paused' : 'queued'}`);
            return EXIT.ok;
          }),
        ),
      );
  }

  program
    .command('rebaseline')
    .description(
      'after a sandbox refresh or instance copy: reload every entity from the environment answering now, matching rows to people by id and email (nothing stored is removed)',
    )
    .option(
      '--entity <name>',
      'only this entity (repeatable; default SYNC_ENTITIES)',
      (v: string, p?: string[]) => [...(p ?? []), v],
    )
    .option('--local', 'only restart the loads; the next `sync --once` carries them out (no Service Bus)')
    .action((options: { entity?: string[]; local?: boolean }) =>
      done(
        withServices(
          'rebaseline',
          io,
          { serviceBus: options.local !== true, dataverse: false },
          async (s) => {
            const entities = options.entity ?? s.env.SYNC_ENTITIES;
            await audited(s, 'rebaseline', entities.join(', '), () => s.sync.actions.rebaseline(entities));
            for (const entity of entities) {
              io.out(
                `rebaseline: ${entity} ${options.local === true ? 'restarted' : 'restarted and queued'}`,
              );
            }
            if (options.local === true) io.out('rebaseline: run `dynamics-sync sync --once` to carry it out');
            return EXIT.ok;
          },
        ),
      ),
    );

  program
    .command('migrate')
    .description(
      'rewrite stored documents of older schema versions in the current shape; resumable, safe to run twice or beside the sync',
    )
    .action(() =>
      done(
        withServices('migrate', io, { serviceBus: false, dataverse: false }, async (s) => {
          const report = await audited(s, 'migrate', 'record documents', () =>
            s.migrateDocuments(createLogger({ debug() {}, info() {}, warn: io.err, error: io.err })),
          );
          for (const c of report.containers) {
            io.out(`migrate: ${c.container}: ${c.migrated} document(s) now schema version ${report.version}`);
          }
          if (report.left > 0) {
            io.err(`migrate: ${report.left} document(s) kept changing and are left; run migrate again`);
            return EXIT.failed;
          }
          return EXIT.ok;
        }),
      ),
    );

  program
    .command('validate')
    .description(
      'Validate Sync: connection, credentials, application user, privileges, change tracking, columns, Cosmos DB, Service Bus',
    )
    .option('--json', 'print JSON for scripts')
    .action((options: { json?: boolean }) =>
      done(
        withServices(
          'validate',
          io,
          { serviceBus: false, dataverse: false, database: 'checked' },
          async (s) => {
            const report = await s.validate();
            if (options.json === true) json(io, report);
            else io.out(validationTable(report));
            return report.ok ? EXIT.ok : EXIT.failed;
          },
        ),
      ),
    );

  const person = program.command('person').description('a person: show both sides, act in Dynamics');
  const personNeeds = { serviceBus: false, dataverse: true };
  person
    .command('show')
    .description(
      'the marketing record beside its live Dynamics row, differences, pending edits and open errors',
    )
    .argument('<emailOrId>', 'an email address or a person id')
    .option('--json', 'print JSON for scripts')
    .action((key: string, options: { json?: boolean }) =>
      done(
        withServices('person show', io, personNeeds, async (s) => {
          const views = key.includes('@')
            ? await s.sync.persons().byEmail(key)
            : [await s.sync.persons().view(key)].flatMap((v) => v ?? []);
          if (views.length === 0) {
            io.err(`person show: nobody with ${key.includes('@') ? 'email' : 'id'} ${key}`);
            return EXIT.failed;
          }
          if (options.json === true) json(io, { persons: views });
          else io.out(views.map(personTable).join('\n\n'));
          return EXIT.ok;
        }),
      ),
    );
  person
    .command('sync')
    .description(
      'Sync Person to Dynamics: create the lead or contact, or link an active one with the same email',
    )
    .argument('<id>', 'the person id')
    .requiredOption('--as <table>', 'lead or contact')
    .option('--owner <id>', 'the owner (a user id)')
    .action((id: string, options: { as: string; owner?: string }) =>
      done(
        withServices('person sync', io, personNeeds, async (s) => {
          if (options.as !== 'lead' && options.as !== 'contact') {
            io.err('person sync: --as must be lead or contact');
            return EXIT.usage;
          }
          const result = await audited(s, 'person sync', `person ${id}`, () =>
            s.sync.createPerson(
              {
                personId: id,
                as: options.as as 'lead' | 'contact',
                ...(options.owner !== undefined ? { ownerId: options.owner } : {}),
              },
              quiet,
            ),
          );
          switch (result.status) {
            case 'created':
            case 'linked':
            case 'exists':
              io.out(
                `${result.status === 'exists' ? 'already-linked' : result.status}: ${result.table} ${result.rowId}`,
              );
              return EXIT.ok;
            case 'not_found':
              io.err(`person sync: no person with id ${id}`);
              return EXIT.failed;
            case 'duplicate':
              io.err(
                `person sync: the ${result.table} ${result.rowId} already belongs to person ${result.otherPersonId}`,
              );
              return EXIT.failed;
            case 'rejected':
              io.err(`person sync: Dynamics refused: ${result.message}`);
              return EXIT.failed;
          }
        }),
      ),
    );
  person
    .command('owner')
    .description("Change Owner of the person's row in Dynamics")
    .argument('<id>', 'the person id')
    .argument('<ownerId>', 'the new owner (a user id, or a team id with --team)')
    .option('--team', 'the owner is a team')
    .action((id: string, ownerId: string, options: { team?: boolean }) =>
      done(
        withServices('person owner', io, personNeeds, async (s) => {
          const owner = {
            id: ownerId,
            type: options.team === true ? ('team' as const) : ('systemuser' as const),
          };
          const result = await audited(s, 'person owner', `person ${id}`, () =>
            s.sync.persons().changeOwner(id, owner),
          );
          io.out(`owner of ${result.table} ${result.rowId} is now ${result.ownerType} ${result.ownerId}`);
          return EXIT.ok;
        }),
      ),
    );
  person
    .command('task')
    .description("Create Task in Dynamics regarding the person's contact or lead")
    .argument('<id>', 'the person id')
    .requiredOption('--subject <text>', 'what to do')
    .option('--description <text>', 'details')
    .option('--due <date>', 'due date, YYYY-MM-DD (default: in 5 days)')
    .option('--priority <priority>', 'low, normal or high')
    .option('--owner <id>', 'the task owner (a user id)')
    .action(
      (
        id: string,
        options: { subject: string; description?: string; due?: string; priority?: string; owner?: string },
      ) =>
        done(
          withServices('person task', io, personNeeds, async (s) => {
            const parsed = taskRequestSchema.safeParse({
              subject: options.subject,
              ...(options.description !== undefined ? { description: options.description } : {}),
              ...(options.due !== undefined ? { dueDate: options.due } : {}),
              ...(options.priority !== undefined ? { priority: options.priority } : {}),
              ...(options.owner !== undefined ? { ownerId: options.owner } : {}),
            });
            if (!parsed.success) {
              io.err(
                `person task: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
              );
              return EXIT.usage;
            }
            const { taskId } = await audited(s, 'person task', `person ${id}`, () =>
              s.sync.persons().createTask(id, parsed.data),
            );
            io.out(`task ${taskId} created`);
            return EXIT.ok;
          }),
        ),
    );
  for (const [command, forget] of [
    ['forget', true],
    ['unforget', false],
  ] as const) {
    person
      .command(command)
      .argument('<id>', 'the person id')
      .description(
        forget
          ? "remove the person's personal data on the marketing side (a privacy request); Dynamics keeps its rows"
          : 'lift a forget: the next change in Dynamics brings the data back',
      )
      .action((id: string) =>
        done(
          withServices(`person ${command}`, io, personNeeds, async (s) => {
            await audited(s, `person ${command}`, `person ${id}`, () =>
              forget ? s.sync.persons().forget(id, who()) : s.sync.persons().unforget(id),
            );
            io.out(`person ${id} ${forget ? 'forgotten' : 'no longer suppressed'}`);
            return EXIT.ok;
          }),
        ),
      );
  }
}
