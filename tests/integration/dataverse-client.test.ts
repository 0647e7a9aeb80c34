import { startDataverseSimulator, type DataverseSimulator } from '../../local/dataverse/simulator.server';
import type { ChangePage } from '../../shared/sync/ports';
import { type BatchRequest, type DataverseConnection, eq, MsalTokenProvider } from '../../shared/dataverse';
import { rejectsWithDataverseError } from '../support/dataverse-error.expect';
import { connectToSimulator, simulatorAuth } from './dataverse-simulator.helpers';

const drain = async (pages: AsyncIterable<ChangePage>) => {
  const out: ChangePage[] = [];
  for await (const page of pages) out.push(page);
  return out;
};

jest.setTimeout(60_000);

/** A batch PATCH that matches any version of the row. */
const patchAny = (url: string, body: Record<string, unknown>): BatchRequest => ({
  method: 'PATCH',
  url,
  body,
  headers: { 'If-Match': '*' },
});
const missingContact = 'contacts(00000000-0000-4000-8000-000000000999)';

const contactSelect = ['contactid', 'fullname', 'emailaddress1', 'modifiedon', '_ownerid_value'];

describe('DataverseClient against the Dataverse simulator', () => {
  let sim: DataverseSimulator;
  let dv: DataverseConnection;

  beforeAll(async () => {
    sim = await startDataverseSimulator({ records: 230, seed: 11 });
    dv = connectToSimulator(sim, {
      governor: { baseDelayMs: 20, maxDelayMs: 200 },
      requestTimeoutMs: 10_000,
    });
  });

  afterAll(async () => {
    await sim.close();
  });

  it('gets a token through msal from the simulator and identifies the application user', async () => {
    const me = await dv.client.whoAmI();
    expect(me.UserId).toBe(sim.control.appUserId());
    const direct = new MsalTokenProvider(simulatorAuth(sim));
    const token = await direct.getToken();
    expect(token.length).toBeGreaterThan(10);
    await expect(direct.getToken()).resolves.toBe(token);
    await expect(direct.getToken({ forceRefresh: true })).resolves.not.toBe(token);
  });

  it('refreshes once after the simulator revokes its tokens', async () => {
    await dv.client.whoAmI();
    sim.control.revokeTokens();
    sim.control.resetCounters();
    await expect(dv.client.whoAmI()).resolves.toHaveProperty('UserId');
    expect(sim.control.counters().total.byStatus).toEqual({ '401': 1, '200': 1 });
  });

  it('reads the whole table through change tracking across pages, then a delta with edits and deletes', async () => {
    const total = sim.control.count('contact');
    const pages = await drain(
      dv.reader.readChanges({ entitySet: 'contacts', select: contactSelect, pageSize: 40 }),
    );
    expect(pages.length).toBe(Math.ceil(total / 40));
    const ids = pages.flatMap((p) => p.rows.map((r) => r['contactid'] as string));
    expect(new Set(ids).size).toBe(total);
    expect(pages.slice(0, -1).every((p) => p.nextLink && !p.deltaLink)).toBe(true);
    const last = pages[pages.length - 1];
    expect(last?.deltaLink).toMatch(/\$deltatoken=/);
    expect(pages[0]?.rows[0]?.['@odata.etag']).toMatch(/^W\/"\d+"$/);
    expect(pages[0]?.rows[0]?.['_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname']).toMatch(
      /systemuser|team/,
    );

    // Edits through our client (If-Match), a Dynamics-user edit, a create and deletes.
    const [a, b, c, d] = ids;
    if (!a || !b || !c || !d) throw new Error('seed too small');
    const rowA = (await dv.client.get(`contacts(${a})`, { $select: 'contactid' })) as Record<string, unknown>;
    await dv.client.update(
      'contacts',
      a,
      { jobtitle: 'Chief Sync Officer' },
      { etag: rowA['@odata.etag'] as string },
    );
    sim.control.updateRow('contact', b, { firstname: 'Edited' });
    const created = await dv.client.create('contacts', { firstname: 'New', lastname: 'Person' });
    await dv.client.delete('contacts', c);
    sim.control.deleteRow('contact', d);

    const delta = await drain(
      dv.reader.readChanges({
        entitySet: 'contacts',
        select: contactSelect,
        resumeLink: last?.deltaLink ?? '',
      }),
    );
    expect(delta.every((p) => p.isDelta)).toBe(true);
    const changed = delta.flatMap((p) => p.rows.map((r) => r['contactid']));
    expect(changed.sort()).toEqual([a, b, created.id].sort());
    expect(delta.flatMap((p) => p.deleted.map((x) => x.id)).sort()).toEqual([c, d].sort());
    expect(delta[delta.length - 1]?.deltaLink).toMatch(/\$deltatoken=/);

    // An optimistic-concurrency update with the old etag is refused.
    await expect(
      dv.client.update('contacts', a, { jobtitle: 'x' }, { etag: rowA['@odata.etag'] as string }),
    ).rejects.toMatchObject({ code: 'precondition_failed', dataverseCode: '0x80060882' });

    // Expired token.
    sim.control.expireDeltaTokens('contact');
    await expect(
      drain(
        dv.reader.readChanges({
          entitySet: 'contacts',
          select: contactSelect,
          resumeLink: delta[delta.length - 1]?.deltaLink ?? '',
        }),
      ),
    ).rejects.toMatchObject({ code: 'change_tracking_expired', retryable: false });
  });

  it('maps unknown columns, missing rows, untracked tables and tracking refusals', async () => {
    await rejectsWithDataverseError(dv.client.get('contacts', { $select: 'fullname,new_gone' }), {
      code: 'unknown_column',
      column: 'new_gone',
      entity: 'contact',
      status: 400,
    });
    await expect(dv.client.get('contacts(00000000-0000-4000-8000-000000000999)')).rejects.toMatchObject({
      code: 'not_found',
      dataverseCode: '0x80040217',
    });
    await expect(
      dv.client.createWithId(
        'contacts',
        sim.control.listRows('contact', { limit: 1 })[0]?.['contactid'] as string,
        {
          lastname: 'dup',
        },
      ),
    ).rejects.toMatchObject({ code: 'already_exists' });
    sim.control.setChangeTracking('account', false);
    try {
      await expect(
        drain(dv.reader.readChanges({ entitySet: 'accounts', select: ['name'] })),
      ).rejects.toMatchObject({
        code: 'change_tracking_disabled',
        dataverseCode: '0x80072491',
      });
    } finally {
      sim.control.setChangeTracking('account', true);
    }
    await expect(
      dv.client.get(
        'contacts',
        { $select: 'fullname', $filter: eq('statecode', 0) },
        { prefer: ['odata.track-changes'] },
      ),
    ).rejects.toMatchObject({ code: 'validation', status: 400 });
  });

  it('runs the catch-up query for rows modified since a moment', async () => {
    const since = new Date(sim.control.now() - 1);
    const someone = sim.control.listRows('contact', { limit: 3 })[2]?.['contactid'] as string;
    sim.control.updateRow('contact', someone, { jobtitle: 'Touched' });
    const rows = [];
    for await (const page of dv.reader.queryModifiedSince({
      entitySet: 'contacts',
      select: ['contactid', 'jobtitle'],
      since,
      pageSize: 10,
      keyColumn: 'contactid',
    })) {
      rows.push(...page.rows);
    }
    expect(rows.map((r) => r['contactid'])).toContain(someone);
    expect(rows.every((r) => Date.parse(r['modifiedon'] as string) >= since.getTime() - 1000)).toBe(true);
  });

  it('executes a $batch with a changeset and a continue-on-error batch', async () => {
    const target = sim.control.listRows('contact', { limit: 5 })[4]?.['contactid'] as string;
    const results = await dv.client.executeBatch([
      { method: 'GET', url: `contacts(${target})?$select=fullname` },
      {
        changeset: [
          { method: 'POST', url: 'contacts', body: { firstname: 'Batch', lastname: 'One' } },
          patchAny(`contacts(${target})`, { jobtitle: 'Batched' }),
        ],
      },
    ]);
    expect(results.map((r) => r.status)).toEqual([200, 204, 204]);
    expect((results[0]?.body as Record<string, unknown>)['fullname']).toBeDefined();
    expect(results[1]?.headers['odata-entityid']).toMatch(/contacts\(/);
    expect(sim.control.getRow('contact', target)?.['jobtitle']).toBe('Batched');

    const before = sim.control.count('contact');
    const atomic = await dv.client.executeBatch(
      [
        { method: 'POST', url: 'contacts', body: { lastname: 'rolled back' } },
        patchAny(missingContact, { a: 1 }),
      ],
      { changesets: 'single' },
    );
    expect(atomic.every((r) => !r.ok)).toBe(true);
    expect(sim.control.count('contact')).toBe(before);

    const mixed = await dv.client.executeBatch(
      [patchAny(missingContact, { a: 1 }), patchAny(`contacts(${target})`, { jobtitle: 'Again' })],
      { continueOnError: true },
    );
    expect(mixed.map((r) => [r.status, r.executed])).toEqual([
      [404, true],
      [204, true],
    ]);
    expect(sim.control.getRow('contact', target)?.['jobtitle']).toBe('Again');

    const stopped = await dv.client.executeBatch([
      patchAny(missingContact, { a: 1 }),
      patchAny(`contacts(${target})`, { jobtitle: 'Never' }),
    ]);
    expect(stopped.map((r) => [r.status, r.executed])).toEqual([
      [404, true],
      [0, false],
    ]);
    expect(sim.control.getRow('contact', target)?.['jobtitle']).toBe('Again');
  });

  it('retries injected 503s and connection resets', async () => {
    sim.control.resetCounters();
    sim.control.failNext({ count: 2, status: 503, pathPattern: 'WhoAmI' });
    sim.control.failNext({ count: 1, status: 'reset', pathPattern: 'WhoAmI' });
    await expect(dv.client.whoAmI()).resolves.toHaveProperty('UserId');
    expect(dv.governor.counters().retries).toBeGreaterThanOrEqual(3);
    expect(sim.control.counters().total.byStatus['503']).toBe(2);
  });
});

describe('429 storm against a simulator with low limits', () => {
  let sim: DataverseSimulator;

  beforeEach(async () => {
    sim = await startDataverseSimulator({
      records: 300,
      seed: 5,
      limits: { requestsPerWindow: 20, windowSeconds: 1, retryAfterSeconds: 1, maxRetryAfterSeconds: 2 },
    });
  });

  afterEach(async () => {
    await sim.close();
  });

  const tables: [string, string, string][] = [
    ['contacts', 'contact', 'contactid'],
    ['leads', 'lead', 'leadid'],
    ['accounts', 'account', 'accountid'],
    ['opportunities', 'opportunity', 'opportunityid'],
  ];

  /** Reads four tables and 20 single rows at once through one governor; records what went on the wire. */
  const storm = async (cap: number, latencyMs?: [number, number]) => {
    const wire: { sentAt: number; status?: number; receivedAt?: number; retryAfterMs?: number }[] = [];
    const tracingFetch = async (input: string, init: RequestInit) => {
      const entry: (typeof wire)[number] = { sentAt: Date.now() };
      wire.push(entry);
      const response = await fetch(input, init);
      entry.status = response.status;
      entry.receivedAt = Date.now();
      const retryAfter = response.headers.get('retry-after');
      if (retryAfter) entry.retryAfterMs = Number(retryAfter) * 1000;
      return response;
    };
    const dv = connectToSimulator(sim, {
      governor: { maxConcurrency: cap, retryAfterMarginMs: 20 },
      fetch: tracingFetch,
    });
    await dv.client.whoAmI();
    // Latency keeps requests in flight at the simulator, so its own maxInFlight measures our cap.
    if (latencyMs) sim.control.setFaults({ latencyMs });
    sim.control.resetCounters();
    wire.length = 0;
    const started = Date.now();
    const reads = tables.map(async ([set, , key]) => {
      const pages = await drain(dv.reader.readChanges({ entitySet: set, select: [key], pageSize: 20 }));
      return new Set(pages.flatMap((p) => p.rows.map((r) => r[key] as string)));
    });
    const someIds = sim.control.listRows('contact', { limit: 20 }).map((r) => r['contactid'] as string);
    const points = someIds.map((id) => dv.client.get(`contacts(${id})`, { $select: 'fullname' }));
    const [sets] = await Promise.all([Promise.all(reads), Promise.all(points)]);
    const elapsed = Date.now() - started;
    const sim429 = sim.control.counters().total;
    console.log(
      `429 storm cap ${cap}: ${sim429.requests} requests, ${sim429.throttled} throttled, ${sim429.retryAfterViolations} sim-counted violations, client maxInFlight ${dv.governor.counters().maxInFlight}, ${elapsed} ms`,
    );
    return { sets, wire, counters: sim429, ours: dv.governor.counters() };
  };

  it('sequential client (cap 1): all data, zero Retry-After violations in the simulator counters', async () => {
    const { sets, counters, ours } = await storm(1);
    tables.forEach(([, table], i) => expect(sets[i]?.size).toBe(sim.control.count(table)));
    expect(counters.throttled).toBeGreaterThan(0);
    expect(counters.retryAfterViolations).toBe(0);
    expect(ours.maxInFlight).toBe(1);
  });

  it('concurrent client (cap 4): all data, in flight <= cap, zero Retry-After violations', async () => {
    const cap = 4;
    const { sets, wire, counters, ours } = await storm(cap, [2, 8]);
    tables.forEach(([, table], i) => expect(sets[i]?.size).toBe(sim.control.count(table)));
    expect(counters.throttled).toBeGreaterThan(0);
    expect(ours.throttled).toBe(counters.throttled);
    expect(ours.maxInFlight).toBeLessThanOrEqual(cap);
    expect(counters.maxInFlight).toBeLessThanOrEqual(cap);
    expect(counters.maxInFlight).toBeGreaterThan(1);
    // The client's own invariant: once a 429 has reached it, nothing goes out before that 429's deadline.
    const throttles = wire.filter(
      (w) => w.status === 429 && w.receivedAt !== undefined && w.retryAfterMs !== undefined,
    );
    for (const t of throttles) {
      const deadline = (t.receivedAt ?? 0) + (t.retryAfterMs ?? 0);
      const early = wire.filter((w) => w !== t && w.sentAt > (t.receivedAt ?? 0) && w.sentAt < deadline);
      expect(early).toEqual([]);
    }
    // The simulator does not count requests that were already on the wire when it issued a 429.
    expect(counters.retryAfterViolations).toBe(0);
  });
});
