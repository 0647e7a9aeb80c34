// One sync host in its own process: `dynamics-sync sync --once` with small pages, so a handful of
// these against one simulator make enough requests to meet the service protection limits.
// Usage: node --import tsx tests/integration/support/sync-host.child.ts <entity,entity> <pageSize>
// Settings come from the environment, as for the CLI. Prints `DONE {"code":0,"ms":...}` at the end.
// The CLI is loaded before the gate opens, so a benchmark does not time module loading.
import { main } from '../../../shared/cli/cli';

/** With SYNC_HOST_GATE=1 the host loads, prints READY and starts only on a line on stdin (benchmarks). */
const gate = async (): Promise<void> => {
  if (process.env.SYNC_HOST_GATE !== '1') return;
  process.stdout.write('READY {}\n');
  await new Promise<void>((resolve) => {
    process.stdin.once('data', () => resolve());
  });
  process.stdin.pause();
};

const run = async (): Promise<void> => {
  await gate();
  const entities = (process.argv[2] ?? 'contact').split(',').filter((entity) => entity !== '');
  const pageSize = Number(process.argv[3] ?? 50);
  const started = performance.now();
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    ['node', 'dynamics-sync', 'sync', '--once', ...entities.flatMap((entity) => ['--entity', entity])],
    {
      env: process.env,
      out: (line) => out.push(line),
      err: (line) => err.push(line),
      tuning: { pageSize, timeBudgetMs: 600_000, reportMs: 60_000 },
    },
  );
  const ms = Math.round(performance.now() - started);
  if (code !== 0) process.stderr.write(`${err.join('\n')}\n${out.join('\n')}\n`);
  process.stdout.write(`DONE ${JSON.stringify({ code, ms })}\n`);
};

run().then(
  () => {
    process.exitCode = 0;
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
