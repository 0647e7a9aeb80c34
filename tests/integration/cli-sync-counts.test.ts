import type { CliIo } from '../../shared/cli/cli';
import { cliEnv, runCli, summaryRow } from './cli-run.helpers';
import { startProvisionedCosmos } from './cosmos.fixture';
import { useSimulator } from './dataverse-simulator.helpers';
import { useStarted } from './lifecycle.helpers';

type Row = Record<string, unknown>;

/**
 * The counts of the `sync --once` summary are of rows: each row or tombstone read is written,
 * unchanged or neither (excluded, invalid, a tombstone of a record never stored), so written +
 * unchanged can never exceed read, whatever path the rows took: a page read again after a failed
 * delivery, a first load's fall-back to the read path, a resync that stamps every row and marks
 * the rows it did not see as deleted.
 */
describe('dynamics-sync sync --once counts', () => {
  const sim = useSimulator({ records: 60, seed: 12 });
  const store = useStarted(() => startProvisionedCosmos('counts'));
  let env: Record<string, string>;

  const sync = (tuning: CliIo['tuning'] = {}) =>
    runCli(['sync', '--once', '--entity', 'account'], {
      env,
      tuning: { pageSize: 5, reportMs: 60_000, redeliveryDelayMs: 50, ...tuning },
    });
  const accountRow = (summary: string) => {
    const row = summaryRow(summary, 'account');
    const number = (column: string) => Number((row[column] ?? '').replace(/,/g, ''));
    return { read: number('read'), written: number('written'), unchanged: number('unchanged') };
  };
  const expectHonest = (summary: string) => {
    const row = accountRow(summary);
    expect(row.read).toBeGreaterThan(0);
    expect(row.written + row.unchanged).toBeLessThanOrEqual(row.read);
    return row;
  };

  beforeAll(() => {
    env = cliEnv(sim(), store(), 'counts');
  });

  it('a first load whose page fails and is read again by the retried job', async () => {
    // Page 3 of the load is refused for longer than the governor waits: the job fails after
    // writing the pages before it (the one read ahead included) and its redelivery reads again.
    sim().control.failNext({
      count: 1,
      status: 429,
      retryAfterSeconds: 600,
      pathPattern: '^/api/data/v9\\.2/accounts.*(skiptoken|pagingcookie)',
    });
    const result = await sync();
    expect(result.code).toBe(0);
    const row = expectHonest(result.out);
    const accounts = sim().control.count('account');
    expect(row.written).toBeLessThanOrEqual(accounts);
  });

  it('a resync after deletes while the delta token was expired', async () => {
    const synced = sim()
      .control.listRows('account')
      .filter((r: Row) => r.new_synctomkto !== false);
    for (const gone of synced.slice(0, 3)) sim().control.deleteRow('account', String(gone.accountid));
    sim().control.updateRow('account', String(synced[3]?.accountid), { name: 'Renamed Before Resync' });
    sim().control.expireDeltaTokens('account');
    const result = await sync();
    expect(result.code).toBe(0);
    expectHonest(result.out);
    // The rows found gone are not rows read: they are said apart.
    expect(result.out).toMatch(/account: 3 records no longer in Dynamics marked deleted/);
  });

  it('a quiet delta: nothing written, nothing counted twice', async () => {
    const result = await sync();
    expect(result.code).toBe(0);
    const row = accountRow(result.out);
    expect(row.written).toBe(0);
    expect(row.written + row.unchanged).toBeLessThanOrEqual(row.read);
  });
});
