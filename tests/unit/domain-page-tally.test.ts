import { PageTally, type RowCounts } from '../../shared/domain/page.tally';

interface Attempt {
  changed?: [row: string, doc: string][];
  unchanged?: string[];
  conflicts?: string[];
  /** The attempt's writes failed for `conflicts` and the page was planned again. */
  replanned?: boolean;
}

const plan = (a: Attempt) => ({
  changed: (a.changed ?? []).map(([row, doc]) => ({ row, doc })),
  unchangedRows: a.unchanged ?? [],
});

describe('PageTally: each row of a page counted once, whichever attempt stored it', () => {
  it.each<[string, Attempt[], RowCounts]>([
    [
      'one clean attempt',
      [
        {
          changed: [
            ['a', 'A'],
            ['b', 'B'],
          ],
          unchanged: ['c'],
        },
      ],
      { written: 2, unchanged: 1 },
    ],
    [
      'a conflict re-planned: a row written by the first attempt is not also unchanged',
      [
        {
          changed: [
            ['a', 'A'],
            ['b', 'B'],
          ],
          conflicts: ['B'],
          replanned: true,
        },
        { changed: [['b', 'B']], unchanged: ['a'] },
      ],
      { written: 2, unchanged: 0 },
    ],
    [
      'a first load moving a created row to the read path',
      [
        {
          changed: [
            ['a', 'P'],
            ['b', 'Q'],
          ],
          conflicts: ['Q'],
          replanned: true,
        },
        { unchanged: ['a', 'b'] },
      ],
      { written: 1, unchanged: 1 },
    ],
    [
      'two rows of one document and a tombstone',
      [
        {
          changed: [
            ['lead-1', 'P'],
            ['contact-1', 'P'],
            ['deleted:x', 'X'],
          ],
        },
      ],
      { written: 3, unchanged: 0 },
    ],
    [
      'a write that kept losing: nothing written',
      [
        { changed: [['a', 'A']], conflicts: ['A'], replanned: true },
        { changed: [['a', 'A']], conflicts: ['A'], replanned: true },
      ],
      { written: 0, unchanged: 0 },
    ],
    [
      'rows neither written nor unchanged (excluded, invalid) are in neither count',
      [{}],
      { written: 0, unchanged: 0 },
    ],
  ])('%s', (_what, attempts, expected) => {
    const tally = new PageTally();
    for (const attempt of attempts) {
      tally.stored(plan(attempt), attempt.conflicts ?? []);
      if (attempt.replanned !== true) tally.settled(plan(attempt));
    }
    expect(tally.counts()).toEqual(expected);
  });
});
