// Several sync hosts (separate processes running `dynamics-sync sync --once`) against one simulator
// and one Cosmos stand-in: the shared-budget test and `npm run bench -- scale` start them the same way.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { DataverseSimulator } from '../../../local/dataverse/simulator.server';
import {
  DEFAULT_CLIENT_ID,
  DEFAULT_CLIENT_SECRET,
  type SimulatorLimits,
  type SimulatorOptions,
} from '../../../local/dataverse/simulator.options';

/** The entities the hosts share out: four of about the same size. */
export const HOST_ENTITIES = ['contact', 'lead', 'account', 'opportunity'] as const;

/** Simulator rows for the hosts: `rows` of each shared entity and nothing else worth reading. */
export const hostTableCounts = (rows: number): SimulatorOptions['counts'] => ({
  contact: rows,
  lead: rows,
  account: rows,
  opportunity: rows,
  systemuser: 3,
  team: 0,
  task: 0,
  list: 0,
  campaign: 0,
  connection: 0,
});

export type HostLimits = Pick<
  SimulatorLimits,
  'requestsPerWindow' | 'windowSeconds' | 'executionMsPerWindow' | 'concurrentRequests'
>;

export interface HostSettings {
  sim: DataverseSimulator;
  cosmos: { endpoint: string; key: string };
  database: string;
  budget: 'shared' | 'process';
  /** The budget is set to the simulator's limits, as an operator sets it to Dataverse's. */
  limits: HostLimits;
  leaseSeconds: number;
  pageSize: number;
  /** Load first, print READY, and start on `go()` (benchmarks time the sync, not module loading). */
  gated?: boolean;
}

export interface HostResult {
  code: number | null;
  /** The CLI's exit code and the host's own time, from its DONE line. */
  done?: { code: number; ms: number };
  stderr: string;
}

export interface SyncHost {
  child: ChildProcess;
  ready: Promise<void>;
  go(): void;
  finished: Promise<HostResult>;
}

const HOST = join(__dirname, 'sync-host.child.ts');

/** One host process syncing `entities` with the app's settings for the local stack. */
export function startSyncHost(settings: HostSettings, entities: readonly string[]): SyncHost {
  const { sim, cosmos, limits } = settings;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', HOST, entities.join(','), String(settings.pageSize)],
    {
      cwd: join(__dirname, '..', '..', '..'),
      env: {
        PATH: process.env.PATH,
        DATAVERSE_URL: sim.url,
        DATAVERSE_TENANT_ID: sim.tenantId,
        DATAVERSE_CLIENT_ID: DEFAULT_CLIENT_ID,
        DATAVERSE_CLIENT_SECRET: DEFAULT_CLIENT_SECRET,
        DATAVERSE_TOKEN_ENDPOINT: sim.tokenEndpoint,
        DATAVERSE_BUDGET: settings.budget,
        DATAVERSE_BUDGET_REQUESTS: String(limits.requestsPerWindow),
        DATAVERSE_BUDGET_WINDOW_SECONDS: String(limits.windowSeconds),
        DATAVERSE_BUDGET_EXECUTION_SECONDS: String(limits.executionMsPerWindow / 1000),
        DATAVERSE_BUDGET_CONCURRENCY: String(limits.concurrentRequests),
        DATAVERSE_BUDGET_LEASE_SECONDS: String(settings.leaseSeconds),
        COSMOS_ENDPOINT: cosmos.endpoint,
        COSMOS_KEY: cosmos.key,
        COSMOS_DATABASE: settings.database,
        ...(settings.gated === true ? { SYNC_HOST_GATE: '1' } : {}),
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (stdout.includes('READY')) markReady();
  });
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const finished = new Promise<HostResult>((resolve) => {
    // 'close', not 'exit': the last line may still be in the pipe when the process ends.
    child.on('close', (code) => {
      markReady();
      const line = stdout.split('\n').find((l) => l.startsWith('DONE '));
      resolve({
        code,
        ...(line ? { done: JSON.parse(line.slice(5)) as { code: number; ms: number } } : {}),
        stderr,
      });
    });
  });
  if (settings.gated !== true) child.stdin?.end();
  return { child, ready, go: () => child.stdin?.end('go\n'), finished };
}
