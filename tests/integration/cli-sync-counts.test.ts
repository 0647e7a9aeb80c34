import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET } from '../../local/dataverse/simulator.options';
import { main, type CliIo } from '../../shared/cli/cli';
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

  const sync = async (tuning: CliIo['tuning'] = {}) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['node', 'dynamics-sync', 'sync', '--once', '--entity', 'account'], {
      env,
      out: (line) => out.push(line),
      err: (line) => err.push(line),
      tuning: { pageSize: 5, reportMs: 60_000, redeliveryDelayMs: 50, ...tuning },
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  /** The account row of the summary, by the table's own header. */
  const accountRow = (summary: string) => {
    const cells = (line: string) =>
      line
        .split('│')
        .map((cell) => cell.trim())
        .filter((cell) => cell !== '');
    const lines = summary.split('\n');
    const header = cells(lines.find((l) => l.startsWith('│ entity ')) ?? '');
    const values = cells(lines.find((l) => l.startsWith('│ account ')) ?? '');
    const row = Object.fromEntries(
      header.map((name, i) => [name, Number((values[i] ?? '').replace(/,/g, ''))]),
    );
    return { read: row.read ?? NaN, written: row.written ?? NaN, unchanged: row.unchanged ?? NaN };
  };
  const expectHonest = (summary: string) => {
    const row = accountRow(summary);
    expect(row.read).toBeGreaterThan(0);
    expect(row.written + row.unchanged).toBeLessThanOrEqual(row.read);
    return row;
  };

  beforeAll(() => {
    env = {
      DATAVERSE_URL: sim().url,
      DATAVERSE_TENANT_ID: sim().tenantId,
      DATAVERSE_CLIENT_ID: DEFAULT_CLIENT_ID,
      DATAVERSE_CLIENT_SECRET: DEFAULT_CLIENT_SECRET,
      DATAVERSE_TOKEN_ENDPOINT: sim().tokenEndpoint,
      COSMOS_ENDPOINT: store().cosmos.endpoint,
      COSMOS_KEY: store().cosmos.key,
      COSMOS_DATABASE: 'counts',
    };
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
