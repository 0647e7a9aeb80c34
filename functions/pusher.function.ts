import { app, type InvocationContext } from '@azure/functions';
import { cosmosEnvShape } from '../shared/config/env.schema';
import { CONTAINERS } from '../shared/config/entity.catalog';
import { createLogger } from '../shared/telemetry/logger';
import { services } from './app.services';

const DATABASE = cosmosEnvShape.COSMOS_DATABASE.parse(process.env.COSMOS_DATABASE);

export async function pusher(documents: unknown[], context: InvocationContext): Promise<void> {
  const s = await services();
  const log = createLogger(context, { level: s.env.LOG_LEVEL });
  // Failures the use case cannot settle itself (Cosmos or the retry queue unreachable) throw, so the
  // retry policy below replays the batch; replays are harmless because every write is conditional.
  await s.pushUseCase(log).pushDocuments(documents, { correlationId: context.invocationId });
}

app.cosmosDB('pusher', {
  connection: 'COSMOS',
  databaseName: DATABASE,
  containerName: CONTAINERS.people.id,
  leaseContainerName: CONTAINERS.leases.id,
  createLeaseContainerIfNotExists: false,
  // Without a retry policy a failed batch would be skipped by the lease; with one it is replayed.
  retry: {
    strategy: 'exponentialBackoff',
    maxRetryCount: 8,
    minimumInterval: { seconds: 2 },
    maximumInterval: { minutes: 2 },
  },
  handler: pusher,
});
