// Pull benchmark: initial load of contacts + accounts from the Dataverse simulator into (a) an
// in-memory store and (b) the Cosmos stand-in, the stand-in's raw write rate for the same
// documents, then an incremental sync of 1k edits; at 10k and at the full size, to show memory
// stays flat. Simulator and stand-in run as child processes and each phase in its own process,
// so every peak RSS printed is the sync's own.
// Run: npm run bench -- pull   (BENCH_CONTACTS / BENCH_ACCOUNTS / BENCH_CHANGES scale it;
// BENCH_COSMOS_CONTACTS caps the stand-in phase, default the full size; BENCH_COSMOS_INCREMENTAL_MAX,
// BENCH_HEAP_MB, BENCH_PROFILE_DIR: see below)
import { bundleTs, spawnJs, spawnTs, stopChild, waitForLine, withReadyChild } from './support/child-process';
import type { PhaseInput, PhaseResult, SyncFigures } from './support/pull-phase.child';

interface SimInfo {
  url: string;
  tenantId: string;
  tokenEndpoint: string;
  seedMs: number;
  rss: number;
}

interface ScaleResult {
  contacts: number;
  accounts: number;
  seedMs: number;
  memory: PhaseResult;
  /** The stand-in phase may run at a smaller size (BENCH_COSMOS_CONTACTS): see main(). */
  cosmosContacts: number;
  cosmosAccounts: number;
  cosmos: PhaseResult;
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const rate = (records: number, ms: number) => Math.round((records / Math.max(ms, 1)) * 1000);
const n = (value: number) => value.toLocaleString('en-US');
const perThousand = (requests: number, records: number) => (records === 0 ? 0 : (requests / records) * 1000);

const PHASE = 'bench/support/pull-phase.child.ts';

/**
 * Old-space cap of the stand-in phase (BENCH_HEAP_MB, 0 = V8's default). Uncapped, V8 lets the heap
 * grow lazily with allocation (about 330 MB RSS at 10k and 410 MB at 20k contacts measured), which
 * says nothing about what the sync keeps; a load finishing under a small cap shows its live memory
 * is a few pages whatever the table size. The in-memory phase is never capped: its store is the data.
 */
const HEAP_MB = Number(process.env.BENCH_HEAP_MB ?? 160);

async function runPhase(input: PhaseInput, bundled: string | undefined): Promise<PhaseResult> {
  const args = [JSON.stringify(input)];
  const nodeArgs = input.target === 'cosmos' && HEAP_MB > 0 ? [`--max-old-space-size=${HEAP_MB}`] : [];
  // e.g. BENCH_PHASE_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the measured process.
  nodeArgs.push(...(process.env.BENCH_PHASE_NODE_ARGS ?? '').split(' ').filter(Boolean));
  const child = bundled !== undefined ? spawnJs(bundled, args, nodeArgs) : spawnTs(PHASE, args);
  try {
    return await waitForLine<PhaseResult>(child, 'RESULT', (line) => console.log(`    ${line}`));
  } finally {
    await stopChild(child);
  }
}

/**
 * Largest stand-in phase that also runs the 1k-edit incremental (BENCH_COSMOS_INCREMENTAL_MAX). An
 * incremental reads the edited rows' documents with one query per page, and the stand-in answers a
 * query by scanning the whole container with no index (@vercel/cosmosdb-server Items.query): at 100k
 * contacts that query outlasts the SDK's 60 s timeout. Real Cosmos DB serves it from its index.
 */
const COSMOS_INCREMENTAL_MAX = Number(process.env.BENCH_COSMOS_INCREMENTAL_MAX ?? 20_000);

/** A freshly seeded simulator per phase, so one phase's edits are not re-read by the next one's load. */
async function withSimulator<T>(
  contacts: number,
  accounts: number,
  run: (sim: SimInfo) => Promise<T>,
): Promise<T> {
  // e.g. BENCH_SIM_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the simulator too.
  const simNodeArgs = (process.env.BENCH_SIM_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawnTs(
    'bench/support/simulator.child.ts',
    [String(contacts), String(accounts)],
    {},
    simNodeArgs,
  );
  return withReadyChild(child, run);
}

async function runScale(
  contacts: number,
  accounts: number,
  cosmosContacts: number,
  changes: number,
  bundled: string | undefined,
): Promise<ScaleResult> {
  const cosmosAccounts = Math.round((cosmosContacts * accounts) / Math.max(contacts, 1));
  let seedMs = 0;
  const memory = await withSimulator(contacts, accounts, (sim) => {
    seedMs = sim.seedMs;
    return runPhase({ target: 'memory', sim, changes, tag: `m${contacts}` }, bundled);
  });
  const cosmosChild = spawnTs('bench/support/cosmos.child.ts');
  try {
    const cosmos = await waitForLine<{ endpoint: string; key: string }>(cosmosChild, 'READY');
    const onCosmos = await withSimulator(cosmosContacts, cosmosAccounts, (sim) =>
      runPhase(
        {
          target: 'cosmos',
          sim,
          cosmos,
          changes: cosmosContacts <= COSMOS_INCREMENTAL_MAX ? changes : 0,
          tag: `c${cosmosContacts}`,
        },
        bundled,
      ),
    );
    return { contacts, accounts, seedMs, memory, cosmosContacts, cosmosAccounts, cosmos: onCosmos };
  } finally {
    await stopChild(cosmosChild);
  }
}

let bundledRun = false;

const incrementalText = (f: NonNullable<PhaseResult['incremental']>) =>
  `${n(f.changes)} edits: ${n(f.read)} read, ${n(f.written)} written in ${n(Math.round(f.ms))} ms = ${n(rate(f.read, f.ms))} rec/s; ${f.requests} requests`;

const splitText = (f: SyncFigures) =>
  `time in: Dataverse pages ${n(Math.round(f.split.dataverseMs))} ms, store reads ${n(Math.round(f.split.findMs))} ms, store writes ${n(Math.round(f.split.writeMs))} ms, checkpoints ${n(Math.round(f.split.checkpointMs))} ms; first write at ${n(Math.round(f.split.firstWriteAtMs))} ms, no write in flight for ${n(Math.round(f.split.noWriteMs))} ms`;

function report(results: ScaleResult[]): void {
  console.log('Pull benchmark (contacts + accounts; pages of 5000; 2 entities at once)');
  for (const r of results) {
    const { memory: m, cosmos: c } = r;
    const rawRate = c.raw !== undefined ? rate(c.raw.docs, c.raw.ms) : 0;
    const cosmosRate = rate(c.initial.written, c.initial.ms);
    console.log(
      `\n  ${n(r.contacts)} contacts + ${n(r.accounts)} accounts (simulator seeded in ${n(r.seedMs)} ms)`,
    );
    console.log(
      `    in-memory initial load   ${n(m.initial.read)} read, ${n(m.initial.written)} written in ${n(Math.round(m.initial.ms))} ms = ${n(rate(m.initial.read, m.initial.ms))} rec/s; ${m.initial.requests} requests = ${perThousand(m.initial.requests, m.initial.read).toFixed(3)} per 1000 records`,
    );
    console.log(`      ${splitText(m.initial)}; peak RSS ${mb(m.initial.peakRss)}`);
    if (m.incremental !== undefined)
      console.log(`    in-memory incremental    ${incrementalText(m.incremental)}`);
    console.log(
      `    in-memory peak RSS       ${mb(m.peakRss)} (kernel max ${mb(m.peakRssKernel)}), of which stored documents ~${mb(m.storeBytes ?? 0)} of JSON; RSS after load ${mb(m.rssAfterLoad)}, heap ${mb(m.heapAfterLoad)}`,
    );
    console.log(
      `    Cosmos stand-in phase at ${n(r.cosmosContacts)} contacts + ${n(r.cosmosAccounts)} accounts${HEAP_MB > 0 && bundledRun ? `, old space capped at ${HEAP_MB} MB` : ''}`,
    );
    console.log(
      `    Cosmos initial load      ${n(c.initial.read)} read, ${n(c.initial.written)} written in ${n(Math.round(c.initial.ms))} ms = ${n(cosmosRate)} docs/s; ${c.initial.requests} requests = ${perThousand(c.initial.requests, c.initial.read).toFixed(3)} per 1000 records`,
    );
    console.log(`      ${splitText(c.initial)}; peak RSS ${mb(c.initial.peakRss)}`);
    if (c.raw !== undefined) {
      console.log(
        `    stand-in raw writes      ${n(c.raw.docs)} docs in ${n(Math.round(c.raw.ms))} ms = ${n(rawRate)} docs/s (same documents and write method, same pages in flight, no sync logic); sync/raw = ${((cosmosRate / Math.max(rawRate, 1)) * 100).toFixed(0)}%`,
      );
    }
    if (c.incremental !== undefined) {
      console.log(`    Cosmos incremental       ${incrementalText(c.incremental)}`);
      console.log(`      ${splitText(c.incremental)}`);
    } else {
      console.log(
        `    Cosmos incremental       not run above ${n(COSMOS_INCREMENTAL_MAX)} contacts (the stand-in scans the whole container per query; see COSMOS_INCREMENTAL_MAX)`,
      );
    }
    console.log(
      `    Cosmos peak RSS          ${mb(c.peakRss)} during the sync (kernel max ${mb(c.peakRssKernel)} incl. the raw-write baseline; stand-in and simulator are other processes)`,
    );
    const failed = [m.initial, m.incremental, c.initial, c.incremental].some((f) => f !== undefined && !f.ok);
    if (failed) console.log('    WARNING: a sync run did not finish cleanly (see the lines above)');
  }
  const big = results.at(-1) as ScaleResult;
  const small = results[0] as ScaleResult;
  const rawRate = big.cosmos.raw !== undefined ? rate(big.cosmos.raw.docs, big.cosmos.raw.ms) : 0;
  const check = (ok: boolean) => (ok ? 'met ' : 'MISSED');
  const memRate = rate(big.memory.initial.read, big.memory.initial.ms);
  const ratio = rate(big.cosmos.initial.written, big.cosmos.initial.ms) / Math.max(rawRate, 1);
  const requests = perThousand(big.memory.initial.requests, big.memory.initial.read);
  console.log(`\n  Targets (at ${n(big.contacts)} contacts)`);
  console.log(`    ${check(memRate >= 20_000)} >= 20k rec/s in memory: ${n(memRate)}`);
  console.log(
    `    ${check(ratio >= 0.8)} >= 80% of raw stand-in write rate: ${(ratio * 100).toFixed(0)}% (stand-in phase at ${n(big.cosmosContacts)} contacts)`,
  );
  console.log(`    ${check(requests <= 0.25)} <= 0.25 requests per 1000 records: ${requests.toFixed(3)}`);
  console.log(
    `    ${check(big.cosmos.peakRss < 300 * 1024 * 1024)} peak RSS < 300 MB (Cosmos phase${HEAP_MB > 0 && bundledRun ? `, old space capped at ${HEAP_MB} MB` : ''}): ${mb(big.cosmos.peakRss)}; in-memory phase ${mb(big.memory.peakRss)} incl. the store`,
  );
  if (results.length > 1) {
    console.log(
      `    flat memory: Cosmos phase peak RSS ${mb(small.cosmos.peakRss)} at ${n(small.cosmosContacts)} vs ${mb(big.cosmos.peakRss)} at ${n(big.cosmosContacts)} contacts; in-memory phase minus its store ${mb(small.memory.peakRss - (small.memory.storeBytes ?? 0))} at ${n(small.contacts)} vs ${mb(big.memory.peakRss - (big.memory.storeBytes ?? 0))} at ${n(big.contacts)}`,
    );
  }
}

const main = async (): Promise<void> => {
  const contacts = Number(process.env.BENCH_CONTACTS ?? 100_000);
  const accounts = Number(process.env.BENCH_ACCOUNTS ?? Math.round(contacts / 5));
  const changes = Number(process.env.BENCH_CHANGES ?? 1000);
  const cosmosCap = Number(process.env.BENCH_COSMOS_CONTACTS ?? contacts);
  const scales: [number, number][] = [];
  if (contacts > 10_000) scales.push([10_000, Math.round((10_000 * accounts) / contacts)]);
  scales.push([contacts, accounts]);
  const bundled = await bundleTs(PHASE);
  bundledRun = bundled !== undefined;
  console.log(
    bundled !== undefined
      ? '  phases run as bundled JavaScript (no TypeScript loader in the measured process)'
      : '  esbuild not found: phases run under the tsx loader (adds ~50 MB RSS)',
  );
  const results: ScaleResult[] = [];
  for (const [c, a] of scales) {
    console.log(`  running ${n(c)} contacts + ${n(a)} accounts ...`);
    results.push(await runScale(c, a, Math.min(c, cosmosCap), Math.min(changes, c + a), bundled));
  }
  report(results);
};

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
