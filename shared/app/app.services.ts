import type { CosmosClient } from '@azure/cosmos';
import type { ServiceBusClient } from '@azure/service-bus';
import { z } from 'zod';
import { loadEnv, serviceBusEnvShape, type EnvFor } from '../config/env.schema';
import { CONTAINERS, type ContainerKey, type EntityCatalog } from '../config/entity.catalog';
import { buildCatalog, loadSyncConfig, type SyncConfig } from '../config/sync-config.schema';
import { readAhead } from '../sync/read-ahead.source';
import { createCosmosClient } from '../cosmos/cosmos.client';
import { CheckpointRepository } from '../cosmos/checkpoint.repository';
import { DocumentReader } from '../cosmos/document.reader';
import { PushCheckpointRepository } from '../cosmos/push-checkpoint.repository';
import { RecordRepository } from '../cosmos/record.repository';
import { RunHistoryRepository } from '../cosmos/run-history.repository';
import { SyncErrorRepository } from '../cosmos/sync-error.repository';
import { createDataverseConnection, type DataverseConnection } from '../dataverse';
import { buildEntityProfile, type EntityProfile } from '../domain/entity.profile';
import type { PersonTable } from '../domain/push.planner';
import type { JobQueue } from '../queue/job-queue.port';
import { createServiceBusClient, ServiceBusJobQueue } from '../queue/servicebus.job-queue';
import { ManualActions } from '../sync/manual-actions.use-case';
import { PullUseCase, type PullOptions, type PullResult } from '../sync/pull.use-case';
import { CreatePersonUseCase } from '../sync/push-create.use-case';
import { PushUseCase } from '../sync/push.use-case';
import type { Logger } from '../telemetry/logger';

export type AppEnv = EnvFor<'cosmos' | 'serviceBus' | 'sync'>;

export interface AppServices {
  env: AppEnv;
  syncConfig: SyncConfig;
  catalog: EntityCatalog;
  cosmos: CosmosClient;
  queue: JobQueue;
  runs: RunHistoryRepository;
  checkpoints: CheckpointRepository;
  syncErrors: SyncErrorRepository;
  /** One repository per container, shared by the entities stored there. */
  recordsFor(container: ContainerKey): RecordRepository;
  /** Created on first use, so functions that never call Dynamics do not need its credentials. */
  dataverse(): DataverseConnection;
  /** Runs the pull of one entity with this process's adapters. */
  pullEntity(profile: EntityProfile, options: PullOptions, log: Logger): Promise<PullResult>;
  /** Point reads of people documents (push retries, person actions). */
  peopleDocuments: DocumentReader;
  pushCheckpoints: PushCheckpointRepository;
  /** The push of marketing edits to Dynamics, with this process's adapters. */
  pushUseCase(log: Logger): PushUseCase;
  /** "Sync person to Dynamics". */
  createPersonUseCase(log: Logger): CreatePersonUseCase;
  /** Operator actions behind the HTTP API: sync or resync an entity, read errors, retry parked pushes. */
  manualActions: ManualActions;
  close(): Promise<void>;
}

/** Adapters a caller supplies instead of the configured ones. */
export interface AppOverrides {
  queue?: JobQueue;
}

/** The composition root shared by every function of one worker process. */
export async function createAppServices(
  source: Record<string, string | undefined>,
  overrides: AppOverrides = {},
): Promise<AppServices> {
  // With an injected queue (the CLI's in-process one) no Service Bus connection is needed, only queue names.
  const env: AppEnv =
    overrides.queue === undefined
      ? loadEnv(source, ['cosmos', 'serviceBus', 'sync'])
      : { ...z.object(serviceBusEnvShape).parse(source), ...loadEnv(source, ['cosmos', 'sync']) };
  const syncConfig = await loadSyncConfig(env.SYNC_CONFIG);
  const catalog = buildCatalog(syncConfig);
  catalog.enabled(env.SYNC_ENTITIES);
  const cosmos = createCosmosClient(env);
  const serviceBus: ServiceBusClient | undefined =
    overrides.queue === undefined ? createServiceBusClient(env) : undefined;
  const queue: JobQueue = overrides.queue ?? new ServiceBusJobQueue(serviceBus as ServiceBusClient);
  const database = cosmos.database(env.COSMOS_DATABASE);
  const checkpoints = new CheckpointRepository(database.container(CONTAINERS.syncState.id));
  const syncErrors = new SyncErrorRepository(database.container(CONTAINERS.syncErrors.id));
  const repositories = new Map<ContainerKey, RecordRepository>();
  const recordsFor = (container: ContainerKey): RecordRepository => {
    let repository = repositories.get(container);
    if (repository === undefined) {
      repository = new RecordRepository(database.container(CONTAINERS[container].id), {
        kind: container === 'people' ? 'person' : 'generic',
        // Bulk where it pays (large writes), single requests for small ones; the stand-in serves both.
        mode: 'bulk',
      });
      repositories.set(container, repository);
    }
    return repository;
  };
  const peopleDocuments = new DocumentReader(database.container(CONTAINERS.people.id));
  // Leads and contacts are always pushable entities, whether or not SYNC_ENTITIES pulls them.
  let profiles: Record<PersonTable, EntityProfile> | undefined;
  const personProfiles = (): Record<PersonTable, EntityProfile> =>
    (profiles ??= {
      lead: buildEntityProfile(catalog.get('lead'), syncConfig),
      contact: buildEntityProfile(catalog.get('contact'), syncConfig),
    });
  let connection: DataverseConnection | undefined;
  const dataverse = (): DataverseConnection => {
    if (connection === undefined) {
      const dv = loadEnv(source, ['dataverse']);
      connection = createDataverseConnection({
        auth: {
          url: dv.DATAVERSE_URL,
          tenantId: dv.DATAVERSE_TENANT_ID,
          clientId: dv.DATAVERSE_CLIENT_ID,
          ...(dv.DATAVERSE_CLIENT_SECRET !== undefined ? { clientSecret: dv.DATAVERSE_CLIENT_SECRET } : {}),
          ...(dv.DATAVERSE_CLIENT_CERTIFICATE_PATH !== undefined
            ? { certificatePath: dv.DATAVERSE_CLIENT_CERTIFICATE_PATH }
            : {}),
          ...(dv.DATAVERSE_TOKEN_ENDPOINT !== undefined
            ? { tokenEndpoint: dv.DATAVERSE_TOKEN_ENDPOINT }
            : {}),
        },
        governor: { maxConcurrency: dv.DATAVERSE_MAX_CONCURRENCY },
      });
    }
    return connection;
  };
  return {
    env,
    syncConfig,
    catalog,
    cosmos,
    queue,
    runs: new RunHistoryRepository(database.container(CONTAINERS.syncState.id)),
    checkpoints,
    syncErrors,
    recordsFor,
    dataverse,
    pullEntity: (profile, options, log) =>
      new PullUseCase(profile, {
        // The next page is fetched while this one is written, as in the CLI; a job that stops at its
        // time budget discards at most one page read, which the continuation job repeats.
        source: readAhead(dataverse().reader),
        records: recordsFor(profile.container),
        checkpoints,
        errors: syncErrors,
        log,
        timeBudgetMs: env.SYNC_TIME_BUDGET_SECONDS * 1000,
      }).run(options),
    peopleDocuments,
    pushCheckpoints: new PushCheckpointRepository(database.container(CONTAINERS.syncState.id)),
    pushUseCase: (log) =>
      new PushUseCase({
        dataverse: dataverse().client,
        people: recordsFor('people'),
        errors: syncErrors,
        queue,
        retryQueueName: env.PUSH_RETRY_QUEUE,
        profiles: personProfiles(),
        log,
        batchSize: env.PUSH_BATCH_SIZE,
      }),
    createPersonUseCase: (log) =>
      new CreatePersonUseCase({
        dataverse: dataverse().client,
        people: recordsFor('people'),
        read: (id) => peopleDocuments.read(id),
        profiles: personProfiles(),
        errors: syncErrors,
        log,
      }),
    manualActions: new ManualActions({
      catalog,
      enabledEntities: env.SYNC_ENTITIES,
      queue,
      pullQueue: env.PULL_JOBS_QUEUE,
      pushRetryQueue: env.PUSH_RETRY_QUEUE,
      errors: syncErrors,
    }),
    close: async () => {
      // An injected queue belongs to the caller, who closes it.
      if (serviceBus !== undefined) {
        await queue.close();
        await serviceBus.close();
      }
      cosmos.dispose();
    },
  };
}

/** One set of services per process, created on first use so a bad setting fails that invocation loudly. */
export function lazyServices(source: Record<string, string | undefined>): () => Promise<AppServices> {
  let pending: Promise<AppServices> | undefined;
  return () => {
    pending ??= createAppServices(source).catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}
