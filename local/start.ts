import path from 'node:path';
import { DEFAULT_ENTITIES, OPT_IN_ENTITIES } from '../shared/config/env.schema';
import { CONTAINERS } from '../shared/config/entity.catalog';
import { createCosmosClient } from '../shared/cosmos/cosmos.client';
import type { HostLogEntry } from './host/function-host';
import { LiveDemo } from './live-demo';
import { startLocalStack } from './stack';

/**
 * `npm start`: the whole app on the local stack with seeded data, a status line every few
 * seconds, and a clean shutdown on Ctrl-C.
 */
async function main(): Promise<void> {
  const port = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
  const records = Number(process.env.LOCAL_RECORDS ?? 3000);
  const verbose = process.env.LOG_LEVEL === 'debug';
  const started = Date.now();
  const recent: string[] = [];
  const log = (entry: HostLogEntry) => {
    if (entry.category === 'system' && !verbose) return;
    if (entry.level === 'debug' && !verbose) return;
    const line = `  ${entry.level === 'error' ? 'ERROR ' : entry.level === 'warning' ? 'WARN  ' : ''}[${entry.functionName}] ${entry.message}`;
    recent.push(line);
    console.log(line);
  };

  console.log(`Starting the local stack with ${records} seeded contacts...`);
  const stack = await startLocalStack({
    ports: {
      http: port('LOCAL_HTTP_PORT', 7071),
      dataverse: port('LOCAL_DATAVERSE_PORT', 7072),
      serviceBus: port('LOCAL_SERVICEBUS_PORT', 5673),
      cosmos: port('LOCAL_COSMOS_PORT', 8081),
    },
    records,
    env: {
      SYNC_SCHEDULE: process.env.SYNC_SCHEDULE ?? '*/15 * * * * *',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
      // Everything the seed has: marketing lists and their members, opportunity stakeholders, team
      // memberships (into the directory), and the multi-select column new_interests mapped to the
      // people's `interests`.
      SYNC_ENTITIES: process.env.SYNC_ENTITIES ?? [...DEFAULT_ENTITIES, ...OPT_IN_ENTITIES].join(','),
      SYNC_CONFIG: process.env.SYNC_CONFIG ?? path.join(__dirname, 'sync-config.local.json'),
    },
    // Without an onError of its own the host logs a function's failure through `log`, as an error.
    host: { log },
  });
  const host = stack.host;
  if (host === undefined) throw new Error('local host did not start');

  console.log(`
Local stack is up in ${((Date.now() - started) / 1000).toFixed(1)} s:
  Console            http://127.0.0.1:${host.httpPort}/api/console/
  Functions          http://127.0.0.1:${host.httpPort}/api/status   (functions: ${host.host.registrations.map((r) => r.metadata.name).join(', ')})
  Dataverse sim      ${stack.dataverse.apiUrl}   (control API: ${stack.dataverse.url}/_sim/)
  Service Bus        ${stack.env.SERVICEBUS?.replace(/SharedAccessKey=[^;]+/, 'SharedAccessKey=...')}
  Cosmos DB          ${stack.cosmos.endpoint}   (database "marketing")
The scheduler runs on "${stack.env.SYNC_SCHEDULE}". Press Ctrl-C to stop.
`);

  // First sync at once rather than at the next schedule slot.
  void host.timers.tick('scheduler').catch((error: unknown) => console.error(`scheduler: ${String(error)}`));

  const cosmos = createCosmosClient({
    COSMOS_ENDPOINT: stack.cosmos.endpoint,
    COSMOS_KEY: stack.cosmos.key,
    COSMOS_DATABASE: 'marketing',
  });
  const database = cosmos.database('marketing');
  const count = async (id: string) => {
    const { resources } = await database
      .container(id)
      .items.query<number>('SELECT VALUE COUNT(1) FROM c')
      .fetchAll();
    return resources[0] ?? 0;
  };
  const status = setInterval(() => {
    void (async () => {
      const counts = await Promise.all(
        [
          CONTAINERS.people.id,
          CONTAINERS.accounts.id,
          CONTAINERS.opportunities.id,
          CONTAINERS.directory.id,
          CONTAINERS.relations.id,
          CONTAINERS.syncState.id,
        ].map(async (id) => `${id} ${await count(id)}`),
      );
      const invocations = [...host.host.stats].map(
        ([name, s]) => `${name} ${s.succeeded}${s.failed ? `/${s.failed} failed` : ''}`,
      );
      const sim = stack.dataverse.control.counters();
      const pull = stack.broker.counters('pull-jobs');
      console.log(
        `[${new Date().toISOString().slice(11, 19)}] runs: ${invocations.join(', ') || 'none yet'} | queue pull-jobs: ${pull.active} waiting, ${pull.deadLettered} dead-lettered | Cosmos: ${counts.join(', ')} | Dataverse: ${sim.total.requests} requests, ${sim.total.throttled} throttled`,
      );
    })().catch((error: unknown) => console.error(`status: ${String(error)}`));
  }, 5000);

  // Live demo: edits on both sides and a conflict, reported when they have settled.
  const demo = new LiveDemo(stack.dataverse, database.container(CONTAINERS.people.id), (line) =>
    console.log(line),
  );
  let demoBusy = false;
  const demoTimer = setInterval(() => {
    if (demoBusy) return;
    demoBusy = true;
    demo
      .tick()
      .catch((error: unknown) => console.error(`demo: ${String(error)}`))
      .finally(() => (demoBusy = false));
  }, 1000);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping the functions and the local stack...`);
    clearInterval(status);
    clearInterval(demoTimer);
    cosmos.dispose();
    await stack.stop();
    console.log('Stopped cleanly.');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
