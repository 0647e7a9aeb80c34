import type { GenericRecord } from '../../shared/domain/record.model';
import { usePullStack } from './pull-stack.fixture';

type Row = Record<string, unknown>;

describe('pull under Dataverse service protection limits and transient faults', () => {
  const stack = usePullStack({
    records: 150,
    seed: 21,
    // A tight request window makes the pull run into 429s many times; Retry-After is 1 s.
    limits: { requestsPerWindow: 12, windowSeconds: 2, retryAfterSeconds: 1, concurrentRequests: 52 },
  });

  it('a 429 storm with 503s and connection resets ends with all data and zero Retry-After violations', async () => {
    stack().sim.control.resetCounters();
    stack().sim.control.setFaults({
      errorRates: { '503': 0.08, '502': 0.04 },
      resetRate: 0.04,
      latencyMs: [1, 5],
    });
    const entities = ['account', 'opportunity', 'systemuser'];
    // Three entities at once through one governor (cap 4), in pages of 10 rows: dozens of requests.
    const results = await Promise.all(entities.map((entity) => stack().pull(entity, { pageSize: 10 })));
    stack().sim.control.clearFaults();
    for (const result of results) expect(result).toMatchObject({ outcome: 'done', phase: 'delta' });

    const rows = (table: string) => stack().sim.control.listRows(table) as Row[];
    const accounts = (await stack().all('accounts')) as GenericRecord[];
    const syncedAccounts = rows('account').filter((row) => row.new_synctomkto !== false);
    expect(accounts).toHaveLength(syncedAccounts.length);
    for (const row of syncedAccounts) {
      expect(accounts.find((doc) => doc.id === row.accountid)?.values.name).toBe(row.name);
    }
    expect(await stack().all('opportunities')).toHaveLength(rows('opportunity').length);
    expect((await stack().all('directory')).length).toBe(rows('systemuser').length);

    const counters = stack().sim.control.counters().total;
    expect(counters.throttled).toBeGreaterThan(0);
    expect(counters.faults).toBeGreaterThan(0);
    expect(counters.retryAfterViolations).toBe(0);
    expect(counters.maxInFlight).toBeLessThanOrEqual(4);
    const governor = stack().dataverse.governor.counters();
    expect(governor.throttled).toBe(counters.throttled);
    expect(governor.retries).toBeGreaterThanOrEqual(counters.throttled);
  });
});
