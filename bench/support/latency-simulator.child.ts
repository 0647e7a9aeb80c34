// The Dataverse simulator for the initial-load benchmark, in its own process: contacts only (and the
// accounts they point at), the real service protection limits, and the latency model on, so each
// read costs server time in proportion to what it returns (local/dataverse/README.md).
// Usage: node --import tsx bench/support/latency-simulator.child.ts '{"contacts":100000,"latencyScale":1}'
// Prints one line `READY {"url":...}` and runs until SIGTERM or stdin closes.
import { startDataverseSimulator } from '../../local/dataverse/simulator.server';
import { runChild, serveUntilStopped } from './serve.child';

export interface LatencySimulatorInput {
  contacts: number;
  latencyScale: number;
}

const main = async (): Promise<void> => {
  const input = JSON.parse(process.argv[2] ?? '{}') as LatencySimulatorInput;
  const sim = await startDataverseSimulator({
    records: input.contacts,
    counts: {
      contact: input.contacts,
      account: Math.min(5000, Math.max(1, Math.round(input.contacts / 50))),
      lead: 0,
      opportunity: 0,
      task: 0,
      list: 0,
      campaign: 0,
      connection: 0,
    },
    latency: { scale: input.latencyScale },
    requestLogSize: 1000,
  });
  serveUntilStopped(
    {
      url: sim.url,
      tenantId: sim.tenantId,
      tokenEndpoint: sim.tokenEndpoint,
      seedMs: Math.round(sim.seedMs),
    },
    () => sim.close(),
  );
};

runChild(main);
