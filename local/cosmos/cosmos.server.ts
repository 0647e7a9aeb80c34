import type { AddressInfo } from 'node:net';
import { createHttpServer } from '@vercel/cosmosdb-server';

export interface CosmosStandIn {
  endpoint: string;
  /** The stand-in accepts any key; this one only satisfies the SDK's signing code. */
  key: string;
  close(): Promise<void>;
}

export const LOCAL_COSMOS_KEY =
  'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==';

/** Starts @vercel/cosmosdb-server on loopback over plain HTTP (faster than its expired-certificate HTTPS). */
export async function startCosmosStandIn(options: { port?: number } = {}): Promise<CosmosStandIn> {
  // Keep-alive: the SDK reuses connections as it does against real Cosmos DB, instead of one TCP connect per request.
  const server = createHttpServer({ keepAlive: true });
  // Idle connections must outlive the client's: a server that closes first races a request the
  // client is just sending on that socket, which then fails with a reset.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 121_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    key: LOCAL_COSMOS_KEY,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
