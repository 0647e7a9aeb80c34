import type { CosmosClient, Database } from '@azure/cosmos';
import { startCosmosStandIn, type CosmosStandIn } from '../../local/cosmos/cosmos.server';
import { createCosmosClient } from '../../shared/cosmos/cosmos.client';
import { provisionCosmos } from '../../shared/cosmos/cosmos.provisioning';

/** A Cosmos client for one database of the stand-in, made as the app makes it from its settings. */
export const cosmosClientFor = (
  cosmos: Pick<CosmosStandIn, 'endpoint' | 'key'>,
  database: string,
): CosmosClient =>
  createCosmosClient({ COSMOS_ENDPOINT: cosmos.endpoint, COSMOS_KEY: cosmos.key, COSMOS_DATABASE: database });

export interface ProvisionedCosmos {
  cosmos: CosmosStandIn;
  client: CosmosClient;
  /** The database the app's containers were created in. */
  database: Database;
  close(): Promise<void>;
}

/** A Cosmos stand-in with every container of the app created in `database`, and a client for it. */
export async function startProvisionedCosmos(database: string): Promise<ProvisionedCosmos> {
  const cosmos = await startCosmosStandIn();
  const client = cosmosClientFor(cosmos, database);
  const close = async () => {
    client.dispose();
    await cosmos.close();
  };
  try {
    await provisionCosmos(client, database, 'create');
  } catch (error) {
    await close();
    throw error;
  }
  return { cosmos, client, database: client.database(database), close };
}
