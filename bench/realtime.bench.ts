// Real-time benchmark: Dynamics edit -> Cosmos latency through the webhook path on the local stack
// (simulator posting after its 1 s asynchronous-service delay -> POST /api/notify -> pull job on
// Service Bus -> delta read -> Cosmos), with the timer at 15 minutes, over a trickle and a burst of
// edits; then the loop guard: marketing edits pushed to Dynamics come back as notifications and must
// write nothing.
// Run: npm run bench -- realtime   (BENCH_REALTIME_RECORDS, _TRICKLE, _TRICKLE_MS, _BURST, _ECHOES;
// BENCH_REALTIME_FULL=1 for a larger run). Simulator, broker, Cosmos stand-in and the functions
// share this one process and its cores, so the figures are a ceiling on latency, not a floor.
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Container } from '@azure/cosmos';
import { startLocalStack, type LocalStack } from '../local/stack';
import { main as cli } from '../shared/cli/cli';
import { createCosmosClient } from '../shared/cosmos/cosmos.client';
import { runThenExit } from './support/run-then-exit';

const FULL = process.env.BENCH_REALTIME_FULL === '1';
const num = (name: string, fallback: number, full: number) =>
  Number(process.env[name] ?? (FULL ? full : fallback));
const RECORDS = num('BENCH_REALTIME_RECORDS', 2000, 10_000);
const TRICKLE = num('BENCH_REALTIME_TRICKLE', 60, 300);
const TRICKLE_MS = num('BENCH_REALTIME_TRICKLE_MS', 250, 200);
const BURST = num('BENCH_REALTIME_BURST', 200, 1000);
const ECHOES = num('BENCH_REALTIME_ECHOES', 30, 100);
const SECRET = 'bench-notify-secret';

interface Person {
  id: string;
  type: string;
  jobTitle?: unknown;
  dynamics: { contactId?: string };
  sync: {
    excluded?: unknown;
    merged?: unknown;
    deletedInDynamics?: unknown;
    agreed?: Record<string, unknown>;
  };
  _etag?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * p) - 1)] ?? 0;
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function settled(stack: LocalStack): Promise<void> {
  const url = `http://127.0.0.1:${stack.host?.httpPort}/api/status`;
  for (;;) {
    const status = (await (await fetch(url)).json()) as {
      entities: { state: string; lastRun: { status: string } | null }[];
    };
    if (status.entities.every((e) => e.state === 'synced' && e.lastRun?.status !== 'running')) return;
    await sleep(250);
  }
}

async function activeContacts(stack: LocalStack, people: Container): Promise<Person[]> {
  const { resources } = await people.items
    .query<Person>(
      'SELECT * FROM c WHERE c.type = "contact" AND NOT IS_DEFINED(c.sync.excluded) AND NOT IS_DEFINED(c.sync.merged) AND NOT IS_DEFINED(c.sync.deletedInDynamics)',
    )
    .fetchAll();
  return resources.filter(
    (p) => stack.dataverse.control.getRow('contact', String(p.dynamics.contactId))?.statecode === 0,
  );
}

/**
 * Watches for the edits to arrive: one query per round for the phase's titles (one scan of the
 * stand-in's container, far cheaper for it than a point read per pending person), recording how long
 * after its edit each title was first seen. The figure is at most one round (about 0.1 s) late.
 */
async function watch(
  people: Container,
  prefix: string,
  edits: Map<string, { title: string; at: number }>,
  producing: () => boolean,
): Promise<number[]> {
  const latencies: number[] = [];
  const deadline = performance.now() + 180_000;
  while (edits.size > 0 || producing()) {
    if (performance.now() > deadline) throw new Error(`${edits.size} edits never reached Cosmos`);
    const { resources } = await people.items
      .query<{ id: string; jobTitle: string }>({
        query: 'SELECT c.id, c.jobTitle FROM c WHERE STARTSWITH(c.jobTitle, @prefix)',
        parameters: [{ name: '@prefix', value: prefix }],
      })
      .fetchAll();
    const seenAt = performance.now();
    for (const doc of resources) {
      const edit = edits.get(doc.id);
      if (edit !== undefined && doc.jobTitle === edit.title) {
        latencies.push(seenAt - edit.at);
        edits.delete(doc.id);
      }
    }
    await sleep(100);
  }
  return latencies;
}

function report(label: string, latencies: number[]): { p95: number; p99: number } {
  const sorted = [...latencies].sort((a, b) => a - b);
  const p95 = pct(sorted, 0.95);
  const p99 = pct(sorted, 0.99);
  console.log(
    `  ${label.padEnd(9)} ${String(sorted.length).padStart(5)} edits  p50 ${s(pct(sorted, 0.5))}  p95 ${s(p95)}  p99 ${s(p99)}  max ${s(sorted.at(-1) ?? 0)}`,
  );
  return { p95, p99 };
}

async function bench(): Promise<void> {
  const started = performance.now();
  const stack = await startLocalStack({
    records: RECORDS,
    seed: 11,
    env: {
      SYNC_ENTITIES: 'lead,contact,account',
      // The timer at 15 minutes: in a short run it never fires on its own; the path under test is the webhook.
      SYNC_SCHEDULE: '0 */15 * * * *',
      NOTIFY_SECRET: SECRET,
      NOTIFY_WINDOW_SECONDS: process.env.NOTIFY_WINDOW_SECONDS ?? '2',
      LOG_LEVEL: 'error',
    },
    host: { startTimers: false, log: () => undefined },
  });
  const client = createCosmosClient({
    COSMOS_ENDPOINT: stack.cosmos.endpoint,
    COSMOS_KEY: stack.cosmos.key,
    COSMOS_DATABASE: 'marketing',
  });
  const people = client.database('marketing').container('people');
  try {
    await stack.host?.timers.tick('scheduler');
    await sleep(500);
    await settled(stack);
    console.log(
      `  first load of ${RECORDS} contacts (+ leads, accounts) in ${s(performance.now() - started)}`,
    );

    const io = {
      env: stack.env,
      out: () => undefined,
      err: (line: string) => console.error(line),
      stderr: process.stderr,
    };
    const url = `http://127.0.0.1:${stack.host?.httpPort}/api/notify`;
    const enabled = await cli(['node', 'dynamics-sync', 'realtime', 'enable', '--url', url], io);
    if (enabled !== 0) throw new Error('realtime enable failed');
    console.log(
      `  webhook registered: ${stack.dataverse.control.count('sdkmessageprocessingstep')} steps; simulator delay ${stack.dataverse.options.webhooks.delayMs} ms; window ${stack.env.NOTIFY_WINDOW_SECONDS} s; trickle ${TRICKLE} edits every ${TRICKLE_MS} ms, burst ${BURST}`,
    );

    const contacts = await activeContacts(stack, people);
    if (contacts.length < TRICKLE + BURST + ECHOES)
      throw new Error(`only ${contacts.length} contacts to edit`);
    const trickleSet = contacts.slice(0, TRICKLE);
    const burstSet = contacts.slice(TRICKLE, TRICKLE + BURST);
    const echoSet = contacts.slice(TRICKLE + BURST, TRICKLE + BURST + ECHOES);
    stack.dataverse.control.resetCounters();

    // Trickle: one Dynamics user's edit every TRICKLE_MS.
    const trickleEdits = new Map<string, { title: string; at: number }>();
    let producing = true;
    const trickleWatch = watch(people, 'Trickle ', trickleEdits, () => producing);
    for (const [i, person] of trickleSet.entries()) {
      const title = `Trickle ${i} ${Date.now()}`;
      stack.dataverse.control.updateRow('contact', String(person.dynamics.contactId), { jobtitle: title });
      trickleEdits.set(person.id, { title, at: performance.now() });
      await sleep(TRICKLE_MS);
    }
    producing = false;
    const trickle = await trickleWatch;
    await sleep(3000);

    // Burst: every edit at once.
    const burstEdits = new Map<string, { title: string; at: number }>();
    for (const [i, person] of burstSet.entries()) {
      const title = `Burst ${i} ${Date.now()}`;
      stack.dataverse.control.updateRow('contact', String(person.dynamics.contactId), { jobtitle: title });
      burstEdits.set(person.id, { title, at: performance.now() });
    }
    const burst = await watch(people, 'Burst ', burstEdits, () => false);
    const deliveries = stack.dataverse.webhooks.report(0);
    const requests = stack.dataverse.control.counters().total.requests;

    const [load] = loadavg();
    console.log(
      `  latency, Dynamics edit -> Cosmos (target p95 < 5 s, p99 < 10 s); machine load ${load?.toFixed(1)} on ${cpus().length} cores:`,
    );
    report('trickle', trickle);
    report('burst', burst);
    const all = report('all', [...trickle, ...burst]);
    console.log(
      `  notifications delivered ${deliveries.counts.delivered}, failed ${deliveries.counts.failed}; Dataverse requests for ${TRICKLE + BURST} edits: ${requests}`,
    );
    console.log(
      `  targets: p95 ${all.p95 < 5000 ? 'met' : 'MISSED'}, p99 ${all.p99 < 10_000 ? 'met' : 'MISSED'}`,
    );

    // Echoes: marketing edits pushed to Dynamics come back as notifications.
    await sleep(3000);
    const echoTitles = new Map<string, string>();
    for (const [i, person] of echoSet.entries()) {
      const current = (await people.item(person.id, person.id).read<Person>()).resource as Person;
      const title = `Marketing ${i} ${Date.now()}`;
      echoTitles.set(person.id, title);
      await people.item(person.id, person.id).replace(
        { ...current, jobTitle: title },
        {
          accessCondition: { type: 'IfMatch', condition: current._etag ?? '' },
        },
      );
    }
    const pushedBy = performance.now() + 60_000;
    const etags = new Map<string, string>();
    while (etags.size < echoSet.length) {
      if (performance.now() > pushedBy) throw new Error('marketing edits were not pushed in time');
      for (const person of echoSet) {
        if (etags.has(person.id)) continue;
        const doc = (await people.item(person.id, person.id).read<Person>()).resource;
        const row = stack.dataverse.control.getRow('contact', String(person.dynamics.contactId));
        const title = echoTitles.get(person.id);
        if (doc !== undefined && row?.jobtitle === title && doc.sync.agreed?.jobTitle === title)
          etags.set(person.id, doc._etag ?? '');
      }
      await sleep(200);
    }
    // The echoes' notifications (1 s delay), a window, and any pull they start.
    await sleep(6000);
    const echoed = stack.dataverse.webhooks
      .report(10_000)
      .deliveries.filter(
        (d) => echoSet.some((p) => p.dynamics.contactId === d.rowId) && d.status === 'delivered',
      );
    // The loop guard itself, not only the skip: a pull now reads every echoed row and must write nothing.
    const pull = await fetch(`http://127.0.0.1:${stack.host?.httpPort}/api/sync/contact`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ mode: 'now' }),
    });
    if (pull.status !== 202) throw new Error(`sync now answered ${pull.status}`);
    await sleep(1000);
    await settled(stack);
    let rewritten = 0;
    for (const person of echoSet) {
      const doc = (await people.item(person.id, person.id).read<Person>()).resource;
      if (doc?._etag !== etags.get(person.id)) rewritten += 1;
    }
    const skipped = echoed.filter((d) => d.lastStatus === 200).length;
    console.log(
      `  loop guard: ${echoSet.length} marketing edits pushed; ${echoed.length} echo notifications (${skipped} skipped as the sync's own, ${echoed.length - skipped} queued a pull); documents rewritten by the echoes and by a pull over the echoed rows: ${rewritten} (must be 0: ${rewritten === 0 ? 'held' : 'BROKEN'})`,
    );
  } finally {
    client.dispose();
    await stack.stop();
  }
}

runThenExit(bench);
