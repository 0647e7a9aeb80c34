import type { CosmosClient } from '@azure/cosmos';
import type { ServiceBusClient } from '@azure/service-bus';
import { ConfigError } from '../config/config.errors';
import { loadEnv, type DataverseEnv, type EnvFor } from '../config/env.schema';
import type { MsalTokenProviderOptions } from '../dataverse/token.provider';
import { CONTAINERS, type ContainerKey, type EntityCatalog } from '../config/entity.catalog';
import { buildCatalog, loadSyncConfig, type SyncConfig } from '../config/sync-config.schema';
import { ApiBudgetRepository, budgetDocumentId } from '../cosmos/api-budget.repository';
import { AuditRepository } from '../cosmos/audit.repository';
import { CheckpointRepository } from '../cosmos/checkpoint.repository';
import { createCosmosClient } from '../cosmos/cosmos.client';
import { CosmosStoreError } from '../cosmos/cosmos.errors';
import { provisionCosmos } from '../cosmos/cosmos.provisioning';
import { DocumentMigrationRepository } from '../cosmos/document-migration.repository';
import { CosmosOwnerDirectory } from '../cosmos/owner-directory.repository';
import { CosmosPeopleQueries } from '../cosmos/people.queries';
import { CosmosRelationQueries } from '../cosmos/relation.queries';
import { PushCheckpointRepository } from '../cosmos/push-checkpoint.repository';
import { RecordRepository } from '../cosmos/record.repository';
import { RunHistoryRepository } from '../cosmos/run-history.repository';
import { SyncErrorRepository } from '../cosmos/sync-error.repository';
import { createDataverseConnection, type DataverseConnection, LeasedApiBudget } from '../dataverse';
import { WhoAmIOrganization } from '../dataverse/organization.identity';
import { DataversePersonRowGateway } from '../dataverse/person-row.gateway';
import type { JobQueue } from '../queue/job-queue.port';
import { QueuedPushRetries } from '../queue/push-retry.scheduler';
import { createServiceBusClient, ServiceBusJobQueue } from '../queue/servicebus.job-queue';
import { DEFAULT_PARALLEL_LOAD_CONCURRENCY } from '../sync/parallel-load.runner';
import type { PushRetryScheduler } from '../sync/ports';
import {
  migrateDocuments,
  type MigrationProgress,
  type MigrationReport,
} from '../sync/document-migration.use-case';
import { validateSync, type ValidationReport } from '../sync/validate.use-case';
import { NotifyUseCase } from '../sync/notify.use-case';
import { acceptedSecrets } from './notify.route';
import { buildEntityProfile } from '../domain/entity.profile';
import { describeError } from '../errors/app.errors';
import type { Logger } from '../telemetry/logger';
import { validationProbes } from './validation.probes';
import {
  composeSync,
  type DataverseAdapters,
  type SyncComposition,
  type SyncSettings,
} from './sync.composition';

export type AppEnv = EnvFor<'cosmos' | 'serviceBus' | 'sync'>;

export interface AppServices {
  env: AppEnv;
  syncConfig: SyncConfig;
  catalog: EntityCatalog;
  cosmos: CosmosClient;
  /** Every use case of the sync, composed once from this process's adapters. */
  sync: SyncComposition;
  /** Pull jobs and push retries: Service Bus, or the caller's queue. */
  queue: JobQueue;
  runs: RunHistoryRepository;
  checkpoints: CheckpointRepository;
  syncErrors: SyncErrorRepository;
  pushCheckpoints: PushCheckpointRepository;
  /** One repository per container, shared by the entities stored there. */
  recordsFor(container: ContainerKey): RecordRepository;
  /** Created on first use, so functions that never call Dynamics do not need its credentials. */
  dataverse(): DataverseConnection;
  /** The people container's cross-document questions. */
  people: CosmosPeopleQueries;
  /** Every operator action: who, what, when, outcome. */
  audit: AuditRepository;
  /** The real-time path (docs/realtime.md): the secrets POST /api/notify accepts, and what it runs. */
  notify: { secrets: readonly string[]; useCase(): NotifyUseCase };
  /** Validate Sync: every check this deployment needs to sync, with the fix of each that fails. */
  validate(): Promise<ValidationReport>;
  /** Rewrites record documents of older schema versions in the current shape (`dynamics-sync migrate`). */
  migrateDocuments(log: Logger, onProgress?: (progress: MigrationProgress) => void): Promise<MigrationReport>;
  /**
   * Fails with a ConfigError naming each missing database or container and the command that creates
   * them: a job against an unprovisioned database would otherwise fail on every delivery.
   */
  assertProvisioned(): Promise<void>;
  close(): Promise<void>;
}

/** Adapters a caller supplies instead of the configured ones. */
export interface AppOverrides {
  /** The CLI's in-process queue: then no Service Bus connection is needed, only queue names. */
  queue?: JobQueue;
  /** Where transient push failures wait (default: the push-retry queue). */
  retries?: PushRetryScheduler;
  /** Knobs tests turn that the environment does not (a time budget under 10 s, small pages, fast retries). */
  tuning?: Partial<Pick<SyncSettings, 'timeBudgetMs' | 'pageSize' | 'pushRetry'>>;
}

/** The adapters of one worker process (or one CLI run), and the sync composed from them. */
export async function createAppServices(
  source: Record<string, string | undefined>,
  overrides: AppOverrides = {},
): Promise<AppServices> {
  const env: AppEnv = loadEnv(source, [
    'cosmos',
    overrides.queue === undefined ? 'serviceBus' : 'queues',
    'sync',
  ]);
  const syncConfig = await loadSyncConfig(env.SYNC_CONFIG);
  const catalog = buildCatalog(syncConfig);
  catalog.enabled(env.SYNC_ENTITIES);
  const cosmos = createCosmosClient(env);
  const serviceBus: ServiceBusClient | undefined =
    overrides.queue === undefined ? createServiceBusClient(env) : undefined;
  const queue: JobQueue = overrides.queue ?? new ServiceBusJobQueue(serviceBus as ServiceBusClient);
  const database = cosmos.database(env.COSMOS_DATABASE);
  const container = (key: ContainerKey) => database.container(CONTAINERS[key].id);
  const checkpoints = new CheckpointRepository(container('syncState'));
  const syncErrors = new SyncErrorRepository(container('syncErrors'));
  const runs = new RunHistoryRepository(container('syncState'));
  const repositories = new Map<ContainerKey, RecordRepository>();
  const recordsFor = (key: ContainerKey): RecordRepository => {
    let repository = repositories.get(key);
    if (repository === undefined) {
      repository = new RecordRepository(container(key), {
        kind: key === 'people' ? 'person' : 'generic',
        // Bulk where it pays (large writes), single requests for small ones; the stand-in serves both.
        mode: 'bulk',
      });
      repositories.set(key, repository);
    }
    return repository;
  };
  const people = new CosmosPeopleQueries(container('people'));
  let connection: DataverseConnection | undefined;
  let budget: LeasedApiBudget | undefined;
  const dataverse = (): DataverseConnection => {
    if (connection === undefined) {
      const dv = loadEnv(source, ['dataverse']);
      if (dv.DATAVERSE_BUDGET === 'shared') {
        budget = new LeasedApiBudget({
          store: new ApiBudgetRepository(
            container('syncState'),
            budgetDocumentId(dv.DATAVERSE_URL, dv.DATAVERSE_CLIENT_ID),
          ),
          limits: {
            requests: dv.DATAVERSE_BUDGET_REQUESTS,
            executionMs: dv.DATAVERSE_BUDGET_EXECUTION_SECONDS * 1000,
            concurrency: dv.DATAVERSE_BUDGET_CONCURRENCY,
            windowMs: dv.DATAVERSE_BUDGET_WINDOW_SECONDS * 1000,
            leaseMs: dv.DATAVERSE_BUDGET_LEASE_SECONDS * 1000,
            skewMs: Math.min(2000, dv.DATAVERSE_BUDGET_LEASE_SECONDS * 100),
          },
          maxSlots: dv.DATAVERSE_MAX_CONCURRENCY,
        });
      }
      connection = createDataverseConnection({
        ...(budget !== undefined ? { budget } : {}),
        auth: dataverseAuth(dv),
        governor: { maxConcurrency: dv.DATAVERSE_MAX_CONCURRENCY },
      });
    }
    return connection;
  };
  let dataverseAdapters: DataverseAdapters | undefined;
  const sync = composeSync(
    {
      dataverse: () =>
        (dataverseAdapters ??= {
          source: dataverse().reader,
          ...gatewayRoles(new DataversePersonRowGateway(dataverse().client)),
          organization: new WhoAmIOrganization(dataverse().client),
          counters: () => {
            const { requests, throttled } = dataverse().governor.counters();
            return { requests, throttled };
          },
        }),
      recordsFor,
      people,
      checkpoints,
      errors: syncErrors,
      runs,
      owners: new CosmosOwnerDirectory(container('directory')),
      queue,
      retries: overrides.retries ?? new QueuedPushRetries(queue, env.PUSH_RETRY_QUEUE),
      relations: new CosmosRelationQueries(container('relations'), container('opportunities')),
    },
    {
      catalog,
      syncConfig,
      enabledEntities: env.SYNC_ENTITIES,
      pullQueue: env.PULL_JOBS_QUEUE,
      pushRetryQueue: env.PUSH_RETRY_QUEUE,
      timeBudgetMs: env.SYNC_TIME_BUDGET_SECONDS * 1000,
      parallelLoad: { entities: env.SYNC_PARALLEL_LOAD, concurrency: DEFAULT_PARALLEL_LOAD_CONCURRENCY },
      pushBatchSize: env.PUSH_BATCH_SIZE,
      ...overrides.tuning,
    },
  );
  const notifyEnv = loadEnv(source, ['notify']);
  let notifyUseCase: NotifyUseCase | undefined;
  const services: AppServices = {
    env,
    syncConfig,
    catalog,
    cosmos,
    sync,
    queue,
    runs,
    checkpoints,
    syncErrors,
    pushCheckpoints: new PushCheckpointRepository(container('syncState')),
    recordsFor,
    dataverse,
    people,
    audit: new AuditRepository(container('syncState')),
    notify: {
      secrets: acceptedSecrets(notifyEnv.NOTIFY_SECRET, notifyEnv.NOTIFY_SECRET_PREVIOUS),
      useCase: () =>
        (notifyUseCase ??= new NotifyUseCase({
          identity: {
            whoAmI: async () => {
              const me = await dataverse().client.whoAmI();
              return { organizationId: me.OrganizationId, userId: me.UserId };
            },
          },
          organizationId: notifyEnv.DATAVERSE_ORGANIZATION_ID,
          enabledEntities: env.SYNC_ENTITIES,
          queue,
          pullQueue: env.PULL_JOBS_QUEUE,
          windowMs: notifyEnv.NOTIFY_WINDOW_SECONDS * 1000,
        })),
    },
    migrateDocuments: (log, onProgress) =>
      migrateDocuments(
        RECORD_CONTAINERS.map((key) => ({
          container: CONTAINERS[key].id,
          store: new DocumentMigrationRepository(container(key)),
        })),
        log,
        onProgress,
      ),
    assertProvisioned: async () => {
      try {
        await provisionCosmos(cosmos, env.COSMOS_DATABASE, 'verify');
      } catch (error) {
        if (!(error instanceof CosmosStoreError) || error.code !== 'missing_container') throw error;
        throw new ConfigError(
          'not_provisioned',
          `${error.message}. Create the database and containers with \`dynamics-sync provision\` (or run this command with --provision); in Azure the infrastructure creates them.`,
          { cause: error },
        );
      }
    },
    validate: async () => {
      let dataverseUrl: string;
      try {
        dataverseUrl = loadEnv(source, ['dataverse']).DATAVERSE_URL;
      } catch (error) {
        return {
          ok: false,
          checks: [
            {
              id: 'settings',
              status: 'fail',
              detail: describeError(error),
              fix: 'set the Dataverse settings (the README lists them); `dynamics-sync config check` reports every problem',
            },
          ],
        };
      }
      const profiles = [...new Set(['lead', 'contact', ...env.SYNC_ENTITIES])].map((name) =>
        buildEntityProfile(catalog.get(name), syncConfig),
      );
      return validateSync(validationProbes(services, dataverseUrl), {
        dataverseUrl,
        profiles,
      });
    },
    close: async () => {
      // Slots given back now are free for other instances at once instead of at the lease's expiry.
      await budget?.close();
      // An injected queue belongs to the caller, who closes it.
      if (serviceBus !== undefined) {
        await queue.close();
        await serviceBus.close();
      }
      cosmos.dispose();
    },
  };
  return services;
}

/** The containers holding record documents (the others hold sync state, errors and leases). */
const RECORD_CONTAINERS: readonly ContainerKey[] = [
  'people',
  'accounts',
  'opportunities',
  'directory',
  'custom',
];

/** The push gateway in each of its roles: one instance, so its cache of column options is shared. */
const gatewayRoles = (gateway: DataversePersonRowGateway) => ({
  rows: gateway,
  lists: gateway,
  choices: gateway,
});

/** The Dataverse sign-in the settings describe (client secret or certificate, token endpoint override). */
export function dataverseAuth(dv: DataverseEnv): MsalTokenProviderOptions {
  return {
    url: dv.DATAVERSE_URL,
    tenantId: dv.DATAVERSE_TENANT_ID,
    clientId: dv.DATAVERSE_CLIENT_ID,
    ...(dv.DATAVERSE_CLIENT_SECRET !== undefined ? { clientSecret: dv.DATAVERSE_CLIENT_SECRET } : {}),
    ...(dv.DATAVERSE_CLIENT_CERTIFICATE_PATH !== undefined
      ? { certificatePath: dv.DATAVERSE_CLIENT_CERTIFICATE_PATH }
      : {}),
    ...(dv.DATAVERSE_TOKEN_ENDPOINT !== undefined ? { tokenEndpoint: dv.DATAVERSE_TOKEN_ENDPOINT } : {}),
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
