import type { RowCounts } from '../../shared/domain/page.tally';
import type { RecordDocument } from '../../shared/domain/record.model';
import { InMemoryRecordStore } from '../../shared/sync/in-memory.record-store';
import { InMemoryCheckpointStore, InMemoryErrorSink } from '../../shared/sync/in-memory.sync-state';
import { PullUseCase } from '../../shared/sync/pull.use-case';
import type { ChangeSource, PullObserver, RecordStore } from '../../shared/sync/ports';
import { createLogger } from '../../shared/telemetry/logger';
import { accountRow, profileOf } from './domain-fixtures';

type Row = Record<string, unknown>;
const log = createLogger({ debug() {}, info() {}, warn() {}, error() {} });
const id = (n: number) => `a${String(n).padStart(7, '0')}-0000-4000-8000-000000000000`;

const oneDeltaPage = (rows: Row[]): ChangeSource => ({
  async *readChanges(options) {
    // The load is the one page; the delta after it is empty.
    if (options.resumeLink === undefined) yield { rows, deleted: [], isDelta: false, deltaLink: 'next' };
    else yield { rows: [], deleted: [], isDelta: true, deltaLink: 'next' };
  },
  async *queryModifiedSince() {},
  async *readRows() {},
  async *readRange() {},
});

const pull = (store: RecordStore, rows: Row[], observer: PullObserver) =>
  new PullUseCase(profileOf('account'), {
    source: oneDeltaPage(rows),
    records: store,
    checkpoints: new InMemoryCheckpointStore(),
    errors: new InMemoryErrorSink(),
    log,
    observer,
    timeBudgetMs: 60_000,
    now: () => new Date('2026-02-01T00:00:00Z'),
    newId: () => 'load-1',
  }).run();

describe('a page whose write loses a race is planned again and its rows are counted once', () => {
  it('rows stored by the first attempt are written, not also unchanged in the second', async () => {
    const store = new InMemoryRecordStore('generic');
    const first = [1, 2, 3].map((n) => accountRow({ accountid: id(n), name: `A ${n}`, versionnumber: 1 }));
    await pull(store, first, {
      pageRead: () => undefined,
      rowsSettled: () => undefined,
      errorRecorded: () => undefined,
    });

    // Someone else writes account 2 just before the pull's write: that document conflicts.
    let raced = false;
    const racing: RecordStore = Object.assign(Object.create(store) as RecordStore, {
      write: async (docs: readonly RecordDocument[], etags?: ReadonlyMap<string, string>) => {
        if (!raced) {
          raced = true;
          const other = (await store.read(id(2))) as RecordDocument;
          await store.write([{ ...other, note: 'a concurrent writer' } as RecordDocument]);
        }
        return store.write(docs, etags);
      },
    });
    const counts: RowCounts = { written: 0, unchanged: 0 };
    let read = 0;
    const changed = [1, 2, 3].map((n) => accountRow({ accountid: id(n), name: `B ${n}`, versionnumber: 2 }));
    const result = await pull(racing, changed, {
      pageRead: (_entity, records) => void (read += records),
      rowsSettled: (_entity, page) => {
        counts.written += page.written;
        counts.unchanged += page.unchanged;
      },
      errorRecorded: () => undefined,
    });
    expect(result.stats.retries).toBe(1);
    // Accounts 1 and 3 went through the first time, account 2 the second; the second plan finds 1
    // and 3 unchanged, which counted as well made 5 rows of 3 (the count before PageTally).
    expect(result.stats.written).toBe(3);
    expect(result.stats.unchanged).toBe(2);
    expect(read).toBe(3);
    expect(counts).toEqual({ written: 3, unchanged: 0 });
  });
});
