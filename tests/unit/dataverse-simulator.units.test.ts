import { formatBatchResponse, parseBatch } from '../../local/dataverse/batch.codec';
import { DataStore } from '../../local/dataverse/data.store';
import {
  parseFilter,
  parseFilterPlan,
  parseOrderBy,
  makeComparator,
  type FilterPlan,
} from '../../local/dataverse/odata-query';
import { readPage } from '../../local/dataverse/row.pager';
import { rangeFilter } from '../../shared/dataverse/change-tracking.reader';
import {
  decodeDeltaToken,
  decodeSkipToken,
  encodeDeltaToken,
  encodeSkipToken,
  parsePrefer,
} from '../../local/dataverse/paging.cookie';
import { builtInTables, type TableDef } from '../../local/dataverse/schema.catalog';
import { Prng } from '../../local/dataverse/seed.random';
import { DataverseSimulatorError } from '../../local/dataverse/simulator.errors';
import { ThrottleLimiter } from '../../local/dataverse/throttle.limiter';
import { resolveLimits } from '../../local/dataverse/simulator.options';

const contact = builtInTables().find((t) => t.logicalName === 'contact') as TableDef;

describe('odata $filter parser', () => {
  const rows = [
    {
      contactid: 'a',
      lastname: "O'Brien",
      statecode: 0,
      new_synctomkto: true,
      modifiedon: '2024-01-02T00:00:00Z',
    },
    {
      contactid: 'b',
      lastname: 'Smith',
      statecode: 1,
      new_synctomkto: null,
      modifiedon: '2024-03-01T00:00:00Z',
    },
    {
      contactid: 'c',
      lastname: 'smithers',
      statecode: 0,
      new_synctomkto: false,
      modifiedon: '2023-12-31T23:59:59Z',
    },
  ];
  const ids = (f: string) =>
    rows
      .filter(parseFilter(f, contact))
      .map((r) => r.contactid)
      .join('');

  it.each([
    ["lastname eq 'o''brien'", 'a'],
    ["startswith(lastname,'SMITH')", 'bc'],
    ["contains(lastname,'the')", 'c'],
    ["endswith(lastname,'ers')", 'c'],
    ['new_synctomkto eq null', 'b'],
    ['new_synctomkto ne false', 'a'],
    ['not (statecode eq 1) and new_synctomkto ne null', 'ac'],
    ['statecode eq 1 or (statecode eq 0 and new_synctomkto eq true)', 'ab'],
    ['modifiedon ge 2024-01-01', 'ab'],
    ['modifiedon lt 2024-01-01T00:00:00Z', 'c'],
    ['new_synctomkto', 'a'],
  ])('%s -> %s', (filter, expected) => {
    expect(ids(filter)).toBe(expected);
  });

  it('reports syntax errors and unknown columns the way Dataverse does', () => {
    expect(() => parseFilter("lastname eq 'open", contact)).toThrow(/^Syntax error at position 12/);
    expect(() => parseFilter('nope eq 1', contact)).toThrow(
      "Could not find a property named 'nope' on type 'Microsoft.Dynamics.CRM.contact'.",
    );
  });

  it('orders nulls first ascending and breaks ties on the primary key', () => {
    const cmp = makeComparator(parseOrderBy('new_synctomkto desc, lastname', contact), 'contactid');
    expect([...rows].sort(cmp).map((r) => r.contactid)).toEqual(['a', 'c', 'b']);
  });
});

describe('datetime ranges a filter implies', () => {
  const at = (iso: string) => Date.parse(iso);
  const range = (f: string) => {
    const r = parseFilterPlan(f, contact).range;
    return r && [r.column, r.from, r.fromInclusive, r.to, r.toInclusive];
  };

  it.each([
    [
      'createdon ge 2024-01-01T00:00:00Z and createdon lt 2024-02-01T00:00:00Z',
      ['createdon', at('2024-01-01'), true, at('2024-02-01'), false],
    ],
    ['createdon gt 2024-01-01T00:00:00Z', ['createdon', at('2024-01-01'), false, Infinity, true]],
    ['2024-02-01T00:00:00Z gt createdon', ['createdon', -Infinity, true, at('2024-02-01'), false]],
    ['createdon eq 2024-01-01T00:00:00Z', ['createdon', at('2024-01-01'), true, at('2024-01-01'), true]],
    [
      "createdon ge 2024-01-01T00:00:00Z and createdon ge 2024-01-05T00:00:00Z and lastname eq 'x'",
      ['createdon', at('2024-01-05'), true, Infinity, true],
    ],
    [
      "lastname eq 'x' and (statecode eq 0 or statecode eq 1) and createdon le 2024-01-01T00:00:00Z",
      ['createdon', -Infinity, true, at('2024-01-01'), true],
    ],
    [
      '((createdon ge 2024-01-01T00:00:00Z)) and (createdon lt 2024-02-01T00:00:00Z or createdon eq null)',
      ['createdon', at('2024-01-01'), true, Infinity, true],
    ],
  ])('%s bounds the rows', (filter, expected) => {
    expect(range(filter)).toEqual(expected);
  });

  it('bounds the rows of the range filter the parallel load sends', () => {
    const filter = rangeFilter({ from: '2024-01-01T00:00:00Z', to: '2024-02-01T00:00:00Z' });
    expect(filter?.text).toMatch(/^\(createdon ge .+\) and \(createdon lt .+\)$/);
    expect(range(String(filter?.text))).toEqual([
      'createdon',
      at('2024-01-01'),
      true,
      at('2024-02-01'),
      false,
    ]);
  });

  it.each([
    ['createdon ge 2024-01-01T00:00:00Z or statecode eq 0'],
    ['(createdon ge 2024-01-01T00:00:00Z) or (createdon lt 2023-01-01T00:00:00Z)'],
    ['not (createdon ge 2024-01-01T00:00:00Z and createdon lt 2024-02-01T00:00:00Z)'],
    ['not (createdon ge 2024-01-01T00:00:00Z)'],
    ['(createdon ge 2024-01-01T00:00:00Z or createdon eq null)'],
    ['createdon ne 2024-01-01T00:00:00Z'],
    ['createdon eq null'],
    ["lastname eq 'x'"],
  ])('%s bounds nothing', (filter) => {
    expect(range(filter)).toBeUndefined();
  });
});

describe('range pages read from the datetime index', () => {
  const start = Date.UTC(2024, 0, 1);
  let clock = start;
  const store = new DataStore(builtInTables(), () => clock);
  const contacts = store.table('contact') as NonNullable<ReturnType<DataStore['table']>>;
  const rng = new Prng(7);
  for (let i = 0; i < 600; i++) {
    const id = rng.guid();
    // Many rows share a second, and some have no createdon at all.
    const createdon =
      i % 50 === 0 ? null : new Date(start + rng.int(0, 400) * 1000).toISOString().slice(0, 19) + 'Z';
    store.bulkInsert(contacts, id, { contactid: id, lastname: `n${i}`, statecode: i % 3, createdon }, {});
  }
  store.finishBulk();

  /** Every page of the read, as the service would page it, against a scan of the whole table. */
  const pagedIds = (plan: FilterPlan, pageSize: number): string[] => {
    const out: string[] = [];
    let cookie: { page: number; lastId: string } | undefined;
    for (;;) {
      const page = readPage(contacts, plan, [], pageSize, cookie, false);
      out.push(...page.rows.map((r) => r.id));
      const last = page.rows[page.rows.length - 1];
      if (!page.more || !last) return out;
      cookie = { page: (cookie?.page ?? 1) + 1, lastId: last.id };
    }
  };
  const scannedIds = (plan: FilterPlan): string[] =>
    contacts.sortedIds.filter((id) =>
      plan.predicate((contacts.rows.get(id) as { values: Record<string, unknown> }).values),
    );
  const stamp = (s: number) => new Date(start + s * 1000).toISOString().slice(0, 19) + 'Z';
  const filters = [
    `(createdon ge ${stamp(100)}) and (createdon lt ${stamp(200)})`,
    `createdon gt ${stamp(100)} and createdon le ${stamp(200)} and statecode eq 1`,
    `createdon eq ${stamp(150)}`,
    `createdon lt ${stamp(0)}`,
    `createdon ge ${stamp(390)}`,
  ];
  const expectSameAsScan = () => {
    for (const f of filters) {
      const plan = parseFilterPlan(f, contact);
      expect(plan.range).toBeDefined();
      const scanned = scannedIds(plan);
      expect(pagedIds(plan, 7)).toEqual(scanned);
      expect(readPage(contacts, plan, [], 5000, undefined, true).total).toBe(scanned.length);
    }
  };

  it('gives exactly the rows a scan gives, page after page', () => {
    expectSameAsScan();
    expect(scannedIds(parseFilterPlan(filters[0] as string, contact)).length).toBeGreaterThan(100);
  });

  it('follows creates, updates, deletes and a rolled-back write', () => {
    clock = start + 150_000;
    store.write(contacts, 'ffffffff-0000-0000-0000-000000000001', { lastname: 'new' }, {}, 'u');
    const inRange = scannedIds(parseFilterPlan(filters[0] as string, contact));
    store.write(contacts, inRange[0] as string, { createdon: stamp(399) }, {}, 'u');
    store.delete(contacts, inRange[1] as string);
    expectSameAsScan();
    expect(() =>
      store.atomically(() => {
        store.write(contacts, inRange[2] as string, { createdon: stamp(0) }, {}, 'u');
        expectSameAsScan();
        throw new Error('roll back');
      }),
    ).toThrow('roll back');
    expectSameAsScan();
  });
});

describe('paging cookies and Prefer', () => {
  it('round-trips skip and delta tokens', () => {
    const cookie = { page: 3, lastId: 'x', keys: ['a', null], tracking: true };
    const text = encodeSkipToken(cookie);
    expect(text).toMatch(/^<cookie pagenumber="3" pagingcookie="[A-Za-z0-9_-]+" istracking="True" \/>$/);
    expect(decodeSkipToken(text)).toEqual(cookie);
    expect(decodeSkipToken('garbage')).toBeUndefined();
    const token = encodeDeltaToken({ version: 919042, epoch: 0, issuedAt: Date.UTC(2017, 7, 22, 8, 10, 44) });
    expect(token).toBe('919042!0!08/22/2017 08:10:44');
    expect(decodeDeltaToken(token)).toEqual({
      version: 919042,
      epoch: 0,
      issuedAt: Date.UTC(2017, 7, 22, 8, 10, 44),
    });
  });

  it('parses Prefer with quoted comma lists', () => {
    expect(
      parsePrefer(
        'odata.track-changes, odata.maxpagesize=200,odata.include-annotations="OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.lookuplogicalname",return=representation',
      ),
    ).toEqual({
      trackChanges: true,
      maxPageSize: 200,
      annotations: ['OData.Community.Display.V1.FormattedValue', 'Microsoft.Dynamics.CRM.lookuplogicalname'],
      returnRepresentation: true,
      continueOnError: false,
    });
  });
});

describe('batch codec', () => {
  it('parses parts and changesets with LF or CRLF and formats the response boundaries', () => {
    const body = [
      '--batch_1',
      'Content-Type: multipart/mixed;boundary=changeset_2',
      '',
      '--changeset_2',
      'Content-Type: application/http',
      'Content-Transfer-Encoding: binary',
      'Content-ID: 1',
      '',
      'POST http://x/api/data/v9.2/contacts HTTP/1.1',
      'Content-Type: application/json',
      '',
      '{"lastname":"A"}',
      '--changeset_2--',
      '--batch_1',
      'Content-Type: application/http',
      'Content-Transfer-Encoding: binary',
      '',
      'GET contacts?$top=1 HTTP/1.1',
      'Accept: application/json',
      '',
      '',
      '--batch_1--',
    ].join('\n');
    const items = parseBatch(body, 'multipart/mixed; boundary="batch_1"');
    expect(items).toEqual([
      {
        kind: 'changeset',
        requests: [
          {
            method: 'POST',
            url: 'http://x/api/data/v9.2/contacts',
            headers: { 'content-type': 'application/json' },
            body: '{"lastname":"A"}',
            contentId: '1',
          },
        ],
      },
      {
        kind: 'request',
        request: { method: 'GET', url: 'contacts?$top=1', headers: { accept: 'application/json' }, body: '' },
      },
    ]);
    const out = formatBatchResponse([
      { kind: 'changeset', responses: [{ status: 204, headers: {}, body: '', contentId: '1' }] },
      {
        kind: 'response',
        response: { status: 404, headers: { 'Content-Type': 'application/json' }, body: '{}' },
      },
    ]);
    expect(out.contentType).toMatch(/^multipart\/mixed; boundary=batchresponse_/);
    expect(out.body).toContain('HTTP/1.1 204 No Content\r\n');
    expect(out.body).toContain('HTTP/1.1 404 Not Found\r\n');
    expect(out.body.trimEnd().endsWith('--')).toBe(true);
  });
});

describe('data store', () => {
  it('one version counter for all tables; atomically() undoes everything on failure', () => {
    const store = new DataStore(builtInTables(), () => Date.UTC(2025, 0, 1));
    const contacts = store.table('contact');
    const accounts = store.table('account');
    if (!contacts || !accounts) throw new Error('tables missing');
    store.write(contacts, 'c1', { lastname: 'A' }, {}, 'u');
    store.write(accounts, 'a1', { name: 'B' }, {}, 'u');
    expect(store.version).toBe(2);
    expect(() =>
      store.atomically(() => {
        store.write(contacts, 'c2', { lastname: 'C' }, {}, 'u');
        store.write(contacts, 'c1', { lastname: 'changed' }, {}, 'u');
        store.delete(accounts, 'a1');
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(store.version).toBe(2);
    expect(contacts.sortedIds).toEqual(['c1']);
    expect(store.get('contact', 'c1')?.values.lastname).toBe('A');
    expect(store.get('account', 'a1')).toBeDefined();
    expect(store.changesBetween(contacts, 0, 10).upserts.map((e) => e.id)).toEqual(['c1']);
  });
});

describe('throttle limiter', () => {
  it('counts requests in a sliding window and doubles Retry-After on violations', () => {
    let t = 0;
    const limiter = new ThrottleLimiter(
      resolveLimits({ requestsPerWindow: 2, windowSeconds: 10, retryAfterSeconds: 3 }),
      () => t,
    );
    const a = limiter.admit('c');
    const b = limiter.admit('c');
    expect(a.ok && b.ok).toBe(true);
    const c = limiter.admit('c');
    expect(c.ok).toBe(false);
    if (c.ok) return;
    expect(c.error).toBeInstanceOf(DataverseSimulatorError);
    expect(c.error.headers['Retry-After']).toBe('10');
    t = 1000;
    const d = limiter.admit('c');
    expect(!d.ok && d.violation && d.error.headers['Retry-After']).toBe('20');
    t = 30_000;
    expect(limiter.admit('c').ok).toBe(true);
    expect(limiter.admit('other').ok).toBe(true);
  });
});

describe('prng', () => {
  it('is deterministic and yields RFC 4122 shaped ids', () => {
    const a = new Prng(5);
    const b = new Prng(5);
    const ids = Array.from({ length: 5 }, () => a.guid());
    expect(Array.from({ length: 5 }, () => b.guid())).toEqual(ids);
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
