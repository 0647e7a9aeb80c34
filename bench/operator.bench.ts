// Operator API benchmark: how long GET /api/status, GET /api/errors (first page, search, filters, CSV)
// and GET /api/persons?email= take over HTTP on the local stack with 100k people and 10k sync errors.
// Run: npm run bench -- operator   (BENCH_OPERATOR_PEOPLE, BENCH_OPERATOR_ERRORS, BENCH_OPERATOR_ROUNDS)
// The Cosmos stand-in has no index: every cross-partition question scans, where Cosmos DB answers
// from its index. The stand-in, the host and this client share one process, so these are ceilings.
// The host runs every function but the pusher: the seeded people are copies of one contact, which a
// pusher would spend the run sending to Dynamics (in Azure it runs beside the API, not in its place).
import { performance } from 'node:perf_hooks';
import type { Container } from '@azure/cosmos';
import { functionModules } from '../local/host/local-host';
import { startLocalStack } from '../local/stack';
import { createAppServices } from '../shared/app/app.services';
import { CONTAINERS } from '../shared/config/entity.catalog';
import { toSyncErrorRecord } from '../shared/domain/sync-error.model';
import { createLogger } from '../shared/telemetry/logger';
import { runThenExit } from './support/run-then-exit';

const PEOPLE = Number(process.env.BENCH_OPERATOR_PEOPLE ?? 100_000);
const ERRORS = Number(process.env.BENCH_OPERATOR_ERRORS ?? 10_000);
const ROUNDS = Number(process.env.BENCH_OPERATOR_ROUNDS ?? 5);

const quiet = createLogger({ debug() {}, info() {}, warn() {}, error() {} });
const n = (value: number) => Math.round(value).toLocaleString('en-US');

/** Writes documents through the SDK's bulk API, 100 operations a call, 4 calls in flight. */
async function bulkCreate(container: Container, docs: (i: number) => Record<string, unknown>, count: number) {
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < count) {
        const start = next;
        next = Math.min(count, next + 100);
        const operations = Array.from({ length: next - start }, (_, k) => ({
          operationType: 'Create' as const,
          resourceBody: docs(start + k) as { id: string },
        }));
        const results = await container.items.bulk(operations);
        const failed = results.filter((r) => r.statusCode >= 300);
        if (failed.length > 0)
          throw new Error(`bulk create: ${failed.length} failed (${failed[0]?.statusCode})`);
      }
    }),
  );
}

function person(template: Record<string, unknown>, i: number): Record<string, unknown> {
  const id = `bench-${String(i).padStart(7, '0')}`;
  const states = ['pending', 'retrying', 'parked'] as const;
  return {
    ...template,
    id,
    email: `person${i}@bench.example`,
    lastName: `Bench ${i}`,
    // One in 50 people has a push in some state, as after a busy marketing day.
    ...(i % 50 === 0
      ? {
          pushState: {
            status: states[(i / 50) % 3],
            attempts: 1,
            since: new Date(Date.now() - i * 1000).toISOString(),
            nextAttemptAt: new Date(Date.now() + 60_000).toISOString(),
          },
        }
      : {}),
  };
}

function syncError(i: number): Record<string, unknown> {
  return {
    ...toSyncErrorRecord({
      entity: i % 2 === 0 ? 'contact' : 'lead',
      recordId: `bench-${String(i * 10).padStart(7, '0')}`,
      operation: i % 3 === 0 ? 'push' : 'pull',
      code: i % 4 === 0 ? 'validation' : 'conversion',
      message: `column emailaddress1 of row ${i}: value not accepted`,
      email: `person${i * 10}@bench.example`,
      at: new Date(Date.now() - i * 60_000).toISOString(),
    }),
  };
}

async function main(): Promise<void> {
  console.log(`operator API over HTTP: ${n(PEOPLE)} people, ${n(ERRORS)} sync errors, ${ROUNDS} rounds each`);
  const stack = await startLocalStack({
    records: 200,
    seed: 5,
    env: { SYNC_ENTITIES: 'lead,contact,account', SYNC_SCHEDULE: '0 0 0 * * *', LOG_LEVEL: 'error' },
    host: {
      startTimers: false,
      modules: functionModules().filter((file) => !file.endsWith('pusher.function.ts')),
    },
  });
  const services = await createAppServices(stack.env);
  try {
    for (const entity of ['lead', 'contact', 'account'])
      await services.sync.pullEntity(entity, {}, { log: quiet });
    const database = services.cosmos.database('marketing');
    const people = database.container(CONTAINERS.people.id);
    const { resources } = await people.items
      .query<Record<string, unknown>>("SELECT TOP 1 * FROM c WHERE c.type = 'contact'")
      .fetchAll();
    const template = Object.fromEntries(
      Object.entries(resources[0] ?? {}).filter(([key]) => !key.startsWith('_') && key !== 'pushState'),
    );
    let started = performance.now();
    await bulkCreate(people, (i) => person(template, i), PEOPLE);
    console.log(`  seeded ${n(PEOPLE)} people in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    started = performance.now();
    await bulkCreate(database.container(CONTAINERS.syncErrors.id), syncError, ERRORS);
    console.log(`  seeded ${n(ERRORS)} errors in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    const base = `http://127.0.0.1:${stack.host?.httpPort}/api/`;
    const calls: [string, string][] = [
      ['status', 'status'],
      ['errors, first page of 100', 'errors?limit=100'],
      [
        'errors, search by email',
        `errors?q=${encodeURIComponent(`person${(ERRORS - 7) * 10}@bench.example`)}`,
      ],
      ['errors, entity + code filter', 'errors?entity=contact&code=validation&limit=50'],
      ['errors, CSV of every open error', 'errors?format=csv&limit=1000'],
      ['persons by email', `persons?email=${encodeURIComponent(`person${PEOPLE - 3}@bench.example`)}`],
    ];
    console.log('  call                              median ms   min ms   max ms   bytes');
    for (const [name, path] of calls) {
      const times: number[] = [];
      let bytes = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const t0 = performance.now();
        const response = await fetch(base + path);
        const body = await response.text();
        times.push(performance.now() - t0);
        if (!response.ok) throw new Error(`${path}: ${response.status} ${body.slice(0, 200)}`);
        bytes = body.length;
      }
      times.sort((a, b) => a - b);
      const median = times[Math.floor(times.length / 2)] ?? 0;
      console.log(
        `  ${name.padEnd(33)} ${n(median).padStart(9)} ${n(times[0] ?? 0).padStart(8)} ${n(times.at(-1) ?? 0).padStart(8)} ${n(bytes).padStart(7)}`,
      );
    }
  } finally {
    await services.close();
    await stack.stop();
  }
}

runThenExit(main);
