import { personAwaitingLink, spreadReadPath } from '../../shared/domain/first-load.rules';

describe('spreadReadPath: which rows of a first-load page take the read path', () => {
  // Each row lists the document ids it may touch (its own id, and for a contact its lead's).
  // prettier-ignore
  const cases: [string, string[][], boolean[], string[], boolean[]][] = [
    // case                                     ids of each row              marked before        ids given   marked after
    ['nothing marked, no ids: nothing moves',   [['a'], ['b']],               [false, false],      [],         [false, false]],
    ['a marked row stays marked',               [['a'], ['b']],               [true, false],       [],         [true, false]],
    ['an id given marks its row (a tombstone)', [['a'], ['b']],               [false, false],      ['b'],      [false, true]],
    ['a row sharing a document is marked',      [['a'], ['c', 'a'], ['d']],   [true, false, false], [],        [true, true, false]],
    ['marks spread transitively',               [['a'], ['b', 'a'], ['c', 'b']], [true, false, false], [],     [true, true, true]],
    ['marks spread back to earlier rows too',   [['c', 'b'], ['b', 'a'], ['a']], [false, false, true], [],     [true, true, true]],
    ['unrelated rows keep the fast path',       [['a', 'l'], ['b', 'm']],     [false, false],      ['l'],      [true, false]],
  ];

  it.each(cases)('%s', (_name, idsOf, marked, ids, expected) => {
    const before = [...marked];
    const out = spreadReadPath(idsOf, marked, new Set(ids));
    expect(out.marked).toEqual(expected);
    // Every id of a marked row is covered, so a later batch can tell which documents the read path owns.
    for (const [i, rowIds] of idsOf.entries()) {
      if (expected[i]) for (const id of rowIds) expect(out.ids.has(id)).toBe(true);
    }
    expect(marked).toEqual(before);
  });
});

describe('personAwaitingLink: a registered document that is not a record yet', () => {
  const now = '2026-03-01T00:00:00.000Z';
  const marketingOnly = {
    id: 'p1',
    entity: 'person',
    email: 'ada@example.com',
    jobTitle: 'CTO',
    _etag: '"7"',
    _ts: 1,
  };

  // prettier-ignore
  const cases: [string, Record<string, unknown>, 'lead' | 'contact', boolean][] = [
    // case                                                  stored document                                            table      awaits its link
    ['a marketing-only person awaits its lead',              marketingOnly,                                             'lead',    true],
    ['a marketing-only person awaits its contact',           marketingOnly,                                             'contact', true],
    ['one with an empty Dynamics part awaits it',            { ...marketingOnly, dynamics: {} },                        'lead',    true],
    ['one holding a lead already is damaged, not awaiting',  { ...marketingOnly, dynamics: { leadId: 'l1' } },          'lead',    false],
    ['one holding a contact already is damaged',             { ...marketingOnly, dynamics: { contactId: 'c1' } },       'lead',    false],
    ['a document that is no person',                         { id: 'x', entity: 'account' },                            'lead',    false],
  ];

  it.each(cases)('%s', (_name, stored, table, awaits) => {
    const person = personAwaitingLink(stored, table, now);
    if (!awaits) {
      expect(person).toBeUndefined();
      return;
    }
    // It takes the row's table as its role, an empty Dynamics part and no agreed values, and keeps
    // its marketing fields; the store's system properties are not part of what is written.
    expect(person).toMatchObject({
      id: 'p1',
      type: table,
      email: 'ada@example.com',
      jobTitle: 'CTO',
      sync: { updatedAt: now, agreed: {} },
    });
    expect(person?.dynamics).toEqual({});
    expect(Object.keys(person ?? {}).filter((key) => key.startsWith('_'))).toEqual([]);
  });
});
