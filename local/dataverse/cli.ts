import { Command, InvalidArgumentError } from 'commander';
import { startDataverseSimulator } from './simulator.server';

const int = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('Not a non-negative integer.');
  return n;
};

const main = async (): Promise<void> => {
  const program = new Command()
    .name('dataverse-simulator')
    .description('Local Dataverse (Dynamics 365) Web API simulator')
    .option('--port <port>', 'port to listen on (0 = any free port)', int, 7072)
    .option('--records <n>', 'number of contacts to seed (other tables proportional)', int, 1000)
    .option('--seed <n>', 'seed of the deterministic data generator', int, 42)
    .option('--initial-token-at <when>', "'end' (real hazard) or 'start'", 'end')
    .option('--no-auth', 'accept API calls without a bearer token')
    .parse();
  const o = program.opts<{
    port: number;
    records: number;
    seed: number;
    initialTokenAt: string;
    auth: boolean;
  }>();
  const sim = await startDataverseSimulator({
    port: o.port,
    records: o.records,
    seed: o.seed,
    initialTokenAt: o.initialTokenAt === 'start' ? 'start' : 'end',
    requireAuth: o.auth,
  });
  console.log(`Dataverse simulator listening on ${sim.url}`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
};

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
