import { DataStore, type TableState } from '../../local/dataverse/data.store';
import { JsonPageWriter, releasePageBody } from '../../local/dataverse/json-page.writer';
import { annotationMatcher, parseSelect } from '../../local/dataverse/odata-query';
import { PrivilegeRules } from '../../local/dataverse/privilege.rules';
import { builtInTables } from '../../local/dataverse/schema.catalog';
import { defaultCounts, seedOrganisation } from '../../local/dataverse/seed.generator';
import { WebApi, type ApiResponse } from '../../local/dataverse/web-api.handler';

// Pages are written as JSON text row by row; single reads and the control API still build objects.
// Both must serve the same thing: these tests hold the page text to JSON.stringify of the objects.

const USER = '00000000-0000-4000-8000-0000000000aa';
const TRICKY = [
  'Quote " and backslash \\ inside',
  'Line\nbreak, tab\t, return\r, control \u0001 and \u001f',
  'Non-Latin-1: Łódź, 東京, emoji 😀',
  'Lone surrogates \ud800 and \udfff',
  'Separators \u2028 \u2029 and </script>',
  '',
];

const build = () => {
  let clock = Date.UTC(2026, 0, 1);
  const now = () => clock;
  const store = new DataStore(builtInTables(), now, []);
  seedOrganisation({
    store,
    seed: 7,
    counts: { ...defaultCounts(60), task: 5 },
    customTables: [],
    appUsers: [['client', USER]],
  });
  const api = new WebApi({
    store,
    apiUrl: 'http://127.0.0.1/api/data/v9.2/',
    now,
    maxPageSize: 5000,
    retentionDays: 7,
    initialTokenAt: 'end',
    organizationId: '00000000-0000-4000-8000-0000000000bb',
    businessUnitId: '00000000-0000-4000-8000-0000000000cc',
    privileges: new PrivilegeRules(),
  });
  const contacts = store.table('contact') as TableState;
  const ids = [...contacts.rows.keys()];
  TRICKY.forEach((text, i) => {
    store.write(contacts, ids[i] as string, { firstname: text, jobtitle: text }, {}, USER);
  });
  return { store, api, advance: (ms: number) => (clock += ms) };
};

const text = (r: ApiResponse): string => (typeof r.body === 'string' ? r.body : r.body.toString('utf8'));

const get = (api: WebApi, url: string, prefer: string): ApiResponse => {
  const u = new URL(url, 'http://127.0.0.1/api/data/v9.2/');
  return api.handle({
    method: 'GET',
    path: u.pathname.replace('/api/data/v9.2/', ''),
    query: u.searchParams,
    headers: { prefer },
    body: '',
    userId: USER,
  });
};

/** Every page of a chain, each checked against JSON.stringify of the rows projected as objects. */
const expectChainMatchesObjects = (
  env: ReturnType<typeof build>,
  state: TableState,
  firstUrl: string,
  prefer: string,
  annotations: string[],
): { rows: number; deltaLink: string } => {
  const select = new URL(firstUrl, 'http://x/').searchParams.get('$select');
  const columns = select !== null ? parseSelect(select, state.def) : undefined;
  const annotate = annotations.length > 0 ? annotationMatcher(annotations) : undefined;
  let url: string | undefined = firstUrl;
  let rows = 0;
  let deltaLink = '';
  while (url !== undefined) {
    const res = get(env.api, url, prefer);
    expect(res.status).toBe(200);
    expect(Buffer.isBuffer(res.body)).toBe(true);
    const body = text(res);
    const parsed = JSON.parse(body) as Record<string, unknown> & { value: Record<string, unknown>[] };
    const expected = {
      ...parsed,
      value: parsed.value.map((v) => {
        if (typeof v['@odata.context'] === 'string') return v; // a tombstone
        const row = state.rows.get(String(v[state.def.primaryKey]));
        if (!row) throw new Error(`page row ${String(v[state.def.primaryKey])} not in the store`);
        return env.api.project(state, row, columns, annotate);
      }),
    };
    expect(body).toBe(JSON.stringify(expected));
    rows += parsed.value.length;
    url = parsed['@odata.nextLink'] as string | undefined;
    if (url === undefined) deltaLink = String(parsed['@odata.deltaLink']);
  }
  return { rows, deltaLink };
};

describe('simulator pages written as JSON text', () => {
  const FV = 'OData.Community.Display.V1.FormattedValue';
  const LLN = 'Microsoft.Dynamics.CRM.lookuplogicalname';
  const variants: { name: string; annotations: string[] }[] = [
    { name: 'no annotations', annotations: [] },
    { name: 'formatted values and lookup names', annotations: [FV, LLN] },
    { name: 'all annotations', annotations: ['*'] },
  ];

  it.each(variants)('match the objects for every table and row ($name)', ({ annotations }) => {
    const env = build();
    const prefer = [
      'odata.track-changes',
      'odata.maxpagesize=7',
      ...(annotations.length > 0 ? [`odata.include-annotations="${annotations.join(',')}"`] : []),
    ].join(',');
    for (const state of env.store.allTables()) {
      if (!state.tracked || state.rows.size === 0) continue;
      const { rows } = expectChainMatchesObjects(env, state, state.def.entitySetName, prefer, annotations);
      expect(rows).toBe(state.rows.size);
    }
  });

  it('match the objects with a $select that leaves out the key and names a column twice', () => {
    const env = build();
    const contacts = env.store.table('contact') as TableState;
    const prefer = `odata.track-changes,odata.maxpagesize=11,odata.include-annotations="*"`;
    const { rows } = expectChainMatchesObjects(
      env,
      contacts,
      'contacts?$select=firstname,jobtitle,_ownerid_value,firstname,modifiedon',
      prefer,
      ['*'],
    );
    expect(rows).toBe(contacts.rows.size);
    const first = JSON.parse(text(get(env.api, 'contacts?$select=firstname,firstname', prefer))) as {
      value: Record<string, unknown>[];
    };
    expect(Object.keys(first.value[0] ?? {})).toEqual(['@odata.etag', 'firstname', 'contactid']);
  });

  it('match the objects in delta pages with updates and tombstones, and in ordinary queries', () => {
    const env = build();
    const contacts = env.store.table('contact') as TableState;
    const prefer = `odata.track-changes,odata.maxpagesize=4,odata.include-annotations="*"`;
    const { deltaLink } = expectChainMatchesObjects(env, contacts, 'contacts', prefer, ['*']);
    env.advance(60_000);
    const ids = [...contacts.rows.keys()];
    TRICKY.forEach((t, i) => env.store.write(contacts, ids[i + 10] as string, { lastname: t }, {}, USER));
    env.store.delete(contacts, ids[20] as string);
    env.store.delete(contacts, ids[21] as string);
    const delta = expectChainMatchesObjects(env, contacts, deltaLink, prefer, ['*']);
    expect(delta.rows).toBe(TRICKY.length + 2);

    const query = get(
      env.api,
      'contacts?$filter=statecode eq 0&$count=true&$top=3',
      'odata.include-annotations="*"',
    );
    const parsed = JSON.parse(text(query)) as Record<string, unknown> & { value: Record<string, unknown>[] };
    expect(Object.keys(parsed)).toEqual(['@odata.context', '@odata.count', 'value']);
    expect(text(query)).toBe(
      JSON.stringify({
        ...parsed,
        value: parsed.value.map((v) =>
          env.api.project(contacts, contacts.rows.get(String(v.contactid)) as never, undefined, () => true),
        ),
      }),
    );
  });
});

describe('JsonPageWriter', () => {
  it('grows past its size hint and writes what JSON.stringify would', () => {
    const rows = Array.from({ length: 300 }, (_, i) => ({ i, name: `${'é😀"'.repeat(i % 7)}row ${i}` }));
    const writer = new JsonPageWriter({ '@odata.context': 'ctx', '@odata.count': 300 }, 1);
    for (const r of rows) writer.row(JSON.stringify(r));
    const out = writer.end({ '@odata.nextLink': 'next "link"', skipped: undefined });
    const expected = JSON.stringify({
      '@odata.context': 'ctx',
      '@odata.count': 300,
      value: rows,
      '@odata.nextLink': 'next "link"',
    });
    expect(out.toString('utf8')).toBe(expected);
    expect(out.length).toBe(Buffer.byteLength(expected));
  });

  it('writes an empty page with an empty head', () => {
    expect(new JsonPageWriter({}).end().toString()).toBe('{"value":[]}');
  });

  it('reuses the memory of a page only once its body is released', () => {
    const page = (text: string, sizeHint = 2 * 1024 * 1024) => {
      const writer = new JsonPageWriter({}, sizeHint);
      writer.row(JSON.stringify(text));
      return writer.end();
    };
    const first = page('first');
    const second = page('second');
    expect(second.buffer).not.toBe(first.buffer);
    expect(first.toString()).toBe('{"value":["first"]}');
    releasePageBody(first);
    const third = page('third');
    expect(third.buffer).toBe(first.buffer);
    expect(second.toString()).toBe('{"value":["second"]}');
    // Released twice, or a body that is not a page's, changes nothing.
    releasePageBody(first);
    releasePageBody(Buffer.from('not a page'));
    releasePageBody('text');
    expect(page('fourth').buffer).not.toBe(third.buffer);
    expect(third.toString()).toBe('{"value":["third"]}');
    // A small body is not kept: it would only take a place from a page's.
    const small = page('small', 4096);
    releasePageBody(small);
    expect(page('next small', 4096).buffer).not.toBe(small.buffer);
  });
});
