import { app, type InvocationContext } from '@azure/functions';
import { cosmosEnvShape } from '../shared/config/env.schema';
import { CONTAINERS } from '../shared/config/entity.catalog';
import { logOf, services, telemetry } from './app.services';

const DATABASE = cosmosEnvShape.COSMOS_DATABASE.parse(process.env.COSMOS_DATABASE);

export async function pusher(documents: unknown[], context: InvocationContext): Promise<void> {
  const s = await services();
  const log = logOf(context);
  // Failures the use case cannot settle itself (Cosmos or the retry queue unreachable) throw, so the
  // retry policy below replays the batch; replays are harmless because every write is conditional.
  const correlationId = context.invocationId;
  const summary = await telemetry.operation(
    {
      name: 'push people',
      correlationId,
      entity: 'people',
      traceParent: context.traceContext?.traceParent ?? null,
    },
    () => s.sync.pushDocuments(documents, { correlationId }, log),
  );
  // Leads and contacts share the people container, so push figures are reported under it.
  telemetry.metrics.recordsPushed('people', summary.pushed);
  telemetry.metrics.syncErrors('people', summary.invalid + summary.rejected + summary.parked, 'push');
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
