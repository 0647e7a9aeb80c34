import type { CosmosClient } from '@azure/cosmos';
import type { ServiceBusClient } from '@azure/service-bus';
import { loadEnv, type EnvFor } from '../config/env.schema';
import { CONTAINERS, type ContainerKey, type EntityCatalog } from '../config/entity.catalog';
import { buildCatalog, loadSyncConfig, type SyncConfig } from '../config/sync-config.schema';
import { createCosmosClient } from '../cosmos/cosmos.client';
import { CheckpointRepository } from '../cosmos/checkpoint.repository';
import { RecordRepository } from '../cosmos/record.repository';
import { RunHistoryRepository } from '../cosmos/run-history.repository';
import { SyncErrorRepository } from '../cosmos/sync-error.repository';
import { createDataverseConnection, type DataverseConnection } from '../dataverse';
import type { EntityProfile } from '../domain/entity.profile';
import type { JobQueue } from '../queue/job-queue.port';
import { createServiceBusClient, ServiceBusJobQueue } from '../queue/servicebus.job-queue';
import { PullUseCase, type PullOptions, type PullResult } from '../sync/pull.use-case';
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
  close(): Promise<void>;
}

/** The composition root shared by every function of one worker process. */
export async function createAppServices(source: Record<string, string | undefined>): Promise<AppServices> {
  const env = loadEnv(source, ['cosmos', 'serviceBus', 'sync']);
  const syncConfig = await loadSyncConfig(env.SYNC_CONFIG);
  const catalog = buildCatalog(syncConfig);
  catalog.enabled(env.SYNC_ENTITIES);
  const cosmos = createCosmosClient(env);
  const serviceBus: ServiceBusClient = createServiceBusClient(env);
  const queue = new ServiceBusJobQueue(serviceBus);
  const database = cosmos.database(env.COSMOS_DATABASE);
  const checkpoints = new CheckpointRepository(database.container(CONTAINERS.syncState.id));
  const syncErrors = new SyncErrorRepository(database.container(CONTAINERS.syncErrors.id));
  const repositories = new Map<ContainerKey, RecordRepository>();
  const recordsFor = (container: ContainerKey): RecordRepository => {
    let repository = repositories.get(container);
    if (repository === undefined) {
      repository = new RecordRepository(database.container(CONTAINERS[container].id), {
        kind: container === 'people' ? 'person' : 'generic',
        // The local stand-in serves bulk through a path that adds ~1 s per call; single writes are faster there.
        mode: env.COSMOS_ENDPOINT.startsWith('http://') ? 'parallel' : 'bulk',
      });
      repositories.set(container, repository);
    }
    return repository;
  };
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
        source: dataverse().reader,
        records: recordsFor(profile.container),
        checkpoints,
        errors: syncErrors,
        log,
        timeBudgetMs: env.SYNC_TIME_BUDGET_SECONDS * 1000,
      }).run(options),
    close: async () => {
      await queue.close();
      await serviceBus.close();
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
