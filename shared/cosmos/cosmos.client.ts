import { CosmosClient, type CosmosClientOptions } from '@azure/cosmos';
import type { TokenCredential } from '@azure/identity';
import type { CosmosEnv } from '../config/env.schema';

export interface CosmosClientDeps {
  /** Used when COSMOS_KEY is absent: managed identity in Azure, developer login elsewhere. */
  credential?: () => TokenCredential;
}

/**
 * Builds the SDK client from configuration. A plain-http endpoint only exists for the local
 * stand-in, whose account metadata advertises an https address the SDK would otherwise follow.
 */
export function createCosmosClient(env: CosmosEnv, deps: CosmosClientDeps = {}): CosmosClient {
  const options: CosmosClientOptions = { endpoint: env.COSMOS_ENDPOINT };
  if (env.COSMOS_ENDPOINT.startsWith('http://')) {
    options.connectionPolicy = { enableEndpointDiscovery: false };
  }
  if (env.COSMOS_KEY !== undefined) {
    options.key = env.COSMOS_KEY;
  } else {
    const credential = deps.credential ?? defaultCredential;
    options.aadCredentials = credential();
  }
  return new CosmosClient(options);
}

function defaultCredential(): TokenCredential {
  // Loaded lazily so that key-based local runs never touch the identity stack.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { DefaultAzureCredential } = require('@azure/identity') as typeof import('@azure/identity');
  return new DefaultAzureCredential({ managedIdentityClientId: process.env.AZURE_CLIENT_ID });
}
