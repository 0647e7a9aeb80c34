import { DEFAULT_CLIENT_ID } from '../../local/dataverse/simulator.options';
import { CONTAINERS } from '../../shared/config/entity.catalog';
import { provisionCosmos } from '../../shared/cosmos/cosmos.provisioning';
import { startProvisionedCosmos } from './cosmos.fixture';
import { useSimulator } from './dataverse-simulator.helpers';
import { useStarted } from './lifecycle.helpers';
import { waitFor } from './polling.helpers';
import { HOST_ENTITIES, hostTableCounts, startSyncHost } from './support/sync-hosts.fixture';

// The service protection limits scaled down so four hosts meet all three within seconds: 40
// requests and 1 s of execution time per 2 s window, 3 requests in flight. Each host pulls one
// entity in pages of 10 (about 20 requests), and every request takes 10-20 ms of server time.
const LIMITS = {
  requestsPerWindow: 40,
  windowSeconds: 2,
  executionMsPerWindow: 1000,
  concurrentRequests: 3,
  retryAfterSeconds: 1,
  maxRetryAfterSeconds: 2,
};
const ROWS = 240;
// Four processes load the app before their first request: slow on a busy machine.
const HOSTS_TIMEOUT_MS = 150_000;

describe('one Dataverse budget shared by several sync hosts (processes)', () => {
  const sim = useSimulator({
    seed: 13,
    records: ROWS,
    counts: hostTableCounts(ROWS),
    limits: LIMITS,
  });
  const store = useStarted(() => startProvisionedCosmos('budget-shared'));

  /** Starts one host per entity at once, all against the one simulator. */
  const startHosts = (database: string, budget: 'shared' | 'process') =>
    HOST_ENTITIES.map((entity) =>
      startSyncHost(
        {
          sim: sim(),
          cosmos: store().cosmos,
          database,
          budget,
          limits: LIMITS,
          leaseSeconds: 0.25,
          pageSize: 10,
        },
        [entity],
      ),
    );

  const count = async (database: string, container: 'people' | 'accounts' | 'opportunities') => {
    const { resources } = await store()
      .client.database(database)
      .container(CONTAINERS[container].id)
      .items.query<number>('SELECT VALUE COUNT(1) FROM c')
      .fetchAll();
    return resources[0] ?? 0;
  };

  it(
    'four hosts syncing at once make the simulator count no throttle, no violation and at most 3 in flight',
    async () => {
      sim().control.resetCounters();
      sim().control.setFaults({ latencyMs: [10, 20] });
      const results = await Promise.all(startHosts('budget-shared', 'shared').map((host) => host.finished));
      sim().control.clearFaults();
      for (const result of results) {
        expect({ code: result.code, done: result.done?.code, stderr: result.stderr }).toEqual({
          code: 0,
          done: 0,
          stderr: '',
        });
      }
      const counters = sim().control.counters().total;
      // Enough traffic to have overrun the window several times over without a shared budget.
      expect(counters.requests).toBeGreaterThan(2 * LIMITS.requestsPerWindow);
      expect(counters.throttled).toBe(0);
      expect(counters.retryAfterViolations).toBe(0);
      expect(counters.maxInFlight).toBeLessThanOrEqual(LIMITS.concurrentRequests);
      expect(counters.maxInFlight).toBeGreaterThan(1);

      expect(await count('budget-shared', 'accounts')).toBeGreaterThan(0);
      expect(await count('budget-shared', 'opportunities')).toBe(sim().control.count('opportunity'));
      // The slots of every host were given back when it closed.
      const { resource } = await store()
        .database.container(CONTAINERS.syncState.id)
        .item(`api-budget:${DEFAULT_CLIENT_ID}@${new URL(sim().url).host}`, 'api-budget')
        .read<{ holders: Record<string, unknown> }>();
      expect(resource?.holders).toEqual({});
    },
    HOSTS_TIMEOUT_MS,
  );

  it(
    'the same hosts with a budget per process overrun the limits (what the shared budget prevents)',
    async () => {
      await provisionCosmos(store().client, 'budget-process', 'create');
      sim().control.resetCounters();
      sim().control.setFaults({ latencyMs: [10, 20] });
      const hosts = startHosts('budget-process', 'process');
      try {
        // The first 429 is the proof; the rest of that run would only be slow.
        await waitFor(
          async () => (sim().control.counters().total.throttled > 0 ? true : undefined),
          'a 429 from the simulator',
        );
      } finally {
        for (const host of hosts) host.child.kill('SIGTERM');
        await Promise.all(hosts.map((host) => host.finished));
        sim().control.clearFaults();
      }
      expect(sim().control.counters().total.throttled).toBeGreaterThan(0);
    },
    HOSTS_TIMEOUT_MS,
  );
});
