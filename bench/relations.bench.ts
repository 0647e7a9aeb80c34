// Relations benchmark: what working out memberships and opportunity roles costs a first load of
// leads and contacts (the projection runs after every page), and how long list membership changes
// take to reach Dynamics through the pusher.
// Run: npm run bench -- relations   (BENCH_RELATIONS_RECORDS contacts, default 3000; BENCH_RELATIONS_CHANGES)
// Simulator, Cosmos stand-in and the sync share this one process, so the figures are a floor.
import { performance } from 'node:perf_hooks';
import { startLocalStack } from '../local/stack';
import { createAppServices, type AppServices } from '../shared/app/app.services';
import { CONTAINERS } from '../shared/config/entity.catalog';
import { provisionCosmos } from '../shared/cosmos/cosmos.provisioning';
import { createLogger } from '../shared/telemetry/logger';
import { runThenExit } from './support/run-then-exit';

const RECORDS = Number(process.env.BENCH_RELATIONS_RECORDS ?? 3000);
const CHANGES = Number(process.env.BENCH_RELATIONS_CHANGES ?? 200);
const RELATIONS = 'list,listmember,connectionrole,connection';

const quiet = createLogger({ debug() {}, info() {}, warn() {}, error() {} });
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function timedPull(services: AppServices, entities: readonly string[]): Promise<number> {
  const started = performance.now();
  for (const entity of entities) {
    const result = await services.sync.pullEntity(entity, {}, { log: quiet });
    if (result.outcome !== 'done') throw new Error(`pull of ${entity} ended ${result.outcome}`);
  }
  return performance.now() - started;
}

async function main(): Promise<void> {
  const stack = await startLocalStack({ records: RECORDS, seed: 42, withoutHost: true });
  try {
    // The same people loaded twice, into two databases: once with lists and connections synced
    // (memberships and roles worked out after every page), once without.
    const plain = await createAppServices({
      ...stack.env,
      COSMOS_DATABASE: 'plain',
      SYNC_ENTITIES: 'lead,contact',
    });
    const related = await createAppServices({
      ...stack.env,
      SYNC_ENTITIES: `lead,contact,opportunity,${RELATIONS}`,
    });
    await provisionCosmos(plain.cosmos, 'plain', 'create');

    const without = await timedPull(plain, ['lead', 'contact']);
    const relationsFirst = await timedPull(related, ['opportunity', ...RELATIONS.split(',')]);
    const withProjection = await timedPull(related, ['lead', 'contact']);
    const people = related.cosmos.database('marketing').container(CONTAINERS.people.id);
    const count = async (where: string) =>
      (await people.items.query<number>(`SELECT VALUE COUNT(1) FROM c WHERE ${where}`).fetchAll())
        .resources[0] ?? 0;
    console.log(`first load of leads and contacts (${RECORDS} contacts):`);
    console.log(`  without lists and connections      ${seconds(without)}`);
    console.log(
      `  with memberships and roles worked  ${seconds(withProjection)} (${withProjection >= without ? '+' : ''}${((withProjection / without - 1) * 100).toFixed(0)} %; one run each, noisy on a shared machine)`,
    );
    console.log(`  lists, members, roles, connections, opportunities beforehand: ${seconds(relationsFirst)}`);
    console.log(
      `  people with memberships ${await count('ARRAY_LENGTH(c.memberships) > 0')}, with opportunity roles ${await count('ARRAY_LENGTH(c.opportunityRoles) > 0')}`,
    );

    // Membership changes: each person asks to join a static list of its table; one push carries them out.
    const lists = stack.dataverse.control.listRows('list', { limit: 10_000 });
    const contactList = lists.find((l) => l.type === false && l.createdfromcode === 2);
    if (contactList === undefined) throw new Error('the seed has no static contact list');
    const { resources: candidates } = await people.items
      .query<Record<string, unknown> & { id: string }>(
        `SELECT TOP ${CHANGES} * FROM c WHERE IS_DEFINED(c.dynamics.contactId)`,
      )
      .fetchAll();
    for (const person of candidates)
      await people.items.upsert({ ...person, listRequests: [{ listId: contactList.listid, action: 'add' }] });
    const docs = await Promise.all(
      candidates.map(async (p) => (await people.item(p.id, p.id).read()).resource as unknown),
    );
    const started = performance.now();
    const summary = await related.sync.pushDocuments(docs, {}, quiet);
    const took = performance.now() - started;
    console.log(
      `list membership changes: ${candidates.length} people added to "${String(contactList.listname)}" in ${seconds(took)} (${(candidates.length / (took / 1000)).toFixed(0)} a second; ${summary.requests} Dataverse requests, ${summary.rejected} refused)`,
    );
    await plain.close();
    await related.close();
  } finally {
    await stack.stop();
  }
}

runThenExit(main);
