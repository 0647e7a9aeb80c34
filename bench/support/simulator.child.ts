// The Dataverse simulator in its own process, so the sync's RSS in the benchmark is its own.
// Usage: node --import tsx bench/support/simulator.child.ts <contacts> <accounts>
// Prints one line `READY {"url":...}` and runs until SIGTERM or stdin closes.
import { startDataverseSimulator } from '../../local/dataverse/simulator.server';
import { runChild, serveUntilStopped } from './serve.child';

const main = async (): Promise<void> => {
  const contacts = Number(process.argv[2] ?? 100_000);
  const accounts = Number(process.argv[3] ?? 20_000);
  const sim = await startDataverseSimulator({
    records: contacts,
    // Only the tables the benchmark reads: leads, opportunities and tasks would only cost seeding time.
    counts: { contact: contacts, account: accounts, lead: 0, opportunity: 0, task: 0 },
    limits: { requestsPerWindow: 1_000_000, executionMsPerWindow: 1e9 },
    requestLogSize: 1000,
  });
  const info = {
    url: sim.url,
    tenantId: sim.tenantId,
    tokenEndpoint: sim.tokenEndpoint,
    seedMs: Math.round(sim.seedMs),
    rss: process.memoryUsage().rss,
  };
  serveUntilStopped(info, () => sim.close());
};

runChild(main);
