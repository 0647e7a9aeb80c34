import type { ContainerKey, EntityCatalog } from '../config/entity.catalog';
import type { SyncConfig } from '../config/sync-config.schema';
import { buildEntityProfile, type EntityProfile } from '../domain/entity.profile';
import type { PersonTable } from '../domain/person.values';
import { pushStateOf } from '../domain/push.planner';
import type { JobQueue, MessageSettlement } from '../queue/job-queue.port';
import { runPullJob, type PullJobOutcome } from '../sync/pull-job.handler';
import { runAndSettle } from '../sync/pull-job.settlement';
import { PullUseCase, type PullOptions, type PullResult } from '../sync/pull.use-case';
import {
  IGNORE_PROGRESS,
  type ChangeSource,
  type CheckpointStore,
  type ErrorLog,
  type OrganizationIdentity,
  type OwnerDirectory,
  type PeopleQueries,
  type RunHistory,
  type PersonRowGateway,
  type PullObserver,
  type PushRetryScheduler,
  type RecordStore,
} from '../sync/ports';
import { resolveLinkedPerson, type LinkedPerson } from '../sync/custom-link.query';
import { ManualActions } from '../sync/manual-actions.use-case';
import { PersonActions } from '../sync/person.use-case';
import { readSyncStatus, type SyncStatusView } from '../sync/status.query';
import type { ErrorPage, ErrorSearch } from '../domain/sync-error.model';
import {
  CreatePersonUseCase,
  type CreatePersonRequest,
  type CreatePersonResult,
} from '../sync/push-create.use-case';
import { runPushRetry, type PushRetryOutcome } from '../sync/push-retry.handler';
import { PushUseCase, type PushRunOptions, type PushSummary, type RetryPolicy } from '../sync/push.use-case';
import { readAhead } from '../sync/read-ahead.source';
import { ListMembershipUseCase } from '../sync/list-membership.use-case';
import { PROJECTED_ENTITIES, RelationProjection } from '../sync/relation-projection.use-case';
import type { ChoiceOptions, ListMemberGateway, RelationQueries } from '../sync/ports';
import type { ParallelLoadSettings } from '../sync/parallel-load.runner';
import type { Logger } from '../telemetry/logger';
import type { SyncMetrics } from '../telemetry/sync-metrics';

/** The Dataverse side, made on first use: a function that never calls Dynamics needs no credentials. */
export interface DataverseAdapters {
  source: ChangeSource;
  rows: PersonRowGateway;
  /** WhoAmI's organisation, checked by every pull job (absent: not checked, as in unit tests). */
  organization?: OrganizationIdentity;
  /** Requests sent and 429 answers so far by this process (the throttle governor's counters). */
  counters(): { requests: number; throttled: number };
  /** Marketing lists (the push gateway). Without it, `listRequests` on people wait untouched. */
  lists?: ListMemberGateway;
  /** Options of choice columns. Without it, unknown multi-select options are sent (and refused). */
  choices?: ChoiceOptions;
}

/** One adapter per port, chosen by whoever composes: Azure, the local stack, a benchmark, a test. */
export interface SyncAdapters {
  dataverse(): DataverseAdapters;
  recordsFor(container: ContainerKey): RecordStore;
  /** The people container's cross-document questions (retries due, push backlog, by email). */
  people: PeopleQueries;
  checkpoints: CheckpointStore;
  errors: ErrorLog;
  runs: RunHistory;
  /** Synced users and teams as owners (absent: records keep owner ids only, creates are not checked). */
  owners?: OwnerDirectory;
  /** Where a pull job's continuation goes (the entity's session), and operators' jobs. */
  queue: JobQueue;
  retries: PushRetryScheduler;
  /**
   * List members, connections and opportunities by what they point at. Without it (a composition for
   * one test or benchmark) memberships and opportunity roles are not worked out.
   */
  relations?: RelationQueries;
}

export interface SyncSettings {
  catalog: EntityCatalog;
  syncConfig: SyncConfig;
  /** SYNC_ENTITIES: a malformed job is filed under its entity only when it is one of these. */
  enabledEntities: readonly string[];
  pullQueue: string;
  pushRetryQueue: string;
  /** A pull job stops after the page that crosses this and continues in a new job. */
  timeBudgetMs: number;
  /** Dataverse page size (5000 unless a test or benchmark asks for less). */
  pageSize?: number;
  /** Entities whose new full loads read in parallel ranges, and how (docs/initial-load.md). */
  parallelLoad?: ParallelLoadSettings & { entities: readonly string[] };
  /** Fetch the next Dataverse page while this one is written (default true). */
  readAhead?: boolean;
  /** PATCH requests per $batch of a push. */
  pushBatchSize: number;
  pushRetry?: Partial<RetryPolicy>;
}

/** What one invocation brings: its logger, and who watches its progress. */
export interface InvocationScope {
  log: Logger;
  /** Progress events (the CLI's display); IGNORE_PROGRESS by default. */
  observer?: PullObserver;
  /** Per-entity metrics (Application Insights in Azure). */
  metrics?: SyncMetrics;
}

/** Every use case of the sync, built once from one set of adapters. */
export interface SyncComposition {
  /** Runs one pull-job message and settles it by its outcome: the puller function and `sync --once`. */
  runPullJob(
    body: unknown,
    meta: { messageId: string },
    settlement: MessageSettlement,
    scope: InvocationScope,
  ): Promise<PullJobOutcome>;
  /** The pull of one entity, without a job around it (benchmarks, tools). */
  pullEntity(entity: string, options: PullOptions, scope: InvocationScope): Promise<PullResult>;
  /** Pushes the marketing edits found in changed people documents (the change feed, a CLI page). */
  pushDocuments(docs: readonly unknown[], options: PushRunOptions, log: Logger): Promise<PushSummary>;
  /**
   * Pushes again the people whose retry was due by `dueBy` (a retry message lost with the broker, or
   * an earlier CLI run that ended before their turn): one push per attempt number, so each keeps its
   * place in the backoff series.
   */
  retryDue(dueBy: Date, log: Logger): Promise<PushSummary[]>;
  /** Runs one push-retry message: re-reads the people it names and pushes them again. */
  runPushRetry(body: unknown, meta: { messageId: string }, log: Logger): Promise<PushRetryOutcome>;
  /** "Sync person to Dynamics". */
  createPerson(request: CreatePersonRequest, log: Logger): Promise<CreatePersonResult>;
  /** The sync at a glance: per entity, and the push backlog. */
  status(now?: Date): Promise<SyncStatusView>;
  /** One page of sync errors, newest first. */
  searchErrors(search: ErrorSearch): Promise<ErrorPage>;
  /** Operator actions: pull now, resync, pause, resume, retry errors and parked pushes. */
  actions: ManualActions;
  /** The person view and person actions (Dynamics is reached on first use). */
  persons(): PersonActions;
  /** The person a custom record's links lead to, through other custom records if need be. */
  linkedPerson(entity: string, id: string): Promise<LinkedPerson>;
}

/**
 * The composition root of the sync's use cases: the Functions app, the CLI and the benchmarks all
 * build them here, from adapters they choose, so no caller wires a use case of its own.
 */
export function composeSync(adapters: SyncAdapters, settings: SyncSettings): SyncComposition {
  const profiles = new Map<string, EntityProfile>();
  const profileOf = (entity: string): EntityProfile => {
    let profile = profiles.get(entity);
    if (profile === undefined) {
      profile = buildEntityProfile(settings.catalog.get(entity), settings.syncConfig);
      profiles.set(entity, profile);
    }
    return profile;
  };
  // Leads and contacts are always pushable, whether or not SYNC_ENTITIES pulls them.
  const people = (): Record<PersonTable, EntityProfile> => ({
    lead: profileOf('lead'),
    contact: profileOf('contact'),
  });

  const pull = (profile: EntityProfile, options: PullOptions, scope: InvocationScope) => {
    const { source, organization } = adapters.dataverse();
    return new PullUseCase(profile, {
      ...(organization !== undefined ? { organization } : {}),
      people: adapters.people,
      ...(adapters.owners !== undefined ? { owners: adapters.owners } : {}),
      // The next page is fetched while this one is written; a job that stops at its time budget
      // discards at most one page read, which the continuation job repeats.
      source: settings.readAhead === false ? source : readAhead(source),
      records: adapters.recordsFor(profile.container),
      checkpoints: adapters.checkpoints,
      errors: adapters.errors,
      log: scope.log,
      observer: scope.observer ?? IGNORE_PROGRESS,
      timeBudgetMs: settings.timeBudgetMs,
      ...(settings.pageSize !== undefined ? { pageSize: settings.pageSize } : {}),
      ...(projection !== undefined && PROJECTED_ENTITIES.has(profile.logicalName)
        ? { afterPage: (ids: readonly string[]) => projection.afterPage(profile.logicalName, ids) }
        : {}),
      ...(settings.parallelLoad?.entities.includes(profile.logicalName) === true
        ? { parallel: settings.parallelLoad }
        : {}),
    }).run(options);
  };

  // Memberships and roles are worked out only where lists or connections are synced: a deployment
  // without them pays nothing per page.
  const relations = RELATION_SOURCES.some((entity) => settings.enabledEntities.includes(entity))
    ? adapters.relations
    : undefined;
  const projection =
    relations === undefined
      ? undefined
      : new RelationProjection({
          relations: adapters.recordsFor('relations'),
          opportunities: adapters.recordsFor('opportunities'),
          people: adapters.recordsFor('people'),
          queries: relations,
        });

  const creator = (log: Logger) =>
    new CreatePersonUseCase({
      rows: adapters.dataverse().rows,
      people: adapters.recordsFor('people'),
      profiles: people(),
      errors: adapters.errors,
      log,
      ...(adapters.owners !== undefined
        ? { owners: { directory: adapters.owners, rules: settings.syncConfig.owners } }
        : {}),
    });

  const push = (log: Logger) =>
    new PushUseCase({
      rows: adapters.dataverse().rows,
      createPerson: (request) => creator(log).run(request),
      people: adapters.recordsFor('people'),
      errors: adapters.errors,
      retries: adapters.retries,
      profiles: people(),
      log,
      checkpoints: adapters.checkpoints,
      batchSize: settings.pushBatchSize,
      ...(settings.pushRetry !== undefined ? { retry: settings.pushRetry } : {}),
      ...(adapters.dataverse().choices !== undefined ? { choices: adapters.dataverse().choices } : {}),
    });

  /** The push of field edits, then the list membership changes the same documents ask for. */
  const pushAll = (log: Logger) => {
    const useCase = push(log);
    const lists = adapters.dataverse().lists;
    return {
      pushDocuments: async (docs: readonly unknown[], options: PushRunOptions): Promise<PushSummary> => {
        const summary = await useCase.pushDocuments(docs, options);
        if (lists === undefined) return summary;
        const changed = await new ListMembershipUseCase({
          lists,
          people: adapters.recordsFor('people'),
          errors: adapters.errors,
          retries: adapters.retries,
          log,
          ...(settings.pushRetry !== undefined ? { retry: settings.pushRetry } : {}),
        }).run(docs, options);
        summary.requests += changed.requests;
        summary.rejected += changed.failed;
        summary.retrying += changed.retrying;
        summary.pushed += changed.added + changed.removed;
        return summary;
      },
    };
  };

  const actions = new ManualActions({
    catalog: settings.catalog,
    enabledEntities: settings.enabledEntities,
    queue: adapters.queue,
    pullQueue: settings.pullQueue,
    pushRetryQueue: settings.pushRetryQueue,
    errors: adapters.errors,
    checkpoints: adapters.checkpoints,
    people: adapters.recordsFor('people'),
  });

  return {
    actions,
    status: (now) =>
      readSyncStatus(
        settings.enabledEntities.map((name) => settings.catalog.get(name)),
        {
          status: (entity) => adapters.runs.status(entity),
          totalsSince: (entity, hour) => adapters.runs.totalsSince(entity, hour),
          checkpoint: (entity) => adapters.checkpoints.get(entity),
          openErrors: (entity) => adapters.errors.countOpen(entity),
          pushBacklog: () => adapters.people.pushBacklog(),
          verify: (entity) => adapters.runs.verifyResult(entity),
        },
        now,
      ),
    searchErrors: (search) => {
      if (search.entity !== undefined && !ERROR_PARTITIONS.includes(search.entity))
        actions.enabledEntity(search.entity);
      return adapters.errors.search(search);
    },
    runPullJob: (body, meta, settlement, scope) =>
      runAndSettle(
        () =>
          runPullJob(body, meta, {
            runs: adapters.runs,
            catalog: settings.catalog,
            enabledEntities: settings.enabledEntities,
            syncConfig: settings.syncConfig,
            errors: adapters.errors,
            queue: adapters.queue,
            queueName: settings.pullQueue,
            log: scope.log,
            observer: scope.observer ?? IGNORE_PROGRESS,
            pull: (profile, options, log) => pull(profile, options, { ...scope, log }),
            dataverseCounters: () => countersOf(adapters),
            ...(scope.metrics !== undefined ? { metrics: scope.metrics } : {}),
          }),
        settlement,
        scope.log,
      ),
    pullEntity: (entity, options, scope) => pull(profileOf(entity), options, scope),
    pushDocuments: (docs, options, log) => pushAll(log).pushDocuments(docs, options),
    retryDue: async (dueBy, log) => {
      const found = await adapters.people.awaitingRetry(dueBy.toISOString());
      const byAttempt = new Map<number, { docs: unknown[]; since: string }>();
      for (const doc of found.docs) {
        const state = pushStateOf(doc);
        const attempt = state?.attempt ?? 1;
        const group = byAttempt.get(attempt) ?? { docs: [], since: state?.at ?? dueBy.toISOString() };
        group.docs.push(doc);
        if (state !== undefined && state.at < group.since) group.since = state.at;
        byAttempt.set(attempt, group);
      }
      const useCase = pushAll(log);
      const summaries: PushSummary[] = [];
      for (const [attempt, group] of byAttempt) {
        summaries.push(
          await useCase.pushDocuments(group.docs, { attempt, force: true, firstFailedAt: group.since }),
        );
      }
      return summaries;
    },
    runPushRetry: (body, meta, log) => {
      const useCase = pushAll(log);
      return runPushRetry(body, meta, {
        read: (id) => adapters.recordsFor('people').read(id),
        push: (docs, options) => useCase.pushDocuments(docs, options),
        errors: adapters.errors,
        log,
      });
    },
    createPerson: (request, log) => creator(log).run(request),
    linkedPerson: (entity, id) =>
      resolveLinkedPerson(entity, id, {
        config: settings.syncConfig,
        custom: adapters.recordsFor('custom'),
        people: adapters.recordsFor('people'),
      }),
    persons: () =>
      new PersonActions({
        people: adapters.recordsFor('people'),
        queries: adapters.people,
        rows: adapters.dataverse().rows,
        errors: adapters.errors,
        profiles: people(),
      }),
  };
}

/** The entities memberships and roles come from. */
const RELATION_SOURCES = ['listmember', 'connection'];

/** Error partitions that are not entities: person-wide push errors and rejected queue messages. */
const ERROR_PARTITIONS = ['person', 'queue'];

/**
 * Counters of a connection that may not exist: a job whose Dataverse settings are missing must
 * still record its failed run, which reads the counters before and after.
 */
function countersOf(adapters: SyncAdapters): { requests: number; throttled: number } {
  try {
    return adapters.dataverse().counters();
  } catch {
    return { requests: 0, throttled: 0 };
  }
}
