import { readAhead } from '../../shared/sync/read-ahead.source';
import type { ChangePage, ChangeSource } from '../../shared/sync/ports';
import { noModifiedPages } from './domain-fixtures';

function source(pages: number, log: string[], failAt?: number): ChangeSource {
  return {
    async *readChanges(): AsyncGenerator<ChangePage> {
      try {
        for (let i = 1; i <= pages; i += 1) {
          log.push(`fetch ${i}`);
          await new Promise((resolve) => setTimeout(resolve, 1));
          if (i === failAt) throw new Error(`page ${i} failed`);
          yield {
            rows: [{ n: i }],
            deleted: [],
            isDelta: false,
            ...(i < pages ? { nextLink: `p${i + 1}` } : {}),
          };
        }
      } finally {
        log.push('closed');
      }
    },
    queryModifiedSince: noModifiedPages,
    readRows: noModifiedPages,
    readRange: noModifiedPages,
  };
}

describe('readAhead', () => {
  it('fetches the next page while the caller works on the current one, in order', async () => {
    const log: string[] = [];
    const seen: unknown[] = [];
    for await (const page of readAhead(source(3, log)).readChanges({ entitySet: 'x', select: [] })) {
      log.push(`write ${String(page.rows[0]?.n)}`);
      seen.push(page.rows[0]?.n);
    }
    expect(seen).toEqual([1, 2, 3]);
    // Page 2 is already being fetched when page 1 is written.
    expect(log.indexOf('fetch 2')).toBeLessThan(log.indexOf('write 1'));
    // The source ends (and closes) on the read-ahead after the last page.
    expect(log.filter((l) => l === 'closed')).toHaveLength(1);
    expect(log.filter((l) => l.startsWith('fetch'))).toEqual(['fetch 1', 'fetch 2', 'fetch 3']);
  });

  it('stopping early settles the read in flight and closes the source', async () => {
    const log: string[] = [];
    for await (const page of readAhead(source(5, log)).readChanges({ entitySet: 'x', select: [] })) {
      if (page.rows[0]?.n === 2) break;
    }
    expect(log).toEqual(['fetch 1', 'fetch 2', 'fetch 3', 'closed']);
  });

  it('a failed read surfaces only after the pages before it were handed out', async () => {
    const log: string[] = [];
    const seen: unknown[] = [];
    const run = async () => {
      for await (const page of readAhead(source(3, log, 2)).readChanges({ entitySet: 'x', select: [] })) {
        seen.push(page.rows[0]?.n);
      }
    };
    await expect(run()).rejects.toThrow('page 2 failed');
    expect(seen).toEqual([1]);
  });
});
