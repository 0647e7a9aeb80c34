import { startDataverseSimulator, type DataverseSimulator } from '../../local/dataverse/simulator.server';
import { apiCaller, getToken, startWithApi, type ApiCaller } from './dataverse-simulator.helpers';

const TRACK = { Prefer: 'odata.track-changes,odata.maxpagesize=100' };

/** Reads an initial tracking load to its end; returns rows and the deltaLink. */
const initialLoad = async (api: ApiCaller, first: string, between?: (page: number) => void) => {
  const rows: Record<string, unknown>[] = [];
  let url: string = first;
  let page = 0;
  for (;;) {
    const r = await api.get(url, TRACK);
    expect(r.status).toBe(200);
    rows.push(...r.json.value);
    if (r.json['@odata.nextLink']) {
      expect(r.json['@odata.deltaLink']).toBeUndefined();
      url = r.json['@odata.nextLink'];
      between?.(page++);
      continue;
    }
    return { rows, deltaLink: r.json['@odata.deltaLink'] as string };
  }
};

describe('dataverse simulator: change tracking', () => {
  let sim: DataverseSimulator;
  let api: ApiCaller;
  let clock = Date.UTC(2025, 2, 1);

  beforeAll(async () => {
    ({ sim, api } = await startWithApi({
      records: 300,
      seed: 11,
      now: () => clock,
      untrackedTables: ['task'],
      changeTrackingRetentionDays: 7,
    }));
  });
  afterAll(async () => {
    await sim.close();
  });

  it('initial load pages with nextLink, ends with a deltaLink that keeps $select', async () => {
    const r = await api.get('contacts?$select=firstname,lastname', TRACK);
    expect(r.headers.get('preference-applied')).toBe('odata.track-changes,odata.maxpagesize=100');
    const { rows, deltaLink } = await initialLoad(api, 'contacts?$select=firstname,lastname');
    expect(rows.length).toBe(sim.control.count('contact'));
    expect(deltaLink.startsWith(`${sim.apiUrl}contacts?$select=firstname,lastname&$deltatoken=`)).toBe(true);
  });

  it('delta: changed rows in version order, then tombstones in the exact shape; fresh deltaLink', async () => {
    const { deltaLink, rows } = await initialLoad(api, 'contacts?$select=firstname');
    const [a, b, c] = rows as { contactid: string }[];
    sim.control.updateRow('contact', (b as { contactid: string }).contactid, { firstname: 'B2' });
    sim.control.updateRow('contact', (a as { contactid: string }).contactid, { firstname: 'A2' });
    const created = sim.control.createRow('contact', { firstname: 'Fresh', lastname: 'Row' });
    sim.control.deleteRow('contact', (c as { contactid: string }).contactid);
    // Created and deleted after the token: still reported as a deletion, like the real service.
    const ghost = sim.control.createRow('contact', { lastname: 'Ghost' });
    sim.control.deleteRow('contact', ghost.contactid as string);

    const d = await api.get(deltaLink, TRACK);
    expect(d.status).toBe(200);
    expect(d.json['@odata.context']).toBe(`${sim.apiUrl}$metadata#contacts(firstname)/$delta`);
    const value = d.json.value as Record<string, unknown>[];
    expect(value.slice(0, 3).map((v) => v.contactid)).toEqual([
      b?.contactid,
      a?.contactid,
      created.contactid,
    ]);
    expect(value[1]).toMatchObject({ firstname: 'A2' });
    const versions = value.slice(0, 3).map((v) => Number(String(v['@odata.etag']).replace(/\D/g, '')));
    expect([...versions].sort((x, y) => x - y)).toEqual(versions);
    expect(value.slice(3)).toEqual([
      {
        '@odata.context': `${sim.apiUrl}$metadata#contacts/$deletedEntity`,
        id: c?.contactid,
        reason: 'deleted',
      },
      {
        '@odata.context': `${sim.apiUrl}$metadata#contacts/$deletedEntity`,
        id: ghost.contactid,
        reason: 'deleted',
      },
    ]);
    const next = d.json['@odata.deltaLink'] as string;
    expect(next).not.toBe(deltaLink);
    const empty = await api.get(next, TRACK);
    expect(empty.json.value).toEqual([]);
    expect(empty.json['@odata.deltaLink']).toBeDefined();
  });

  it('a delta answer pages with nextLink and ends with a deltaLink', async () => {
    const { deltaLink } = await initialLoad(api, 'accounts?$select=name');
    const ids = sim.control.listRows('account', { limit: 7 }).map((r) => r.accountid as string);
    for (const id of ids) sim.control.updateRow('account', id, { name: `Renamed ${id}` });
    const seen: string[] = [];
    let url: string | undefined = deltaLink;
    let last: Record<string, unknown> = {};
    let pages = 0;
    while (url) {
      const r = await api.get(url, { Prefer: 'odata.track-changes,odata.maxpagesize=3' });
      expect(r.json['@odata.context']).toMatch(/\/\$delta$/);
      seen.push(...r.json.value.map((v: { accountid: string }) => v.accountid));
      last = r.json;
      url = r.json['@odata.nextLink'];
      pages++;
    }
    expect(pages).toBe(3);
    expect(seen.sort()).toEqual([...ids].sort());
    expect(last['@odata.deltaLink']).toBeDefined();
  });

  it('$count with a deltatoken returns the number of changes as text/plain', async () => {
    const { deltaLink } = await initialLoad(api, 'leads?$select=subject');
    const token = new URL(deltaLink).searchParams.get('$deltatoken') as string;
    const lead = sim.control.listRows('lead').find((l) => l.statecode === 0) as Record<string, unknown>;
    sim.control.updateRow('lead', lead.leadid as string, { subject: 'counted' });
    sim.control.createRow('lead', { lastname: 'Counted' });
    const r = await api.get(`leads/$count?$deltatoken=${encodeURIComponent(token)}`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(r.text).toBe('2');
  });

  it.each(['$filter=statecode eq 0', '$orderby=fullname', '$top=5', '$expand=parentcustomerid_account'])(
    'refuses %s with tracking, exact message',
    async (q) => {
      const r = await api.get(`contacts?$select=fullname&${q}`, TRACK);
      const param = q.split('=')[0] as string;
      expect(r.status).toBe(400);
      expect(r.json).toEqual({
        error: {
          code: '0x80060888',
          message: `The "${param}" query parameter isn't supported when Change Tracking is enabled.`,
        },
      });
    },
  );

  it('untracked table answers 0x80072491', async () => {
    const r = await api.get('tasks?$select=subject', TRACK);
    expect(r.status).toBe(400);
    expect(r.json).toEqual({
      error: { code: '0x80072491', message: "Entity task isn't enabled for change tracking." },
    });
  });

  it('tokens older than the retention expire with 0x80044352', async () => {
    const { deltaLink } = await initialLoad(api, 'contacts?$select=firstname');
    clock += 6 * 86400_000;
    // The bearer token (1 h) has long expired too.
    expect((await api.get(deltaLink, TRACK)).status).toBe(401);
    api = apiCaller(sim, await getToken(sim));
    expect((await api.get(deltaLink, TRACK)).status).toBe(200);
    clock += 2 * 86400_000;
    api = apiCaller(sim, await getToken(sim));
    const r = await api.get(deltaLink, TRACK);
    expect(r.status).toBe(400);
    expect(r.json).toEqual({
      error: {
        code: '0x80044352',
        message: 'Version stamp associated with the client has expired. Please perform a full sync.',
      },
    });
  });

  it('expireDeltaTokens(table) forces expiry for that table only; new tokens work', async () => {
    api = apiCaller(sim, await getToken(sim));
    const contacts = await initialLoad(api, 'contacts?$select=firstname');
    const accounts = await initialLoad(api, 'accounts?$select=name');
    sim.control.expireDeltaTokens('contact');
    expect((await api.get(contacts.deltaLink, TRACK)).json.error.code).toBe('0x80044352');
    expect((await api.get(accounts.deltaLink, TRACK)).status).toBe(200);
    const again = await initialLoad(api, 'contacts?$select=firstname');
    expect((await api.get(again.deltaLink, TRACK)).status).toBe(200);
  });

  it("initialTokenAt 'end' misses edits behind the cursor during the load; 'start' does not", async () => {
    for (const mode of ['end', 'start'] as const) {
      const s = await startDataverseSimulator({ records: 250, seed: 5, initialTokenAt: mode });
      try {
        const a = apiCaller(s, await getToken(s));
        let edited = '';
        const { rows, deltaLink } = await initialLoad(a, 'contacts?$select=firstname', (page) => {
          if (page === 1) {
            edited = s.control.listRows('contact', { limit: 1 })[0]?.contactid as string;
            s.control.updateRow('contact', edited, { firstname: 'EditedDuringLoad' });
          }
        });
        expect(rows.find((r) => r.contactid === edited)?.firstname).not.toBe('EditedDuringLoad');
        const d = await a.get(deltaLink, TRACK);
        const ids = d.json.value.map((v: { contactid: string }) => v.contactid);
        if (mode === 'end') expect(ids).not.toContain(edited);
        else expect(ids).toContain(edited);
      } finally {
        await s.close();
      }
    }
  });

  it('merges and qualifications arrive through the delta feed as updates', async () => {
    const c = await initialLoad(api, 'contacts?$select=merged,_masterid_value,statecode');
    const active = sim.control.listRows('contact').filter((r) => r.statecode === 0 && r.merged === false);
    const [target, sub] = active as [Record<string, unknown>, Record<string, unknown>];
    sim.control.merge('contact', target.contactid as string, sub.contactid as string);
    const d = await api.get(c.deltaLink, TRACK);
    const row = d.json.value.find((v: { contactid: string }) => v.contactid === sub.contactid);
    expect(row).toMatchObject({ merged: true, _masterid_value: target.contactid, statecode: 1 });
  });
});
