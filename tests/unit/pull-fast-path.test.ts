import type { RecordDocument } from '../../shared/domain/record.model';
import { InMemoryRecordStore } from '../../shared/sync/in-memory.record-store';
import { InMemoryCheckpointStore, InMemoryErrorSink } from '../../shared/sync/in-memory.sync-state';
import { PullUseCase, type PullDeps } from '../../shared/sync/pull.use-case';
import { IGNORE_PROGRESS, type ChangeSource, type RecordStore } from '../../shared/sync/ports';
import { createLogger } from '../../shared/telemetry/logger';
import { accountRow, contactRow, leadRow, profileOf } from './domain-fixtures';

type Row = Record<string, unknown>;
const log = createLogger({ debug() {}, info() {}, warn() {}, error() {} });
const id = (n: number, prefix = 'a') => `${prefix}${String(n).padStart(7, '0')}-0000-4000-8000-000000000000`;

/** Pages of an initial load; the link is the index of the next page. */
function sourceOf(pages: Row[][]): ChangeSource {
  return {
    async *readChanges(options) {
      const start = options.resumeLink === undefined ? 0 : Number(options.resumeLink);
      for (let i = start; i < pages.length; i += 1) {
        yield {
          rows: pages[i] as Row[],
          deleted: [],
          isDelta: false,
          ...(i + 1 < pages.length ? { nextLink: String(i + 1) } : { deltaLink: 'done' }),
        };
      }
    },
    async *queryModifiedSince() {},
    async *readRows() {},
    async *readRange() {},
  };
}

/**
 * Counts reads and writes on the way to a store. `readPath` makes the store claim it already holds
 * records, so a first load cannot write create-only; `batch` is its preferred write size.
 */
function counted(store: InMemoryRecordStore, options: { readPath?: boolean; batch?: number } = {}) {
  const counts = { reads: 0, writes: 0, writeSizes: [] as number[] };
  const records: RecordStore = {
    findForPage: (ids) => {
      counts.reads += 1;
      return store.findForPage(ids);
    },
    write: (docs, etags) => {
      counts.writes += 1;
      counts.writeSizes.push(docs.length);
      return store.write(docs, etags);
    },
    read: (id) => store.read(id),
    recordsOf: (entity) => store.recordsOf(entity),
    hasRecordsOf: async (entity) => options.readPath === true || store.hasRecordsOf(entity),
    aliasesOf: (ids) => store.aliasesOf(ids),
    registerAlias: (rowId, personId) => store.registerAlias(rowId, personId),
    preferredWriteBatch: options.batch,
  };
  return { counts, records };
}

function pull(entity: string, pages: Row[][], deps: Partial<PullDeps> & Pick<PullDeps, 'records'>) {
  return new PullUseCase(profileOf(entity), {
    source: sourceOf(pages),
    checkpoints: new InMemoryCheckpointStore(),
    errors: new InMemoryErrorSink(),
    log,
    observer: IGNORE_PROGRESS,
    timeBudgetMs: 60_000,
    now: () => new Date('2026-02-01T00:00:00Z'),
    newId: () => 'load-1',
    ...deps,
  }).run();
}

const accounts = (n: number) =>
  Array.from({ length: n }, (_, i) => accountRow({ accountid: id(i), name: `A ${i}` }));
const stored = async (store: InMemoryRecordStore, entity: string) => {
  const out: RecordDocument[] = [];
  for await (const page of store.recordsOf(entity)) out.push(...page.docs);
  return out.sort((a, b) => a.id.localeCompare(b.id));
};

describe('pull fast path (create-only first load)', () => {
  it('writes a first load of accounts with no reads and the same documents as the read path', async () => {
    const rows = accounts(9);
    const pages = [rows.slice(0, 4), rows.slice(4, 8), rows.slice(8)];
    const fastStore = new InMemoryRecordStore('generic');
    const fast = counted(fastStore);
    const result = await pull('account', pages, { records: fast.records });
    expect(result).toMatchObject({ outcome: 'done', phase: 'delta' });
    expect(result.stats).toMatchObject({ pages: 3, rows: 9, written: 9, retries: 0 });
    expect(fast.counts.reads).toBe(0);

    // A store that says it already holds records: the read path, with the same outcome.
    const slowStore = new InMemoryRecordStore('generic');
    const slow = counted(slowStore, { readPath: true });
    const slowResult = await pull('account', pages, { records: slow.records });
    expect(slow.counts.reads).toBe(3);
    expect(slowResult.stats).toEqual(result.stats);
    expect(await stored(fastStore, 'account')).toEqual(await stored(slowStore, 'account'));
  });

  it('a store already holding rows of the entity gets the read path although the checkpoint is absent', async () => {
    const store = new InMemoryRecordStore('generic');
    await pull('account', [accounts(3)], { records: store });
    const again = counted(store);
    const result = await pull('account', [accounts(3)], { records: again.records });
    expect(again.counts.reads).toBe(1);
    expect(result.stats).toMatchObject({ written: 0, unchanged: 3, retries: 0 });
  });

  it('contacts joining existing lead persons fall back on the conflict; errors are recorded once', async () => {
    const store = new InMemoryRecordStore('person');
    const lead = id(1, 'b');
    await pull('lead', [[leadRow({ leadid: lead, emailaddress1: 'lead@example.com' })]], { records: store });
    expect(store.size).toBe(1);
    const page = [
      contactRow({ contactid: id(1, 'c'), _originatingleadid_value: lead }),
      contactRow({ contactid: id(2, 'c'), emailaddress1: 'two@example.com' }),
      contactRow({ contactid: id(3, 'c'), emailaddress1: 12345 }), // invalid: an error record
      contactRow({ contactid: id(4, 'c'), _originatingleadid_value: lead, emailaddress1: 'x@example.com' }),
    ];
    const errors = new InMemoryErrorSink();
    const c = counted(store);
    // The lead's person holds a lead, not a contact: this is still the contacts' first load.
    const result = await pull('contact', [page], { records: c.records, errors });
    expect(result.stats).toMatchObject({ pages: 1, rows: 4, invalid: 1, retries: 1 });
    expect(c.counts.reads).toBe(1); // only the rows that met the lead's person
    expect(errors.list('contact')).toHaveLength(1);

    const people = await stored(store, 'contact');
    // Contact 1 joined the lead's person; contact 4 names the same lead but stands alone.
    expect(people.map((p) => p.id).sort()).toEqual([id(1, 'b'), id(2, 'c'), id(4, 'c')].sort());
    expect(store.size).toBe(3);
  });

  it('rows the alias registry names are read first and join the person holding them', async () => {
    const store = new InMemoryRecordStore('person');
    const contact = id(7, 'c');
    await store.registerAlias(contact, 'mkto-1');
    await store.write([
      {
        id: 'mkto-1',
        entity: 'person',
        type: 'contact',
        dynamics: { contactId: contact, etag: '', versionnumber: 0, modifiedon: null },
        sync: { updatedAt: '2026-01-01T00:00:00Z', agreed: {} },
      } as unknown as RecordDocument,
    ]);
    const c = counted(store);
    // hasRecordsOf would see the person too; without it only the registry guards the row.
    c.records.hasRecordsOf = async () => false;
    const page = [
      contactRow({ contactid: contact }),
      contactRow({ contactid: id(8, 'c'), emailaddress1: 'b@x.io' }),
    ];
    await pull('contact', [page], { records: c.records });
    expect(c.counts.reads).toBe(1);
    expect(store.size).toBe(2);
    expect(store.get(contact)).toBeUndefined();
    expect(store.get('mkto-1')).toMatchObject({ dynamics: { contactId: contact, contact: { id: contact } } });
  });

  it('a row error is resolved once a later pull syncs the row cleanly, on the fast and the read path', async () => {
    const store = new InMemoryRecordStore('person');
    const errors = new InMemoryErrorSink();
    const bad = id(20, 'c');
    const other = id(21, 'c');
    await pull('contact', [[contactRow({ contactid: bad, emailaddress1: 12345 })]], {
      records: store,
      errors,
    });
    expect(errors.list('contact')).toEqual([
      expect.objectContaining({ recordId: bad, code: 'invalid_row', operation: 'pull' }),
    ]);
    expect(errors.list('contact')[0]?.resolvedAt).toBeUndefined();
    // Fixed in Dynamics; the next load (create-only, nothing stored yet) writes it and resolves the error.
    await pull(
      'contact',
      [
        [
          contactRow({ contactid: bad, emailaddress1: 'fixed@example.com' }),
          contactRow({ contactid: other }),
        ],
      ],
      { records: store, errors, now: () => new Date('2026-02-02T00:00:00Z') },
    );
    expect(errors.list('contact')).toEqual([
      expect.objectContaining({ recordId: bad, resolvedAt: '2026-02-02T00:00:00.000Z' }),
    ]);
    // Broken again: recording it again reopens it (same id); a clean read-path pull resolves it again.
    await pull('contact', [[contactRow({ contactid: bad, emailaddress1: 6789 })]], {
      records: store,
      errors,
    });
    expect(errors.list('contact')[0]?.resolvedAt).toBeUndefined();
    await pull('contact', [[contactRow({ contactid: bad, emailaddress1: 'again@example.com' })]], {
      records: store,
      errors,
      now: () => new Date('2026-02-03T00:00:00Z'),
    });
    expect(errors.list('contact')).toEqual([
      expect.objectContaining({ recordId: bad, resolvedAt: '2026-02-03T00:00:00.000Z' }),
    ]);
  });

  /** A marketing person push-create has registered a row for but not linked yet. */
  const unlinkedPerson = (personId: string, type: 'lead' | 'contact') =>
    ({
      id: personId,
      entity: 'person',
      type,
      firstName: 'Grace',
      dynamics: {},
      sync: { updatedAt: '2026-01-01T00:00:00Z', agreed: {} },
    }) as unknown as RecordDocument;

  it.each(['lead', 'contact'] as const)(
    'a %s registered to a person that does not hold it yet goes into that person, not a new one',
    async (table) => {
      const store = new InMemoryRecordStore('person');
      const rowId = id(9, table === 'lead' ? 'e' : 'c');
      await store.write([unlinkedPerson('mkto-2', table)]);
      await store.registerAlias(rowId, 'mkto-2');
      const c = counted(store);
      c.records.hasRecordsOf = async () => false;
      const row =
        table === 'lead'
          ? leadRow({ leadid: rowId, emailaddress1: 'g@x.io' })
          : contactRow({ contactid: rowId, emailaddress1: 'g@x.io' });
      await pull(table, [[row]], { records: c.records });
      expect(store.get(rowId)).toBeUndefined();
      expect(store.size).toBe(1);
      const idKey = table === 'lead' ? 'leadId' : 'contactId';
      // The person's own values then merge with the row's under the table's conflict rule.
      expect(store.get('mkto-2')).toMatchObject({ dynamics: { [idKey]: rowId, [table]: { id: rowId } } });
    },
  );

  it('a row registered after the page checked the registry is held back from the create and joins its person', async () => {
    const store = new InMemoryRecordStore('person');
    const contact = id(10, 'c');
    await store.write([unlinkedPerson('mkto-3', 'contact')]);
    const c = counted(store);
    c.records.hasRecordsOf = async () => false;
    // The page's check saw no aliases; push-create registered the row right after it.
    let lookups = 0;
    c.records.aliasesOf = async (ids) => (lookups++ === 0 ? new Map() : store.aliasesOf(ids));
    await store.registerAlias(contact, 'mkto-3');
    const other = id(11, 'c');
    await pull(
      'contact',
      [[contactRow({ contactid: contact }), contactRow({ contactid: other, emailaddress1: 'o@x.io' })]],
      { records: c.records },
    );
    expect(store.get(contact)).toBeUndefined();
    expect(store.get(other)).toMatchObject({ dynamics: { contactId: other } });
    expect(store.get('mkto-3')).toMatchObject({ dynamics: { contactId: contact } });
    expect(store.size).toBe(2);
  });

  it('a store preferring small calls gets each page in planned chunks, with the same documents and counts', async () => {
    const rows = accounts(9);
    const pages = [rows.slice(0, 4), rows.slice(4, 8), rows.slice(8)];
    const wholeStore = new InMemoryRecordStore('generic');
    const whole = await pull('account', pages, { records: counted(wholeStore).records });
    const chunkedStore = new InMemoryRecordStore('generic');
    const chunked = counted(chunkedStore, { batch: 3 });
    const result = await pull('account', pages, { records: chunked.records });
    // Pages of 4, 4 and 1 in chunks of 3; the next page's chunks may go before the last one's finish.
    expect([...chunked.counts.writeSizes].sort()).toEqual([1, 1, 1, 3, 3]);
    expect(chunked.counts.reads).toBe(0);
    expect(result.stats).toEqual(whole.stats);
    // Write order differs, and so do the store's etags.
    const withoutEtags = (docs: RecordDocument[]) => docs.map(({ _etag: _e, ...doc }) => doc);
    expect(withoutEtags(await stored(chunkedStore, 'account'))).toEqual(
      withoutEtags(await stored(wholeStore, 'account')),
    );
  });

  it('conflicts in any chunk take the read path exactly as a whole page does', async () => {
    const lead = id(1, 'b');
    const page = [
      contactRow({ contactid: id(1, 'c'), _originatingleadid_value: lead }),
      contactRow({ contactid: id(2, 'c'), emailaddress1: 'two@example.com' }),
      contactRow({ contactid: id(3, 'c'), emailaddress1: 12345 }), // invalid: an error record
      contactRow({ contactid: id(4, 'c'), _originatingleadid_value: lead, emailaddress1: 'x@example.com' }),
    ];
    const outcomes = [];
    for (const batch of [undefined, 1]) {
      const store = new InMemoryRecordStore('person');
      await pull('lead', [[leadRow({ leadid: lead, emailaddress1: 'lead@example.com' })]], {
        records: store,
      });
      const errors = new InMemoryErrorSink();
      const result = await pull('contact', [page], { records: counted(store, { batch }).records, errors });
      const { rows, invalid, retries, pages } = result.stats;
      outcomes.push({
        stats: { rows, invalid, retries, pages },
        errors: errors.list('contact').length,
        // Write order differs between the two, and so do the store's etags.
        docs: (await stored(store, 'contact')).map(({ _etag: _e, ...doc }) => doc),
      });
    }
    expect(outcomes[0]?.stats).toMatchObject({ rows: 4, invalid: 1, retries: 1 });
    expect(outcomes[0]?.docs).toHaveLength(3);
    expect(outcomes[1]).toEqual(outcomes[0]);
  });

  it('a failing chunk fails the page once the others settle, and the replay ends like a clean load', async () => {
    const rows = accounts(6);
    const store = new InMemoryRecordStore('generic');
    const checkpoints = new InMemoryCheckpointStore();
    const c = counted(store, { batch: 2 });
    const inner = c.records.write;
    let calls = 0;
    let failed = false;
    c.records.write = async (docs, etags) => {
      calls += 1;
      // The first page's second chunk fails once.
      if (!failed && docs.some((doc) => doc.id === id(2))) {
        failed = true;
        throw new Error('store unavailable');
      }
      return inner(docs, etags);
    };
    await expect(
      pull('account', [rows.slice(0, 4), rows.slice(4)], { records: c.records, checkpoints }),
    ).rejects.toThrow('store unavailable');
    // The checkpoint did not move past the failed page, and nothing was left writing behind the failure.
    expect((await checkpoints.get('account'))?.nextLink).toBeUndefined();
    const callsAtFailure = calls;
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(calls).toBe(callsAtFailure);

    const result = await pull('account', [rows.slice(0, 4), rows.slice(4)], {
      records: c.records,
      checkpoints,
    });
    expect(result).toMatchObject({ outcome: 'done', phase: 'delta' });
    const clean = new InMemoryRecordStore('generic');
    await pull('account', [rows.slice(0, 4), rows.slice(4)], { records: clean });
    const withoutEtags = (docs: RecordDocument[]) => docs.map(({ _etag: _e, ...doc }) => doc);
    expect(withoutEtags(await stored(store, 'account'))).toEqual(
      withoutEtags(await stored(clean, 'account')),
    );
  });

  it('writes the next page while the previous one finishes; a checkpoint waits for its page and all before it', async () => {
    const rows = accounts(6);
    const pages = [rows.slice(0, 2), rows.slice(2, 4), rows.slice(4)];
    const store = new InMemoryRecordStore('generic');
    const events: string[] = [];
    let releaseFirst: () => void = () => undefined;
    const firstHeld = new Promise<void>((resolve) => (releaseFirst = resolve));
    const c = counted(store);
    const inner = c.records.write;
    let call = 0;
    c.records.write = async (docs, etags) => {
      const n = (call += 1);
      events.push(`write ${n} start`);
      if (n === 1) await firstHeld;
      const outcome = await inner(docs, etags);
      events.push(`write ${n} done`);
      return outcome;
    };
    const checkpoints = new InMemoryCheckpointStore();
    const save = checkpoints.save.bind(checkpoints);
    checkpoints.save = (checkpoint) => {
      events.push(`checkpoint ${checkpoint.nextLink ?? checkpoint.phase}`);
      return save(checkpoint);
    };
    const run = pull('account', pages, { records: c.records, checkpoints });
    for (let i = 0; i < 100 && !events.includes('write 2 start'); i += 1) {
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    expect(events).toEqual(['checkpoint initial', 'write 1 start', 'write 2 start', 'write 2 done']);
    releaseFirst();
    const result = await run;
    expect(result).toMatchObject({ outcome: 'done', phase: 'delta' });
    const at = (event: string) => events.indexOf(event);
    expect(at('checkpoint 1')).toBeGreaterThan(at('write 1 done'));
    expect(at('checkpoint 2')).toBeGreaterThan(at('checkpoint 1'));
    // At most two pages in flight: the third page's write waits for the first page's checkpoint.
    expect(at('write 3 start')).toBeGreaterThan(at('checkpoint 1'));
    expect(at('checkpoint catchup')).toBeGreaterThan(at('write 3 done'));
    expect(store.size).toBe(6);
  });
});
