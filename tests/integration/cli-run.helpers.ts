import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET } from '../../local/dataverse/simulator.options';
import type { DataverseSimulator } from '../../local/dataverse/simulator.server';
import { main, type CliIo } from '../../shared/cli/cli';
import type { ProvisionedCosmos } from './cosmos.fixture';

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** The settings the Functions app reads, for the simulator and a provisioned Cosmos stand-in; no Service Bus. */
export function cliEnv(
  sim: DataverseSimulator,
  store: ProvisionedCosmos,
  database: string,
): Record<string, string> {
  return {
    DATAVERSE_URL: sim.url,
    DATAVERSE_TENANT_ID: sim.tenantId,
    DATAVERSE_CLIENT_ID: DEFAULT_CLIENT_ID,
    DATAVERSE_CLIENT_SECRET: DEFAULT_CLIENT_SECRET,
    DATAVERSE_TOKEN_ENDPOINT: sim.tokenEndpoint,
    COSMOS_ENDPOINT: store.cosmos.endpoint,
    COSMOS_KEY: store.cosmos.key,
    COSMOS_DATABASE: database,
  };
}

/** `dynamics-sync <args>` in this process, through the real entry point, its output kept. */
export async function runCli(args: readonly string[], io: Omit<CliIo, 'out' | 'err'>): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['node', 'dynamics-sync', ...args], {
    ...io,
    out: (line) => out.push(line),
    err: (line) => err.push(line),
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** The summary row of one entity (or `total`), by column name (the table's own header row). */
export function summaryRow(summary: string, entity: string): Record<string, string> {
  const cells = (line: string) =>
    line
      .split('│')
      .map((cell) => cell.trim())
      .filter((cell) => cell !== '');
  const lines = summary.split('\n');
  const header = lines.find((l) => l.startsWith('│ entity '));
  const line = lines.find((l) => l.startsWith(`│ ${entity} `));
  if (header === undefined || line === undefined)
    throw new Error(`no summary row for ${entity} in:\n${summary}`);
  const names = cells(header);
  const values = cells(line);
  return Object.fromEntries(names.map((name, i) => [name, values[i] ?? '']));
}
