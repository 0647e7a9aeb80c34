import { startDataverseSimulator } from '../../local/dataverse/simulator.server';
import { apiCaller, getToken, useSimulatorWithApi } from './dataverse-simulator.helpers';

describe('dataverse simulator: queries, paging, counting', () => {
  const { sim, api } = useSimulatorWithApi({ records: 600, seed: 3 });

  const all = () => sim().control.listRows('contact');

  it('answers a collection with @odata.context, etags and the primary key', async () => {
    const r = await api().get('contacts?$select=firstname,lastname&$top=3');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(r.headers.get('odata-version')).toBe('4.0');
    expect(r.json['@odata.context']).toBe(`${sim().apiUrl}$metadata#contacts(firstname,lastname)`);
    expect(r.json.value).toHaveLength(3);
    for (const row of r.json.value) {
      expect(Object.keys(row).sort()).toEqual(['@odata.etag', 'contactid', 'firstname', 'lastname']);
      expect(row['@odata.etag']).toMatch(/^W\/"\d+"$/);
    }
  });

  it('filters with eq/ne/gt/ge/lt/le, and/or/not, parentheses, functions and null', async () => {
    const rows = all();
    const expectIds = async (filter: string, predicate: (r: Record<string, unknown>) => boolean) => {
      const r = await api().get(`contacts?$select=contactid&$filter=${encodeURIComponent(filter)}`);
      expect(r.status).toBe(200);
      const got = (r.json.value as { contactid: string }[]).map((x) => x.contactid).sort();
      const want = rows
        .filter(predicate)
        .map((x) => x.contactid as string)
        .sort();
      expect(got).toEqual(want);
      return got.length;
    };
    expect(await expectIds('statecode eq 1', (r) => r.statecode === 1)).toBeGreaterThan(0);
    await expectIds('statecode ne 0', (r) => r.statecode !== 0);
    await expectIds("startswith(lastname,'sm')", (r) => String(r.lastname).toLowerCase().startsWith('sm'));
    await expectIds("contains(emailaddress1,'.example')", (r) =>
      String(r.emailaddress1 ?? '').includes('.example'),
    );
    expect(await expectIds('new_synctomkto eq null', (r) => r.new_synctomkto === null)).toBeGreaterThan(0);
    await expectIds('new_synctomkto eq false', (r) => r.new_synctomkto === false);
    await expectIds(
      'new_synctomkto ne null and not (statecode eq 1)',
      (r) => r.new_synctomkto !== null && r.statecode !== 1,
    );
    await expectIds(
      "(preferredcontactmethodcode ge 2 and preferredcontactmethodcode lt 4) or lastname eq 'smith'",
      (r) =>
        (Number(r.preferredcontactmethodcode) >= 2 && Number(r.preferredcontactmethodcode) < 4) ||
        String(r.lastname).toLowerCase() === 'smith',
    );
    await expectIds(
      'modifiedon le 2023-06-01T00:00:00Z',
      (r) => String(r.modifiedon) <= '2023-06-01T00:00:00Z',
    );
    const account = rows.find((r) => r._parentcustomerid_value)?._parentcustomerid_value as string;
    await expectIds(`_parentcustomerid_value eq ${account}`, (r) => r._parentcustomerid_value === account);
  });

  it("handles '' escaping in string literals", async () => {
    const c = sim().control.createRow('contact', { firstname: 'Miles', lastname: "O'Brien-Test" });
    const r = await api().get(
      `contacts?$select=lastname&$filter=${encodeURIComponent("lastname eq 'O''Brien-Test'")}`,
    );
    expect(r.status).toBe(200);
    expect(r.json.value.map((x: { contactid: string }) => x.contactid)).toEqual([c.contactid]);
  });

  it('orders by several keys ascending and descending', async () => {
    const r = await api().get(
      'accounts?$select=industrycode,name&$orderby=industrycode desc,name asc&$top=50',
    );
    const v = r.json.value as { industrycode: number | null; name: string }[];
    for (let i = 1; i < v.length; i++) {
      const a = v[i - 1] as { industrycode: number | null; name: string };
      const b = v[i] as { industrycode: number | null; name: string };
      expect(Number(a.industrycode)).toBeGreaterThanOrEqual(Number(b.industrycode));
      if (a.industrycode === b.industrycode) expect(a.name.toLowerCase() <= b.name.toLowerCase()).toBe(true);
    }
  });

  it('pages with odata.maxpagesize, echoes Preference-Applied and ignores $top', async () => {
    const seen: string[] = [];
    let url: string | undefined = 'contacts?$select=fullname&$top=5';
    let pages = 0;
    while (url) {
      const r = await api().get(url, { Prefer: 'odata.maxpagesize=100' });
      expect(r.status).toBe(200);
      expect(r.headers.get('preference-applied')).toBe('odata.maxpagesize=100');
      seen.push(...r.json.value.map((x: { contactid: string }) => x.contactid));
      url = r.json['@odata.nextLink'];
      if (url) expect(url).toContain('$skiptoken=');
      pages++;
    }
    expect(seen.length).toBe(sim().control.count('contact'));
    expect(new Set(seen).size).toBe(seen.length);
    expect(pages).toBe(Math.ceil(seen.length / 100));
  });

  it('skiptoken paging stays correct when rows change between pages', async () => {
    const order = '$orderby=lastname asc';
    const first = await api().get(`contacts?$select=lastname&${order}`, { Prefer: 'odata.maxpagesize=50' });
    const page1 = first.json.value as { contactid: string }[];
    // Delete a row already served and one not yet served; add a row sorting at the very start.
    sim().control.deleteRow('contact', (page1[0] as { contactid: string }).contactid);
    const later = all()
      .filter((r) => !page1.some((p) => p.contactid === r.contactid))
      .sort((a, b) => String(a.lastname).localeCompare(String(b.lastname)))
      .pop() as Record<string, unknown>;
    sim().control.deleteRow('contact', later.contactid as string);
    sim().control.createRow('contact', { lastname: 'AAAA first' });
    const rest: string[] = [];
    let url: string | undefined = first.json['@odata.nextLink'];
    while (url) {
      const r = await api().get(url, { Prefer: 'odata.maxpagesize=50' });
      rest.push(...r.json.value.map((x: { contactid: string }) => x.contactid));
      url = r.json['@odata.nextLink'];
    }
    const served = [...page1.map((p) => p.contactid), ...rest];
    expect(new Set(served).size).toBe(served.length);
    // Every row that existed throughout the read was served exactly once.
    const stable = all().filter((r) => r.lastname !== 'AAAA first');
    for (const r of stable) expect(served).toContain(r.contactid);
    expect(served).not.toContain(later.contactid);
  });

  it('$count=true gives @odata.count capped at 5000; /$count answers text/plain', async () => {
    const r = await api().get('contacts?$select=fullname&$count=true&$filter=statecode eq 0', {
      Prefer: 'odata.maxpagesize=10',
    });
    const active = all().filter((x) => x.statecode === 0).length;
    expect(r.json['@odata.count']).toBe(active);
    const c = await api().get('contacts/$count');
    expect(c.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(c.text).toBe(String(sim().control.count('contact')));
    const big = await startDataverseSimulator({ records: 0, counts: { contact: 5200 } });
    try {
      const b = apiCaller(big, await getToken(big));
      expect((await b.get('contacts/$count')).text).toBe('5000');
      const counted = await b.get('contacts?$select=contactid&$count=true', {
        Prefer: 'odata.maxpagesize=1',
      });
      expect(counted.json['@odata.count']).toBe(5000);
    } finally {
      await big.close();
    }
  });

  it('unknown columns answer 400 0x80060888 with the exact message', async () => {
    const expected = {
      error: {
        code: '0x80060888',
        message: "Could not find a property named 'nosuchcolumn' on type 'Microsoft.Dynamics.CRM.contact'.",
      },
    };
    for (const q of ['$select=nosuchcolumn', '$filter=nosuchcolumn eq 1', '$orderby=nosuchcolumn desc']) {
      const r = await api().get(`contacts?${q}`);
      expect(r.status).toBe(400);
      expect(r.json).toEqual(expected);
    }
  });

  it('single retrieve, 404 with the exact message, and annotations on request', async () => {
    const row = all().find((r) => r._parentcustomerid_value && r.preferredcontactmethodcode === 2) as Record<
      string,
      unknown
    >;
    const r = await api().get(
      `contacts(${row.contactid as string})?$select=preferredcontactmethodcode,_parentcustomerid_value,_ownerid_value,donotemail`,
      {
        Prefer: 'odata.include-annotations="*"',
      },
    );
    expect(r.status).toBe(200);
    expect(r.json['@odata.context']).toBe(
      `${sim().apiUrl}$metadata#contacts(preferredcontactmethodcode,_parentcustomerid_value,_ownerid_value,donotemail)/$entity`,
    );
    expect(r.json['preferredcontactmethodcode@OData.Community.Display.V1.FormattedValue']).toBe('Email');
    expect(r.json['_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname']).toBe('account');
    expect(['systemuser', 'team']).toContain(
      r.json['_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname'],
    );
    expect(['Allow', 'Do Not Allow']).toContain(
      r.json['donotemail@OData.Community.Display.V1.FormattedValue'],
    );

    const plain = await api().get(`contacts(${row.contactid as string})?$select=preferredcontactmethodcode`);
    expect(Object.keys(plain.json).some((k) => k.includes('FormattedValue'))).toBe(false);

    const only = await api().get(`contacts(${row.contactid as string})?$select=_parentcustomerid_value`, {
      Prefer: 'odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"',
    });
    expect(only.json['_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname']).toBe('account');
    expect(only.json['_parentcustomerid_value@OData.Community.Display.V1.FormattedValue']).toBeUndefined();

    const missing = '00000000-0000-4000-8000-000000000001';
    const nf = await api().get(`contacts(${missing})`);
    expect(nf.status).toBe(404);
    expect(nf.json).toEqual({
      error: { code: '0x80040217', message: `contact With Id = ${missing} Does Not Exist` },
    });
  });

  it('refuses a bad filter syntax and an incompatible literal', async () => {
    const syntax = await api().get(`contacts?$filter=${encodeURIComponent('statecode eq')}`);
    expect(syntax.status).toBe(400);
    expect(syntax.json.error.message).toMatch(/^Syntax error at position/);
    const types = await api().get(`contacts?$filter=${encodeURIComponent("statecode eq 'x'")}`);
    expect(types.status).toBe(400);
    expect(types.json.error.message).toBe(
      "A binary operator with incompatible types was detected. Found operand types 'Edm.Int32' and 'Edm.String' for operator kind 'Equal'.",
    );
  });

  it('serves other tables with realistic columns', async () => {
    const users = await api().get('systemusers?$select=fullname,isdisabled,internalemailaddress');
    expect(users.json.value.some((u: { isdisabled: boolean }) => u.isdisabled)).toBe(true);
    const opp = await api().get('opportunities?$select=_customerid_value,statecode&$top=50', {
      Prefer: 'odata.include-annotations="*"',
    });
    const kinds = new Set(
      opp.json.value.map(
        (o: Record<string, unknown>) => o['_customerid_value@Microsoft.Dynamics.CRM.lookuplogicalname'],
      ),
    );
    expect([...kinds].sort()).toEqual(['account', 'contact']);
    const members = await api().get('teammemberships?$select=systemuserid,teamid');
    expect(members.json.value.length).toBeGreaterThan(0);
    const defs = await api().get(
      "EntityDefinitions(LogicalName='contact')?$select=ChangeTrackingEnabled,EntitySetName",
    );
    expect(defs.json).toMatchObject({ ChangeTrackingEnabled: true, EntitySetName: 'contacts' });
    expect(defs.json.LogicalName).toBeUndefined();
  });
});
