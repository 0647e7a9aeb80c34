import type { CosmosClient } from '@azure/cosmos';
import type { ServiceBusClient } from '@azure/service-bus';
import { loadEnv, type EnvFor } from '../config/env.schema';
import { CONTAINERS, type EntityCatalog } from '../config/entity.catalog';
import { buildCatalog, loadSyncConfig, type SyncConfig } from '../config/sync-config.schema';
import { createCosmosClient } from '../cosmos/cosmos.client';
import { RunHistoryRepository } from '../cosmos/run-history.repository';
import type { JobQueue } from '../queue/job-queue.port';
import { createServiceBusClient, ServiceBusJobQueue } from '../queue/servicebus.job-queue';

export type AppEnv = EnvFor<'cosmos' | 'serviceBus' | 'sync'>;

export interface AppServices {
  env: AppEnv;
  syncConfig: SyncConfig;
  catalog: EntityCatalog;
  cosmos: CosmosClient;
  queue: JobQueue;
  runs: RunHistoryRepository;
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
  return {
    env,
    syncConfig,
    catalog,
    cosmos,
    queue,
    runs: new RunHistoryRepository(database.container(CONTAINERS.syncState.id)),
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
