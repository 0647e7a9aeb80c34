import type { GenericRecord, PersonRecord } from '../../shared/domain/record.model';
import { usePullStack } from './pull-stack.fixture';

type Row = Record<string, unknown>;
const synced = (row: Row) => row.new_synctomkto !== false;

describe('pull: initial load from the simulator into Cosmos', () => {
  const stack = usePullStack({ records: 60, seed: 5 });

  it('loads every entity exactly, then a second pull of unchanged data writes nothing', async () => {
    const rows = (table: string) => stack().sim.control.listRows(table) as Row[];
    const requestsBefore = stack().dataverse.governor.counters().requests;
    for (const entity of ['lead', 'contact', 'account', 'opportunity', 'systemuser', 'team']) {
      const result = await stack().pull(entity, { pageSize: 7 });
      expect(result).toMatchObject({ outcome: 'done', phase: 'delta' });
      expect(result.stats.invalid).toBe(0);
    }
    const requests = stack().dataverse.governor.counters().requests - requestsBefore;

    // One-way entities: every row that passes the filter, with its values.
    const accounts = (await stack().all('accounts')) as GenericRecord[];
    expect(accounts).toHaveLength(rows('account').filter(synced).length);
    for (const row of rows('account').filter(synced)) {
      const doc = accounts.find((d) => d.id === row.accountid);
      expect(doc?.values.name).toBe(row.name);
      expect(doc?.values.numberofemployees ?? null).toBe(row.numberofemployees ?? null);
      expect((doc?.values.industrycode as { value: number } | null)?.value ?? null).toBe(
        row.industrycode ?? null,
      );
      expect(doc?.dynamics).toMatchObject({ etag: row['@odata.etag'], versionnumber: row.versionnumber });
      if (row.merged === true) expect(doc?.sync.merged?.into).toBe(row._masterid_value);
    }
    const opportunities = (await stack().all('opportunities')) as GenericRecord[];
    expect(opportunities).toHaveLength(rows('opportunity').length);
    for (const row of rows('opportunity')) {
      const doc = opportunities.find((d) => d.id === row.opportunityid);
      expect(doc?.values.name).toBe(row.name);
      const customer = doc?.values.customerid as { id: string; table: string } | null;
      expect(customer?.id ?? null).toBe(row._customerid_value ?? null);
      if (customer)
        expect(customer.table).toBe(row['_customerid_value@Microsoft.Dynamics.CRM.lookuplogicalname']);
    }
    const directory = (await stack().all('directory')) as GenericRecord[];
    expect(directory.filter((d) => d.entity === 'systemuser')).toHaveLength(rows('systemuser').length);
    expect(directory.filter((d) => d.entity === 'team')).toHaveLength(rows('team').length);
    for (const row of rows('systemuser')) {
      expect(directory.find((d) => d.id === row.systemuserid)?.values.fullname).toBe(row.fullname);
    }

    // People: one person per synced lead and per synced contact, a qualified lead and its contact once.
    const leads = rows('lead').filter(synced);
    const contacts = rows('contact').filter(synced);
    const leadIds = new Set(leads.map((r) => r.leadid));
    const joined = new Set<unknown>();
    for (const c of contacts) {
      const origin = c._originatingleadid_value;
      if (origin && leadIds.has(origin) && !joined.has(origin)) joined.add(origin);
    }
    const people = (await stack().all('people')) as PersonRecord[];
    expect(people).toHaveLength(leads.length + contacts.length - joined.size);
    for (const row of contacts) {
      const doc = people.find((p) => p.dynamics.contactId === row.contactid);
      expect(doc).toMatchObject({
        type: 'contact',
        firstName: row.firstname,
        lastName: row.lastname,
        email: row.emailaddress1,
        jobTitle: row.jobtitle,
        phone: row.telephone1,
        ownerId: row._ownerid_value,
      });
      expect((doc?.status as { value: number }).value).toBe(row.statuscode);
      expect(doc?.sync.agreed.email).toBe(row.emailaddress1);
    }
    for (const row of leads) {
      const doc = people.find((p) => p.dynamics.leadId === row.leadid);
      expect(doc?.dynamics.lead?.etag).toBe(row['@odata.etag']);
      if (doc?.type === 'lead') {
        expect(doc).toMatchObject({
          firstName: row.firstname,
          company: row.companyname,
          email: row.emailaddress1,
        });
      }
    }
    // Filtered rows are not copied at all.
    for (const row of rows('contact').filter((r) => !synced(r))) {
      expect(people.find((p) => p.dynamics.contactId === row.contactid)).toBeUndefined();
    }
    const total = people.length + accounts.length + opportunities.length + directory.length;
    console.log(`initial load: ${total} records, ${requests} Dataverse requests (page size 7)`);

    // Nothing changed in Dynamics: a second pull (delta) writes nothing.
    for (const key of ['people', 'accounts', 'opportunities', 'directory'] as const)
      stack().records(key).written = 0;
    for (const entity of ['lead', 'contact', 'account', 'opportunity', 'systemuser', 'team']) {
      const again = await stack().pull(entity, { pageSize: 7 });
      expect(again.outcome).toBe('done');
    }
    const writes = ['people', 'accounts', 'opportunities', 'directory'].map(
      (key) => stack().records(key as 'people').written,
    );
    expect(writes).toEqual([0, 0, 0, 0]);
  });
});
