// The cost of verify (drift audit): Dataverse requests per 1,000 rows, counted by the simulator, and
// the time it takes, after a sync --once has loaded the local stack. `npm run bench -- verify`;
// `--full` loads ten times as many rows; BENCH_VERIFY_RECORDS sets the seed size.
import { createAppServices } from '../shared/app/app.services';
import { verifyDrift } from '../shared/app/verify.composition';
import { main as cli } from '../shared/cli/cli';
import { InProcessJobQueue } from '../shared/queue/in-process.job-queue';
import { startLocalStack } from '../local/stack';
import { runThenExit } from './support/run-then-exit';

const FULL = process.argv.includes('--full');
const RECORDS = Number(process.env.BENCH_VERIFY_RECORDS ?? (FULL ? 20_000 : 2_000));

runThenExit(async () => {
  const stack = await startLocalStack({ records: RECORDS, withoutHost: true });
  try {
    const silent = { env: stack.env, out: () => undefined, err: (line: string) => console.error(line) };
    const loaded = await cli(['node', 'dynamics-sync', 'sync', '--once'], silent);
    if (loaded !== 0) throw new Error(`sync --once ended with ${loaded}`);
    const queue = new InProcessJobQueue();
    const services = await createAppServices(stack.env, { queue });
    try {
      const before = stack.dataverse.control.counters().total.requests;
      const started = performance.now();
      const report = await verifyDrift(services);
      const seconds = (performance.now() - started) / 1000;
      const requests = stack.dataverse.control.counters().total.requests - before;
      const rows = report.entities.reduce((sum, e) => sum + e.counts.rows, 0);
      const stored = report.entities.reduce((sum, e) => sum + e.counts.stored, 0);
      console.log(
        `verify: ${rows} Dynamics rows, ${stored} Cosmos records over ${report.entities.length} entities; ` +
          `${requests} Dataverse requests (${((requests / rows) * 1000).toFixed(2)} per 1,000 rows); ` +
          `${seconds.toFixed(1)} s; drift ${report.drift}`,
      );
      for (const e of report.entities) {
        console.log(`  ${e.entity}: ${e.counts.rows} rows, ${e.requests} requests`);
      }
    } finally {
      await services.close();
      await queue.close();
    }
  } finally {
    await stack.stop();
  }
});
