import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliIo } from '../../shared/cli/cli';
import { CONTAINERS, type ContainerKey } from '../../shared/config/entity.catalog';
import { provisionCosmos } from '../../shared/cosmos/cosmos.provisioning';
import { SyncErrorRepository } from '../../shared/cosmos/sync-error.repository';
import type { GenericRecord, PersonRecord } from '../../shared/domain/record.model';
import { cliEnv, runCli, summaryRow } from './cli-run.helpers';
import { startProvisionedCosmos } from './cosmos.fixture';
import { useSimulator } from './dataverse-simulator.helpers';
import { useStarted } from './lifecycle.helpers';

type Row = Record<string, unknown>;
const synced = (row: Row) => row.new_synctomkto !== false;

describe('dynamics-sync sync --once', () => {
  const sim = useSimulator({ records: 40, seed: 7 });
  const store = useStarted(() => startProvisionedCosmos('cli'));
  const client = () => store().client;
  let dir: string;
  let env: Record<string, string>;

  const run = (args: string[], extra: Partial<CliIo> = {}, envExtra: Record<string, string> = {}) =>
    runCli(args, { env: { ...env, ...envExtra }, ...extra });
  const all = async (database: string, key: ContainerKey) =>
    (
      await client()
        .database(database)
        .container(CONTAINERS[key].id)
        .items.query<Record<string, unknown>>('SELECT * FROM c')
        .fetchAll()
    ).resources;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cli-sync-'));
    // The same settings the Functions app reads; no Service Bus: the CLI runs its own queue.
    env = cliEnv(sim(), store(), 'cli');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads the chosen entities through continuation chains, then a second run writes nothing', async () => {
    // A tiny page and budget make every job stop after one page: the run only ends when each
    // entity's chain of continuation jobs has reached the end of its feed.
    const tuning = { pageSize: 7, timeBudgetMs: 1, reportMs: 20 };
    const first = await run(
      ['sync', '--once', '--entity', 'lead', '--entity', 'contact', '--entity', 'account'],
      {
        tuning,
      },
    );
    expect(first.err).not.toMatch(/error:/);
    expect(first.code).toBe(0);

    const rows = (table: string) => sim().control.listRows(table) as Row[];
    const accounts = (await all('cli', 'accounts')) as unknown as GenericRecord[];
    expect(accounts).toHaveLength(rows('account').filter(synced).length);
    for (const row of rows('account').filter(synced)) {
      expect(accounts.find((doc) => doc.id === row.accountid)?.values.name).toBe(row.name);
    }
    const leads = rows('lead').filter(synced);
    const contacts = rows('contact').filter(synced);
    const leadIds = new Set(leads.map((r) => r.leadid));
    const joined = new Set(
      contacts.map((c) => c._originatingleadid_value).filter((origin) => origin && leadIds.has(origin)),
    );
    const people = (await all('cli', 'people')) as unknown as PersonRecord[];
    expect(people).toHaveLength(leads.length + contacts.length - joined.size);
    for (const row of contacts) {
      expect(people.find((p) => p.dynamics.contactId === row.contactid)?.email).toBe(row.emailaddress1);
    }
    // Nothing else was pulled.
    expect(await all('cli', 'opportunities')).toHaveLength(0);

    const account = summaryRow(first.out, 'account');
    expect(account.entity).toBe('account');
    expect(Number(account.written)).toBe(accounts.length);
    // Every page of 7 is a request: more than one page proves the continuation chain ran.
    expect(Number(account.requests)).toBeGreaterThanOrEqual(Math.ceil(rows('account').length / 7));
    expect(account.status).toBe('synced');
    expect(summaryRow(first.out, 'contact').status).toBe('synced');
    expect(summaryRow(first.out, 'total').status).toBe('ok');
    // Not a TTY: plain progress lines with the status changes.
    expect(first.err).toMatch(/account\s+synced\s+\d+ records/);

    const second = await run([
      'sync',
      '--once',
      '--entity',
      'lead',
      '--entity',
      'contact',
      '--entity',
      'account',
    ]);
    expect(second.code).toBe(0);
    for (const entity of ['lead', 'contact', 'account']) {
      const cells = summaryRow(second.out, entity);
      expect(cells.written).toBe('0');
      expect(cells.status).toBe('synced');
    }
    const again = (await all('cli', 'accounts')) as unknown as GenericRecord[];
    expect(new Set(again.map((d) => d._etag))).toEqual(new Set(accounts.map((d) => d._etag)));
  });

  it('draws live lines on a TTY and picks up an edit made in Dynamics', async () => {
    const account = sim()
      .control.listRows('account')
      .find((r) => synced(r)) as Row;
    sim().control.updateRow('account', account.accountid as string, { name: 'Renamed by a Dynamics user' });
    const chunks: string[] = [];
    const result = await run(['sync', '--once', '--entity', 'account', '--concurrency', '1'], {
      stderr: { isTTY: true, columns: 100, write: (chunk: string) => chunks.push(chunk) },
    });
    expect(result.code).toBe(0);
    const screen = chunks.join('');
    // Each redraw moves the cursor back up over the block and clears each line it rewrites.
    expect(screen).toContain('\x1b[1A');
    expect(screen.split('\x1b[2K').at(-1)).toMatch(/^account\s+synced\s+1 records\s+1 pages/);
    expect(summaryRow(result.out, 'account').written).toBe('1');
    const doc = (await all('cli', 'accounts')).find(
      (d) => d.id === account.accountid,
    ) as unknown as GenericRecord;
    expect(doc.values.name).toBe('Renamed by a Dynamics user');
  });

  it('resolves the open pull error of a row that syncs cleanly once fixed in Dynamics', async () => {
    const account = sim().control.listRows('account').filter(synced).at(-1) as Row;
    const id = String(account.accountid);
    // An error a pull recorded for the row (the way a malformed row is recorded), still open.
    const errors = new SyncErrorRepository(client().database('cli').container(CONTAINERS.syncErrors.id));
    await errors.record({
      entity: 'account',
      recordId: id,
      operation: 'pull',
      code: 'invalid_row',
      message: 'name: expected text',
      at: '2026-01-01T00:00:00.000Z',
    });
    expect((await errors.list('account')).map((e) => e.recordId)).toContain(id);
    // Fixed in Dynamics: the edit brings the row into the next delta, and it syncs cleanly.
    sim().control.updateRow('account', id, { name: 'Fixed in Dynamics' });
    const result = await run(['sync', '--once', '--entity', 'account']);
    expect(result.code).toBe(0);
    expect((await errors.list('account')).map((e) => e.recordId)).not.toContain(id);
    const all = await errors.list('account', 100, true);
    expect(all.find((e) => e.recordId === id)).toMatchObject({
      code: 'invalid_row',
      resolvedAt: expect.any(String),
    });
  });

  it('an unprovisioned database stops at once (exit 2), naming what is missing and the fix; --provision creates it', async () => {
    for (const command of [
      ['sync', '--once', '--entity', 'account'],
      ['push', '--once'],
    ]) {
      const result = await run(command, {}, { COSMOS_DATABASE: 'never-provisioned' });
      expect(result.code).toBe(2);
      expect(result.err).toMatch(/Cosmos database "never-provisioned" is not provisioned/);
      expect(result.err).toMatch(/people \(missing, partition key \/id\)/);
      expect(result.err).toMatch(/`dynamics-sync provision`.*--provision/);
      expect(result.out).toBe('');
      expect(result.err).not.toMatch(/MaxDeliveryCountExceeded|\n\s+at /);
    }
    const provisioned = await run(
      ['sync', '--once', '--entity', 'account', '--provision'],
      {},
      { COSMOS_DATABASE: 'provisioned-on-demand' },
    );
    expect(provisioned.err).toMatch(/created provisioned-on-demand\/people/);
    expect(provisioned.code).toBe(0);
    expect((await all('provisioned-on-demand', 'accounts')).length).toBeGreaterThan(0);
  });

  it('an unknown --entity is a usage error that lists the known entities', async () => {
    const result = await run(['sync', '--once', '--entity', 'contact', '--entity', 'widget']);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/unknown entity "widget"/);
    expect(result.err).toMatch(/known entities: lead, contact, account, opportunity, systemuser, team/);
    expect(result.out).toBe('');
  });

  it('a column unknown to Dynamics pauses its entity and fails the run, naming the column; others sync', async () => {
    await provisionCosmos(client(), 'clibad', 'create');
    const config = join(dir, 'sync-config.json');
    await writeFile(
      config,
      JSON.stringify({ fields: { contact: [{ marketing: 'nickname', dynamics: 'new_nickname' }] } }),
    );
    const result = await run(
      ['sync', '--once', '--entity', 'contact', '--entity', 'account'],
      {},
      {
        SYNC_CONFIG: config,
        COSMOS_DATABASE: 'clibad',
      },
    );
    expect(result.code).toBe(1);
    expect(summaryRow(result.out, 'contact').status).toBe('paused');
    expect(summaryRow(result.out, 'contact').errors).toBe('1');
    expect(summaryRow(result.out, 'account').status).toBe('synced');
    expect(summaryRow(result.out, 'total').status).toBe('NOT OK');
    expect(result.out).toMatch(/contact: paused: unknown_column: column "new_nickname" of contact/);
    const errors = await all('clibad', 'syncErrors');
    expect(errors.find((e) => e.code === 'unknown_column')).toMatchObject({
      entity: 'contact',
      recordId: 'new_nickname',
    });
    expect((await all('clibad', 'accounts')).length).toBeGreaterThan(0);
  });

  it('without --once it refuses, and a missing Dataverse setting is named', async () => {
    const noOnce = await run(['sync']);
    expect(noOnce.code).toBe(2);
    expect(noOnce.err).toMatch(/--once/);
    const missing = await run(['sync', '--once', '--entity', 'account'], {}, { DATAVERSE_CLIENT_ID: '' });
    expect(missing.code).toBe(2);
    // The one exit-code table: an unknown option and a configuration check that finds problems are 2 too.
    expect((await run(['sync', '--once', '--no-such-option'])).code).toBe(2);
    const check = await run(['config', 'check'], {}, { COSMOS_ENDPOINT: '' });
    expect(check.code).toBe(2);
    expect(check.err).toMatch(/COSMOS_ENDPOINT: must be an https:\/\/ URL/);
    const broker = { SERVICEBUS: 'Endpoint=sb://127.0.0.1:5673/;SharedAccessKeyName=k;SharedAccessKey=v' };
    expect((await run(['config', 'check'], {}, broker)).code).toBe(0);
    expect(missing.err).toMatch(/DATAVERSE_CLIENT_ID/);
  });
});
