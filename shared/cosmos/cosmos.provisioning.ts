import type { CosmosClient } from '@azure/cosmos';
import { CONTAINERS, type ContainerKey } from '../config/entity.catalog';
import { CosmosStoreError } from './cosmos.errors';

export interface ProvisioningReport {
  database: string;
  containers: {
    id: string;
    partitionKey: string;
    state: 'created' | 'present' | 'missing' | 'wrong-partition-key';
  }[];
}

/**
 * `create` is for the local stand-in and key-based accounts. In Azure the infrastructure creates
 * the containers (data-plane RBAC cannot), so the app only `verify`s, failing fast with the list
 * of what is wrong rather than at the first write.
 */
export async function provisionCosmos(
  client: CosmosClient,
  databaseId: string,
  mode: 'create' | 'verify',
): Promise<ProvisioningReport> {
  const report: ProvisioningReport = { database: databaseId, containers: [] };
  const database =
    mode === 'create'
      ? (await client.databases.createIfNotExists({ id: databaseId })).database
      : client.database(databaseId);
  for (const key of Object.keys(CONTAINERS) as ContainerKey[]) {
    const definition: { id: string; partitionKey: string; defaultTtl?: number } = CONTAINERS[key];
    const { id, partitionKey } = definition;
    try {
      if (mode === 'create') {
        const response = await database.containers.createIfNotExists({
          id,
          partitionKey: { paths: [partitionKey] },
          ...(definition.defaultTtl !== undefined ? { defaultTtl: definition.defaultTtl } : {}),
        });
        const created = response.statusCode === 201;
        const actual = response.resource?.partitionKey?.paths?.[0];
        report.containers.push({
          id,
          partitionKey,
          state:
            actual !== undefined && actual !== partitionKey
              ? 'wrong-partition-key'
              : created
                ? 'created'
                : 'present',
        });
      } else {
        const { resource } = await database.container(id).read();
        const actual = resource?.partitionKey?.paths?.[0];
        report.containers.push({
          id,
          partitionKey,
          state: actual === partitionKey ? 'present' : 'wrong-partition-key',
        });
      }
    } catch (error) {
      if ((error as { code?: unknown }).code === 404) {
        report.containers.push({ id, partitionKey, state: 'missing' });
        continue;
      }
      throw CosmosStoreError.from(error, `checking container ${id} in database ${databaseId}`);
    }
  }
  const bad = report.containers.filter((c) => c.state === 'missing' || c.state === 'wrong-partition-key');
  if (bad.length > 0) {
    throw new CosmosStoreError(
      'missing_container',
      `Cosmos database "${databaseId}" is not provisioned as the sync expects: ${bad
        .map((c) => `${c.id} (${c.state}, partition key ${c.partitionKey})`)
        .join(', ')}`,
    );
  }
  return report;
}
