import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHttpServer } from '@vercel/cosmosdb-server';
import { installLinearQueries } from './query-code.patch';

/** Requests the stand-in answered, by kind: what a change costs in round trips. */
export interface CosmosRequestCounts {
  queries: number;
  /** Query plans the SDK asked for beside its queries (answered without running the query). */
  queryPlans: number;
  /** Single-document creates, replaces, upserts, patches and deletes. */
  writes: number;
  /** Bulk (batch) calls, each carrying up to 100 operations of one partition key range. */
  bulkCalls: number;
  reads: number;
}

export interface CosmosStandIn {
  endpoint: string;
  /** The stand-in accepts any key; this one only satisfies the SDK's signing code. */
  key: string;
  requests(): CosmosRequestCounts;
  resetRequests(): void;
  close(): Promise<void>;
}

export const LOCAL_COSMOS_KEY =
  'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==';

/** Starts @vercel/cosmosdb-server on loopback over plain HTTP (faster than its expired-certificate HTTPS). */
export async function startCosmosStandIn(options: { port?: number } = {}): Promise<CosmosStandIn> {
  installLinearQueries();
  // Keep-alive: the SDK reuses connections as it does against real Cosmos DB, instead of one TCP connect per request.
  const server = createHttpServer({ keepAlive: true });
  // Idle connections must outlive the client's: a server that closes first races a request the
  // client is just sending on that socket, which then fails with a reset.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 121_000;
  const counts = newCounts();
  interceptRequests(server, counts);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    key: LOCAL_COSMOS_KEY,
    requests: () => ({ ...counts }),
    resetRequests: () => Object.assign(counts, newCounts()),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/**
 * The SDK asks for a query plan beside every cross-partition query and only uses it when the query
 * itself is refused. The stand-in has no planner: it ran the plan request as a second execution of
 * the query (a scan and sort of the whole container, since it has no index), doubling the cost of
 * every query. It now answers with a plan of one range and no rewrite, as a single-partition
 * account would; the query request that follows is answered as before.
 */
function interceptRequests(server: ReturnType<typeof createHttpServer>, counts: CosmosRequestCounts): void {
  const handlers = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const plan = req.method === 'POST' && req.headers['x-ms-cosmos-is-query-plan-request'] !== undefined;
    count(req, plan, counts);
    if (!plan) {
      for (const handler of handlers) handler.call(server, req, res);
      return;
    }
    req.resume();
    req.once('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(QUERY_PLAN));
    });
  });
}

const QUERY_PLAN = {
  partitionedQueryExecutionInfoVersion: 2,
  queryInfo: {
    distinctType: 'None',
    top: null,
    offset: null,
    limit: null,
    orderBy: [],
    orderByExpressions: [],
    groupByExpressions: [],
    groupByAliases: [],
    aggregates: [],
    groupByAliasToAggregateType: {},
    rewrittenQuery: '',
    hasSelectValue: false,
    hasNonStreamingOrderBy: false,
  },
  queryRanges: [{ min: '', max: 'FF', isMinInclusive: true, isMaxInclusive: false }],
};

const newCounts = (): CosmosRequestCounts => ({
  queries: 0,
  queryPlans: 0,
  writes: 0,
  bulkCalls: 0,
  reads: 0,
});

function count(req: IncomingMessage, plan: boolean, counts: CosmosRequestCounts): void {
  const header = (name: string) => req.headers[name] !== undefined;
  if (plan) counts.queryPlans += 1;
  else if (header('x-ms-documentdb-isquery')) counts.queries += 1;
  else if (header('x-ms-cosmos-is-batch-request')) counts.bulkCalls += 1;
  else if (req.method === 'GET') counts.reads += 1;
  else if (req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH' || req.method === 'DELETE')
    counts.writes += 1;
}
