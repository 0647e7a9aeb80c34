import type { Container, CosmosClient } from '@azure/cosmos';
import type { CosmosStandIn } from '../../local/cosmos/cosmos.server';
import type { SimulatorOptions } from '../../local/dataverse/simulator.options';
import { startDataverseSimulator, type DataverseSimulator } from '../../local/dataverse/simulator.server';
import { CONTAINERS, type ContainerKey } from '../../shared/config/entity.catalog';
import { buildCatalog, DEFAULT_SYNC_CONFIG, type SyncConfig } from '../../shared/config/sync-config.schema';
import { CheckpointRepository } from '../../shared/cosmos/checkpoint.repository';
import { CosmosPeopleQueries } from '../../shared/cosmos/people.queries';
import { RecordRepository } from '../../shared/cosmos/record.repository';
import { SyncErrorRepository } from '../../shared/cosmos/sync-error.repository';
import type { DataverseConnection } from '../../shared/dataverse';
import { WhoAmIOrganization } from '../../shared/dataverse/organization.identity';
import { buildEntityProfile, type EntityProfile } from '../../shared/domain/entity.profile';
import type { RecordDocument } from '../../shared/domain/record.model';
import {
  PullUseCase,
  type PullDeps,
  type PullOptions,
  type PullResult,
} from '../../shared/sync/pull.use-case';
import { IGNORE_PROGRESS, type ChangeSource } from '../../shared/sync/ports';
import { createLogger, type Logger } from '../../shared/telemetry/logger';
import { startProvisionedCosmos } from './cosmos.fixture';
import { connectToSimulator } from './dataverse-simulator.helpers';
import { useStarted } from './lifecycle.helpers';

export const quietLog: Logger = createLogger({ debug() {}, info() {}, warn() {}, error() {} });

/** Counts writes that reach Cosmos, so tests can assert "no write" for unchanged rows. */
export class CountingRecords extends RecordRepository {
  written = 0;
  override async write(...args: Parameters<RecordRepository['write']>) {
    const outcome = await super.write(...args);
    this.written += outcome.written;
    return outcome;
  }
}

export interface PullStack {
  sim: DataverseSimulator;
  cosmos: CosmosStandIn;
  client: CosmosClient;
  dataverse: DataverseConnection;
  checkpoints: CheckpointRepository;
  errors: SyncErrorRepository;
  records(container: ContainerKey): CountingRecords;
  container(key: ContainerKey): Container;
  profile(entity: string, config?: SyncConfig): EntityProfile;
  pull(
    entity: string,
    options?: PullOptions & Partial<Omit<PullDeps, 'records'>> & { config?: SyncConfig },
  ): Promise<PullResult>;
  all(key: ContainerKey): Promise<RecordDocument[]>;
  close(): Promise<void>;
}

export async function startPullStack(simOptions: SimulatorOptions = {}): Promise<PullStack> {
  const sim = await startDataverseSimulator({ records: 40, seed: 11, ...simOptions });
  const { cosmos, client, database, close: closeCosmos } = await startProvisionedCosmos('pull');
  const dataverse = connectToSimulator(sim, { governor: { maxConcurrency: 4 } });
  const checkpoints = new CheckpointRepository(database.container(CONTAINERS.syncState.id));
  const errors = new SyncErrorRepository(database.container(CONTAINERS.syncErrors.id));
  const repositories = new Map<ContainerKey, CountingRecords>();
  const records = (key: ContainerKey) => {
    let repo = repositories.get(key);
    if (!repo) {
      repo = new CountingRecords(database.container(CONTAINERS[key].id), {
        kind: key === 'people' ? 'person' : 'generic',
        mode: 'parallel',
      });
      repositories.set(key, repo);
    }
    return repo;
  };
  const profile = (entity: string, config: SyncConfig = DEFAULT_SYNC_CONFIG) =>
    buildEntityProfile(buildCatalog(config).get(entity), config);
  return {
    sim,
    cosmos,
    client,
    dataverse,
    checkpoints,
    errors,
    records,
    container: (key) => database.container(CONTAINERS[key].id),
    profile,
    pull: (entity, options = {}) => {
      const p = profile(entity, options.config);
      const source: ChangeSource = options.source ?? dataverse.reader;
      return new PullUseCase(p, {
        source,
        organization: options.organization ?? new WhoAmIOrganization(dataverse.client),
        people: new CosmosPeopleQueries(database.container(CONTAINERS.people.id)),
        ...(options.owners !== undefined ? { owners: options.owners } : {}),
        records: records(p.container),
        checkpoints,
        errors,
        log: options.log ?? quietLog,
        observer: options.observer ?? IGNORE_PROGRESS,
        timeBudgetMs: options.timeBudgetMs ?? 60_000,
        ...(options.pageSize !== undefined ? { pageSize: options.pageSize } : {}),
        ...(options.afterPageWrite !== undefined ? { afterPageWrite: options.afterPageWrite } : {}),
        ...(options.parallel !== undefined ? { parallel: options.parallel } : {}),
        ...(options.now !== undefined ? { now: options.now } : {}),
      }).run(options);
    },
    all: async (key) => {
      const { resources } = await database
        .container(CONTAINERS[key].id)
        .items.query<RecordDocument>('SELECT * FROM c')
        .fetchAll();
      return resources;
    },
    close: async () => {
      await sim.close();
      await closeCosmos();
    },
  };
}

/** A pull stack for the enclosing describe, started before its tests and closed after them. */
export const usePullStack = (simOptions: SimulatorOptions = {}): (() => PullStack) =>
  useStarted(() => startPullStack(simOptions));

/**
 * Pulls `entity` in pages of `pageSize` and fails right after writing page `crashAfter`, before its
 * checkpoint is saved: a crash between the two writes.
 */
export async function pullCrashingAfterPage(
  stack: PullStack,
  entity: string,
  pageSize: number,
  crashAfter: number,
): Promise<void> {
  await expect(
    stack.pull(entity, {
      pageSize,
      afterPageWrite: ({ page }) => {
        if (page === crashAfter) throw new Error('injected crash after page write');
      },
    }),
  ).rejects.toThrow('injected crash');
}

/** Documents without Cosmos system properties and sync timestamps, for whole-state comparisons. */
export function comparable(docs: readonly RecordDocument[]): unknown[] {
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip);
    if (value === null || typeof value !== 'object') return value;
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([key]) => !key.startsWith('_') && key !== 'updatedAt' && key !== 'at' && key !== 'seenLoad')
        .map(([key, item]) => [key, strip(item)]),
    );
  };
  return [...docs].sort((a, b) => a.id.localeCompare(b.id)).map(strip);
}
