// Push benchmark: 10k persons edited in Cosmos are pushed to the Dataverse simulator the way
// `dynamics-sync push --once` does it (change pages of 1000, $batch of PUSH_BATCH_SIZE PATCHes),
// then the latency from a Cosmos write to the Dynamics row being updated, through the Functions
// host harness (Cosmos trigger fed by the 1 s `_ts` poller).
// Run: npm run bench -- push   (BENCH_PUSH_PERSONS, BENCH_PUSH_TRICKLE, BENCH_PUSH_BURST scale it)
// Simulator, Cosmos stand-in, broker and the sync share this one process (and its 2 cores), so
// throughput is a floor, not a ceiling.
import { performance } from 'node:perf_hooks';
import type { Container } from '@azure/cosmos';
import { startLocalStack, type LocalStack } from '../local/stack';
import { createAppServices, type AppServices } from '../shared/app/app.services';
import { pushOnce as pushRun } from '../shared/cli/push.command';
import { CONTAINERS } from '../shared/config/entity.catalog';
import { InProcessJobQueue } from '../shared/queue/in-process.job-queue';
import type { PersonRecord } from '../shared/domain/record.model';
import { createLogger } from '../shared/telemetry/logger';
import { runThenExit } from './support/run-then-exit';

const PERSONS = Number(process.env.BENCH_PUSH_PERSONS ?? 10_000);
const TRICKLE = Number(process.env.BENCH_PUSH_TRICKLE ?? 300);
const TRICKLE_PER_SECOND = 20;
const BURST = Number(process.env.BENCH_PUSH_BURST ?? 1000);
const BATCH = process.env.PUSH_BATCH_SIZE ?? '100';

const quiet = createLogger({ debug() {}, info() {}, warn() {}, error() {} });
const n = (value: number) => Math.round(value).toLocaleString('en-US');
const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const check = (ok: boolean) => (ok ? 'met   ' : 'MISSED');
const strip = (doc: object) => Object.fromEntries(Object.entries(doc).filter(([k]) => !k.startsWith('_')));

function pushable(people: readonly PersonRecord[]): PersonRecord[] {
  return people.filter((p) => {
    const source = p.dynamics[p.type];
    const open = source?.statecode === null || source?.statecode?.value === 0;
    return (
      source !== undefined &&
      !source.merged &&
      open &&
      p.sync.excluded === undefined &&
      p.sync.merged === undefined &&
      p.sync.deletedInDynamics === undefined
    );
  });
}

async function pull(services: AppServices): Promise<number> {
  const started = performance.now();
  for (const entity of ['lead', 'contact']) {
    const result = await services.sync.pullEntity(entity, {}, { log: quiet });
    if (result.outcome !== 'done') throw new Error(`pull of ${entity} ended ${result.outcome}`);
  }
  return performance.now() - started;
}

async function readPeople(container: Container): Promise<PersonRecord[]> {
  return (await container.items.query<PersonRecord>('SELECT * FROM c').fetchAll()).resources;
}

async function editAll(container: Container, people: readonly PersonRecord[], tag: string): Promise<number> {
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < people.length) {
      const person = people[next++] as PersonRecord;
      await container
        .item(person.id, person.id)
        .replace({ ...strip(person), jobTitle: `${tag} ${person.id.slice(0, 8)}` });
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return performance.now() - started;
}

const rowIdOf = (person: PersonRecord): string =>
  String(person.type === 'lead' ? person.dynamics.leadId : person.dynamics.contactId).toLowerCase();

const rowOf = (stack: LocalStack, person: PersonRecord) =>
  stack.dataverse.control.getRow(person.type, rowIdOf(person)) as Record<string, unknown> | undefined;

async function throughput(): Promise<void> {
  const records = Math.ceil((PERSONS * 1.35) / 1.5);
  const stack = await startLocalStack({
    records,
    seed: 7,
    withoutHost: true,
    env: { SYNC_ENTITIES: 'lead,contact', PUSH_BATCH_SIZE: BATCH, LOG_LEVEL: 'error' },
  });
  // As `push --once` runs: retries on a queue in this process, no broker.
  const queue = new InProcessJobQueue();
  const services = await createAppServices(stack.env, { queue });
  const io = { env: stack.env, out: () => undefined, err: console.error };
  const pushOnce = () => pushRun(services, io, { queue, retryForMs: 0 });
  try {
    const pullMs = await pull(services);
    const container = services.cosmos.database('marketing').container(CONTAINERS.people.id);
    const people = pushable(await readPeople(container)).slice(0, PERSONS);
    if (people.length < PERSONS) console.log(`  (only ${people.length} pushable persons in the seed)`);
    console.log(
      `  seeded ${n(records)} contacts + ${n(records / 2)} leads; pulled people in ${(pullMs / 1000).toFixed(1)} s`,
    );
    // A first run from the start records the checkpoint, so the timed run reads only the edits.
    await pushOnce();
    const editMs = await editAll(container, people, 'Bench');
    console.log(`  ${n(people.length)} persons edited in Cosmos in ${(editMs / 1000).toFixed(1)} s`);

    stack.dataverse.control.resetCounters();
    stack.cosmos.resetRequests();
    const before = stack.dataverse.control.counters().total;
    const started = performance.now();
    const totals = await pushOnce();
    const ms = performance.now() - started;
    const cosmosRequests = stack.cosmos.requests();
    const after = stack.dataverse.control.counters().total;
    const requests = after.requests - before.requests;
    const updated = people.filter((p) => String(rowOf(stack, p)?.jobtitle ?? '').startsWith('Bench ')).length;

    stack.dataverse.control.resetCounters();
    const again = await pushOnce();
    const quietRequests = stack.dataverse.control.counters().total.requests;

    console.log(
      `  push --once: ${n(totals.pushed)} edits pushed (${n(updated)} rows verified), ${totals.rejected + totals.invalid + totals.pending + totals.parked} failed`,
    );
    console.log(
      `  Dynamics requests: ${n(requests)} (${((requests / Math.max(1, totals.pushed)) * 1000).toFixed(1)} per 1000 edits; target <= 12 with batches of ${BATCH})`,
    );
    console.log(
      `  Dynamics writes: ${n(after.writes - before.writes)}, throttled: ${after.throttled - before.throttled}`,
    );
    console.log(
      `  throughput: ${n((totals.pushed / ms) * 1000)} edits/s (${(ms / 1000).toFixed(1)} s end to end: read changes, $batch, record agreed values)`,
    );
    console.log(
      `  a second run: ${n(again.documents)} documents read, ${n(again.pushed)} pushed, ${quietRequests} Dynamics requests`,
    );
    const per1000 = (count: number) => ((count / Math.max(1, totals.pushed)) * 1000).toFixed(1);
    // Each change-feed query scans the stand-in's whole container (it has no index), and a bulk call
    // never returns in under a second: these two counts are what slowed the push before.
    console.log(
      `  Cosmos requests per 1000 edits: ${per1000(cosmosRequests.queries)} queries (+${per1000(cosmosRequests.queryPlans)} query plans), ${per1000(cosmosRequests.writes)} single writes, ${per1000(cosmosRequests.bulkCalls)} bulk calls, ${per1000(cosmosRequests.reads)} reads`,
    );
    const rate = (totals.pushed / ms) * 1000;
    console.log(`  ${check(rate >= 600)} >= 600 edits/s end to end: ${n(rate)}`);
    console.log(
      `  ${check(cosmosRequests.queries <= Math.ceil(people.length / 1000) * 2)} <= 2 change-feed queries per 1000 edits: ${cosmosRequests.queries}`,
    );
  } finally {
    await queue.close();
    await services.close();
    await stack.stop();
  }
}

async function latency(): Promise<void> {
  const stack = await startLocalStack({
    records: 2000,
    seed: 9,
    env: { SYNC_ENTITIES: 'lead,contact', SYNC_SCHEDULE: '0 0 0 * * *', LOG_LEVEL: 'error' },
    host: { startTimers: false, cosmosPollIntervalMs: 1000 },
  });
  const services = await createAppServices(stack.env);
  try {
    await pull(services);
    const container = services.cosmos.database('marketing').container(CONTAINERS.people.id);
    const people = pushable(await readPeople(container));
    await sleep(1500); // let the trigger pass over the pulled documents first

    const measure = async (batch: PersonRecord[], tag: string, perSecond: number | undefined) => {
      const written = new Map<string, number>();
      const seen = new Map<string, number>();
      let done = false;
      // Told by the simulator as each write commits: polling the rows would take the CPU the push
      // shares with it in this process, and see an arrival up to one polling round late.
      const expected = new Map(
        batch.map((person) => [
          `${person.type}:${rowIdOf(person)}`,
          { id: person.id, title: `${tag} ${person.id.slice(0, 8)}` },
        ]),
      );
      const stopWatching = stack.dataverse.control.onRowWritten((table, id, values) => {
        const want = expected.get(`${table}:${id}`);
        if (want !== undefined && !seen.has(want.id) && values.jobtitle === want.title)
          seen.set(want.id, performance.now());
      });
      const watcher = (async () => {
        while (!done || seen.size < written.size) await sleep(20);
      })();
      const deadline = performance.now() + 120_000;
      if (perSecond === undefined) {
        let next = 0;
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            while (next < batch.length) {
              const person = batch[next++] as PersonRecord;
              await container
                .item(person.id, person.id)
                .replace({ ...strip(person), jobTitle: `${tag} ${person.id.slice(0, 8)}` });
              written.set(person.id, performance.now());
            }
          }),
        );
      } else {
        const started = performance.now();
        for (const [i, person] of batch.entries()) {
          const due = started + (i * 1000) / perSecond;
          if (due > performance.now()) await sleep(due - performance.now());
          await container
            .item(person.id, person.id)
            .replace({ ...strip(person), jobTitle: `${tag} ${person.id.slice(0, 8)}` });
          written.set(person.id, performance.now());
        }
      }
      done = true;
      await Promise.race([watcher, sleep(Math.max(0, deadline - performance.now()))]);
      stopWatching();
      const lat = [...written]
        .flatMap(([id, t]) => (seen.has(id) ? [Math.max(0, (seen.get(id) as number) - t)] : []))
        .sort((a, b) => a - b);
      return {
        count: written.size,
        arrived: lat.length,
        p50: pct(lat, 0.5),
        p95: pct(lat, 0.95),
        max: lat[lat.length - 1] ?? 0,
      };
    };

    const trickle = await measure(people.slice(0, TRICKLE), 'Trickle', TRICKLE_PER_SECOND);
    console.log(
      `  trickle of ${trickle.count} edits at ${TRICKLE_PER_SECOND}/s: ${trickle.arrived} arrived; Cosmos write -> Dynamics row updated p50 ${n(trickle.p50)} ms, p95 ${n(trickle.p95)} ms, max ${n(trickle.max)} ms (target p95 < 5000 ms, 1 s poll)`,
    );
    await sleep(1500);
    const burst = await measure(people.slice(TRICKLE, TRICKLE + BURST), 'Burst', undefined);
    console.log(
      `  burst of ${burst.count} edits at once: ${burst.arrived} arrived; p50 ${n(burst.p50)} ms, p95 ${n(burst.p95)} ms, max ${n(burst.max)} ms (100 documents per trigger invocation)`,
    );
    console.log(`  ${check(trickle.p95 < 5000 && trickle.arrived === trickle.count)} trickle p95 < 5 s`);
    console.log(`  ${check(burst.p95 < 2000 && burst.arrived === burst.count)} burst p95 < 2 s`);
    const failures = stack.host?.host.stats.get('pusher');
    console.log(`  pusher invocations: ${JSON.stringify(failures)}`);
  } finally {
    await stack.stop();
    // Loaded only now: the functions' module registers its hooks when it loads, which must happen
    // after the host harness has installed @azure/functions-core (else the library runs in test mode).
    const { closeServices } = await import('../functions/app.services.js');
    await closeServices();
    await services.close();
  }
}

const main = async (): Promise<void> => {
  console.log(`push benchmark: ${n(PERSONS)} edited persons, batches of ${BATCH}`);
  await throughput();
  console.log('latency through the functions host (Cosmos trigger on a 1 s poll):');
  await latency();
};

runThenExit(main);
